"""Engines for SQLite (the embedded default) and PostgreSQL.

Writers (`scn load`, `scn db`, `scn mirror`) use `create_engine(url)`. The API uses
`create_engine(url, read_only=True, statement_timeout=...)`: it opens SQLite read-only, asks
PostgreSQL for read-only transactions, gives up connecting after a few seconds, and bounds every
statement's time (PostgreSQL's `statement_timeout`; SQLite's progress handler, which checks the
deadline `set_deadline` gave the connection). The API's pool is bounded (`pool_size`,
`max_overflow`, `pool_timeout`): a request that finds every connection busy waits at most
`pool_timeout`, then SQLAlchemy raises `sqlalchemy.exc.TimeoutError` (answered 503).

`replica_status` says whether a PostgreSQL connection reads a streaming standby, and how far
behind its primary it is.
"""

import contextlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 5000
CONNECT_TIMEOUT_S = 3
SQLITE_PROGRESS_STEPS = 1_000  # virtual machine instructions between deadline checks

logger = logging.getLogger("app.db")

DEADLINE = "deadline"  # key in a SQLite connection's `info`: when its statements are stopped


def is_sqlite(url: str | sa.URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


@dataclass(frozen=True)
class PoolLimits:
    """At most `size + overflow` connections; a checkout waits at most `timeout` seconds."""

    size: int
    overflow: int
    timeout: float


def create_engine(
    url: str | sa.URL,
    *,
    read_only: bool = False,
    statement_timeout: float | None = None,
    pool: PoolLimits | None = None,
    sqlite_mmap_mb: int = 0,
    **kwargs: Any,
) -> sa.Engine:
    """An engine with the settings this project relies on, on either database."""
    url = make_url(url)
    if pool is not None and url.database not in (None, "", ":memory:"):
        # (An in-memory SQLite database has one connection per thread: nothing to bound.)
        kwargs |= {
            "pool_size": pool.size,
            "max_overflow": pool.overflow,
            "pool_timeout": pool.timeout,
        }
    # Texts are stored as JSON language maps: keep them readable UTF-8, as the seeds are.
    kwargs.setdefault("json_serializer", _json_dumps)
    # orjson reads the same values as the json module, several times faster: every record
    # rendered reads its language maps.
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.get_backend_name() != "sqlite":
        return _postgresql_engine(url, read_only, statement_timeout, **kwargs)
    return _sqlite_engine(url, read_only, sqlite_mmap_mb, **kwargs)


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _postgresql_engine(
    url: sa.URL, read_only: bool, statement_timeout: float | None, **kwargs: Any
) -> sa.Engine:
    options = []
    if statement_timeout is not None:
        # At least 1 ms: 0 would mean no limit at all.
        options.append(f"-c statement_timeout={max(1, int(statement_timeout * 1000))}")
    if read_only:
        options.append("-c default_transaction_read_only=on")
    connect_args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S}
    if options:
        connect_args["options"] = " ".join(options)
    kwargs.setdefault("pool_pre_ping", True)
    engine = sa.create_engine(url, connect_args=connect_args, **kwargs)

    @sa.event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection: Any, _record: Any) -> None:
        # After a `postgresql_readonly` transaction SQLAlchemy sets psycopg's `read_only` to
        # False, and psycopg then begins every later transaction READ WRITE, which a hot
        # standby refuses. Give the access mode back to the session's default.
        if dbapi_connection is not None:
            dbapi_connection.read_only = None

    return engine


def mmap_pragma(megabytes: int) -> str:
    """The pragma that has SQLite read the first `megabytes` of the file through a memory map
    (SQLITE_MMAP_MB: no read() call and no copy into each pooled connection's page cache; the
    trade-offs are in docs/OPERATIONS.md)."""
    return f"PRAGMA mmap_size = {megabytes * 1024 * 1024}"


def _is_sqlite_uri(url: sa.URL) -> bool:
    """`sqlite:///file:PATH?mode=ro&uri=true`: the database part is a SQLite URI, not a path."""
    return str(url.query.get("uri", "")).lower() in ("true", "1")


