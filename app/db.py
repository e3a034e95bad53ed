"""Engines and sessions for SQLite (the embedded default) and PostgreSQL."""

import contextlib
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 5000


def is_sqlite(url: str | sa.URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str | sa.URL, **kwargs: Any) -> sa.Engine:
    """An engine with the settings this project relies on, on either database.

    SQLite gets foreign keys enforced (off by default), WAL so readers never block the loader,
    and a busy timeout; its file's folder is created so a fresh clone works.
    """
    url = make_url(url)
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True, **kwargs)

    if url.database and url.database != ":memory:":
        # An impossible folder is not an error here: connecting will say so, in the same way
        # as for any other database that cannot be opened.
        with contextlib.suppress(OSError):
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite opens transactions lazily and hides BEGIN; take control so the loader can
        # say BEGIN IMMEDIATE and hold the write lock for the whole load.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine
