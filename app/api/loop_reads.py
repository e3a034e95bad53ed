"""Short reads made on the event loop, on a connection of the server's own.

Some reads take less time than handing them to a worker thread does: the data version the
response cache checks on every request, and a record's stored document (one primary-key read).
They run here, on the event loop's thread, one statement each, so each sees one committed state
of the data without a transaction around it:
- SQLite: one connection of its own (outside the engine's pool), in autocommit (each statement
  reads the latest commit), that never waits for a lock: a file locked by another process
  would stall the whole loop, so a busy read fails at once and the endpoint, in its thread,
  waits for the lock instead;
- PostgreSQL: one psycopg AsyncConnection in autocommit, awaited on the loop: no thread hop, no
  pool checkout, no pre-ping. Its statements are queued on it, one round trip each, so it does
  not wait for locks either (`lock_timeout` of 1 ms: a table locked by a migration would hold
  every read queued behind the one waiting); such a read goes to the endpoint as on SQLite.

A failed read raises (and a broken connection is dropped: the next read opens a new one); the
caller then lets the endpoint answer, which waits for the lock, or says the database is
unavailable, as usual.
"""

import sqlite3
from typing import Any

import psycopg
import sqlalchemy as sa

from app.db import CONNECT_TIMEOUT_S

STATEMENT_TIMEOUT_MS = 1000  # each read is one short statement; a slow one is a sick database
UNREADABLE = (sa.exc.DBAPIError, sqlite3.Error, psycopg.Error, OSError)
"""Errors of a read on the loop: the database is down or unreadable."""


class LoopReads:
    """The connection for reads on the event loop, opened on first use."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.sqlite: Any = None
        self.postgresql: psycopg.AsyncConnection[Any] | None = None

    async def fetchone(self, statement: "Statement", **values: Any) -> tuple[Any, ...] | None:
        """The first row of `statement` with `values` for its parameters."""
        sql, parameters = statement.bound(values)
        if self.dialect.name == "sqlite":
            row = self._sqlite_fetchone(sql, parameters)
        else:
            row = await self._postgresql_fetchone(sql, parameters)
        return None if row is None else statement.converted(row)

    def _sqlite_fetchone(self, sql: str, parameters: Any) -> tuple[Any, ...] | None:
        if self.sqlite is None:
            (database, *_), options = self.dialect.create_connect_args(self.engine.url)
            self.sqlite = sqlite3.connect(
                database,
                timeout=0,
                isolation_level=None,
                check_same_thread=False,
                uri=bool(options.get("uri")),
            )
        try:
            row = self.sqlite.execute(sql, parameters).fetchone()
        except sqlite3.Error:
            broken, self.sqlite = self.sqlite, None
            broken.close()
            raise
        return None if row is None else tuple(row)

    async def _postgresql_fetchone(self, sql: str, parameters: Any) -> tuple[Any, ...] | None:
        if self.postgresql is None:
            url = self.engine.url.set(drivername="postgresql")
            self.postgresql = await psycopg.AsyncConnection.connect(
                url.render_as_string(hide_password=False),
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                options=f"-c lock_timeout=1 -c statement_timeout={STATEMENT_TIMEOUT_MS} "
                "-c default_transaction_read_only=on",
            )
        connection = self.postgresql
        try:
            cursor = await connection.execute(sql, parameters)
            row = await cursor.fetchone()
        except psycopg.Error:
            if connection.closed or connection.broken:
                self.postgresql = None
                await connection.close()
            raise
        return None if row is None else tuple(row)

    async def close(self) -> None:
        if self.sqlite is not None:
            connection, self.sqlite = self.sqlite, None
            connection.close()
        if self.postgresql is not None:
            connection, self.postgresql = self.postgresql, None
            await connection.close()


class Statement:
    """A SQLAlchemy statement compiled once for one dialect, run with raw driver parameters;
    its result columns converted as SQLAlchemy would (dates from SQLite's text, for example)."""

    def __init__(self, query: sa.Select[Any], dialect: sa.Dialect) -> None:
        compiled = query.compile(dialect=dialect)
        self.sql = compiled.string
        self.compiled = compiled
        self.positional = dialect.positional
        self.converters = [
            column.type._cached_result_processor(dialect, None) for column in query.selected_columns
        ]

    def bound(self, values: dict[str, Any]) -> tuple[str, Any]:
        parameters = self.compiled.construct_params(values)
        if self.positional:
            return self.sql, [parameters[name] for name in self.compiled.positiontup or ()]
        return self.sql, parameters

    def converted(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            value if convert is None else convert(value)
            for value, convert in zip(row, self.converters, strict=True)
        )