def _sqlite_engine(url: sa.URL, read_only: bool, mmap_mb: int, **kwargs: Any) -> sa.Engine:
    path = url.database
    if _is_sqlite_uri(url):
        # The caller wrote the URI, options and all; it names no folder to create (taken as a
        # path, "file:/tmp/x" would make a folder named "file:" in the working directory).
        if read_only and "mode" not in url.query:
            url = url.update_query_dict({"mode": "ro"})
    elif read_only and path and path != ":memory:":
        # mode=ro: the API can never write, and a missing file is an error, not a new database.
        url = url.set(database=f"file:{Path(path).resolve()}?mode=ro", query={"uri": "true"})
    elif path and path != ":memory:":
        # An impossible folder is not an error here: connecting will say so, in the same way
        # as for any other database that cannot be opened.
        with contextlib.suppress(OSError):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite opens transactions lazily and hides BEGIN; take control so the loader can
        # say BEGIN IMMEDIATE and hold the write lock for the whole load.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        if not read_only:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if mmap_mb:
            cursor.execute(mmap_pragma(mmap_mb))
        cursor.close()
        # The deadline lives with the connection (its pool record), so it follows the
        # connection from thread to thread, whichever thread runs the statement.
        _record.info[DEADLINE] = stop_at_deadline(dbapi_connection)

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def read_transaction(engine: sa.Engine) -> sa.Connection:
    """A connection inside one read transaction, so every query on it sees one snapshot
    (PostgreSQL: REPEATABLE READ, read only; SQLite: one WAL read transaction). Close it to end."""
    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        connection = connection.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
    connection.begin()
    return connection


def close_read(connection: sa.Connection) -> None:
    """Close a connection that only read (`read_transaction`), even if its database is gone.

    Closing ends the transaction with a ROLLBACK, which fails on a connection the server has
    already dropped (a restart, a failover, an administrator). The connection is returned to the
    pool all the same, which checks it before it is used again, and a read-only transaction
    leaves nothing to undo: the failure is logged, not raised. Raising would break a body
    already sent whole, or, where a streamed body is closed by the garbage collector, reach no
    one but the process's stderr."""
    try:
        connection.close()
    except sa.exc.DBAPIError as error:
        logger.warning("closing a read: the database connection was already gone (%s)", error.orig)


def stop_at_deadline(
    dbapi_connection: Any, holder: list[float | None] | None = None
) -> list[float | None]:
    """Have a sqlite3 connection stop its statements once the time in `holder` (a new one if
    not given; returned) has passed: a `time.monotonic()` value, or None for no limit."""
    holder = [None] if holder is None else holder
    dbapi_connection.set_progress_handler(
        lambda: 1 if holder[0] is not None and time.monotonic() > holder[0] else 0,
        SQLITE_PROGRESS_STEPS,
    )
    return holder


def set_deadline(connection: sa.Connection, seconds: float | None) -> None:
    """Stop this connection's SQLite statements once `seconds` from now have passed (None: no
    limit). PostgreSQL connections are bounded by `statement_timeout` instead."""
    holder = connection.info.get(DEADLINE)
    if holder is not None:
        holder[0] = None if seconds is None else time.monotonic() + seconds


def is_timeout(error: BaseException) -> bool:
    """The statement was stopped for taking too long (either engine)."""
    orig = getattr(error, "orig", error)
    name = type(orig).__name__
    return name == "QueryCanceled" or (name == "OperationalError" and "interrupted" in str(orig))


def in_recovery(connection: sa.Connection) -> bool:
    """The connection reads a PostgreSQL standby (a replica replaying its primary's WAL)."""
    if connection.dialect.name != "postgresql":
        return False
    return bool(connection.exec_driver_sql("SELECT pg_is_in_recovery()").scalar())


@dataclass(frozen=True)
class ReplicaStatus:
    """How far a standby is behind its primary, as far as the standby can tell.

    `lag_bytes`: WAL received but not yet replayed. `lag_seconds`: 0 when the standby streams
    from its primary and has replayed all it received (an idle primary sends nothing, so an old
    last-replayed commit is no lag); otherwise the age of the last replayed commit, an upper
    bound on how stale its data is (None: nothing replayed since it started, so unknown).
    `streaming`: a WAL receiver is connected to the primary.
    """

    streaming: bool
    lag_seconds: float | None
    lag_bytes: int | None


REPLICA_STATUS_SQL = """
SELECT
    EXISTS (SELECT 1 FROM pg_stat_wal_receiver) AS streaming,
    pg_last_wal_receive_lsn() IS NOT NULL
        AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() AS caught_up,
    extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) AS replay_age,
    pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) AS lag_bytes
"""


def replica_status(connection: sa.Connection) -> ReplicaStatus | None:
    """None on a primary (or SQLite); else the standby's lag (`ReplicaStatus`)."""
    if not in_recovery(connection):
        return None
    row = connection.exec_driver_sql(REPLICA_STATUS_SQL).one()
    streaming, caught_up, replay_age, lag_bytes = row
    if streaming and caught_up:
        lag_seconds: float | None = 0.0
    else:
        lag_seconds = None if replay_age is None else max(0.0, round(float(replay_age), 3))
    return ReplicaStatus(
        streaming=bool(streaming),
        lag_seconds=lag_seconds,
        lag_bytes=None if lag_bytes is None else int(lag_bytes),
    )
