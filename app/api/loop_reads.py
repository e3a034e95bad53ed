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

Reads that touch many pages (a list page, a page of the change feed) go through `fetchall_page`:
- PostgreSQL: a pooled connection in a worker thread, since a read waiting for the disk would
  hold up every read queued on the loop's connection (a first run at a million records, with
  the data out of the cache, answered cold list pages at 41 rps that way);
- SQLite: on the loop's connection while such reads are quick (the data is in memory: handing
  a 1 ms read to a thread cost more than the read, and cold change-feed pages at a million
  records went from 216 to 604 rps on the loop), with the page's deadline; after one that took
  longer than SLOW_PAGE_READ_S (it waited for the disk, or for the CPU), in worker threads for
  BESIDE_FOR_S, where reads wait for the disk side by side instead of holding up the loop.

A failed read raises (and a broken connection is dropped: the next read opens a new one); the
caller then lets the endpoint answer, which waits for the lock, or says the database is
unavailable, as usual.
"""

import sqlite3
import time
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from anyio import to_thread

from app.db import (
    CONNECT_TIMEOUT_S,
    PoolLimits,
    create_engine,
    mmap_pragma,
    set_deadline,
    stop_at_deadline,
)

if TYPE_CHECKING:
    import psycopg

SLOW_PAGE_READ_S = 0.02  # a SQLite page read on the loop slower than this: the next go beside
BESIDE_FOR_S = 10.0  # for this long; then one page read on the loop tries again
STATEMENT_TIMEOUT_MS = 1000  # each read is one short statement; a slow one is a sick database
PAGE_POOL_WAIT_S = 0.05  # for a connection of the page pool (PostgreSQL), before the endpoint's


class Unreadable(Exception):
    """A read on the loop failed: the database is down, locked or unreadable (the driver's
    error is its cause)."""


UNREADABLE = (Unreadable, OSError)
"""Errors of a read: the database is down or unreadable, or the read was long."""


class LoopReads:
    """The connection for reads on the event loop, opened on first use."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        request_timeout: float = 5.0,
        sqlite_mmap_mb: int = 0,
        pool: PoolLimits,
    ) -> None:
        self.engine = engine
        # A page read stops at 1 s (then the endpoint has the request's whole deadline), or at
        # REQUEST_TIMEOUT if that is shorter: no request's database work outlasts it.
        self.page_timeout = min(STATEMENT_TIMEOUT_MS / 1000, request_timeout)
        self.pages = engine
        if engine.dialect.name != "sqlite":
            # PostgreSQL pages come from a pool of their own whose connections already have the
            # page's timeout, read in autocommit and are not pinged when taken: one round trip
            # a page, where the endpoints' pool took five (ping, BEGIN, SET LOCAL, the page,
            # ROLLBACK), 0.7 ms of a 6 ms page. A connection the server dropped fails its read,
            # which the endpoint then answers on its own pool, as after any failed read. The
            # pool keeps DB_POOL_SIZE connections and opens no more: when all are busy, a page
            # waits PAGE_POOL_WAIT_S at most, then goes to the endpoint too.
            self.pages = create_engine(
                engine.url,
                read_only=True,
                statement_timeout=self.page_timeout,
                pool=PoolLimits(pool.size, 0, PAGE_POOL_WAIT_S),
                pool_pre_ping=False,
                isolation_level="AUTOCOMMIT",
            )
        self.sqlite_mmap_mb = sqlite_mmap_mb
        self.dialect = engine.dialect
        self.sqlite: Any = None
        self.sqlite_deadline: list[float | None] = [None]  # the loop connection's page deadline
        self.beside_until = 0.0  # SQLite page reads go to worker threads until then (monotonic)
        self.postgresql: psycopg.AsyncConnection[Any] | None = None

    async def fetchone(self, statement: "Statement", **values: Any) -> tuple[Any, ...] | None:
        """The first row of `statement` with `values` for its parameters."""
        rows = await self._rows(statement, values)
        return rows[0] if rows else None

    async def fetchall_page(self, statement: "Statement", **values: Any) -> list[tuple[Any, ...]]:
        """Every row of `statement`, for a read that touches many pages (a list page, a page of
        the change feed): on SQLite, on the loop while such reads are quick, else (and on
        PostgreSQL) in a worker thread, on a connection of the pool (the module's docstring
        says why)."""
        sql, parameters = statement.bound(values)
        if self.dialect.name == "sqlite" and time.monotonic() >= self.beside_until:
            started = time.monotonic()
            try:
                self.sqlite_deadline[0] = started + self.page_timeout
                rows = self._sqlite_rows(sql, parameters, many=True)
            finally:
                self.sqlite_deadline[0] = None
                if time.monotonic() - started > SLOW_PAGE_READ_S:
                    self.beside_until = time.monotonic() + BESIDE_FOR_S
        else:
            rows = await to_thread.run_sync(self._pooled_rows, sql, parameters)
        return statement.converted_rows(rows)

    def _pooled_rows(self, sql: str, parameters: Any) -> list[Any]:
        try:
            with self.pages.connect() as connection:
                # A list would be taken for several parameter sets: one set is a tuple.
                one = parameters if isinstance(parameters, dict) else tuple(parameters)
                if self.dialect.name != "sqlite":
                    return list(connection.exec_driver_sql(sql, one).fetchall())
                set_deadline(connection, self.page_timeout)
                try:
                    return list(connection.exec_driver_sql(sql, one).fetchall())
                finally:
                    set_deadline(connection, None)
        except (sa.exc.DBAPIError, sa.exc.TimeoutError) as error:
            raise Unreadable from error

    async def _rows(self, statement: "Statement", values: dict[str, Any]) -> list[tuple[Any, ...]]:
        sql, parameters = statement.bound(values)
        if self.dialect.name == "sqlite":
            rows = self._sqlite_rows(sql, parameters, many=False)
        else:
            rows = await self._postgresql_rows(sql, parameters, many=False)
        return statement.converted_rows(rows)

    def _sqlite_rows(self, sql: str, parameters: Any, many: bool) -> list[Any]:
        if self.sqlite is None:
            try:
                self.sqlite = self._sqlite_connect()
            except sqlite3.Error as error:
                raise Unreadable from error
        try:
            cursor = self.sqlite.execute(sql, parameters)
            if many:
                return cursor.fetchall()
            row = cursor.fetchone()
            return [] if row is None else [row]
        except sqlite3.Error as error:
            self._drop_sqlite()
            raise Unreadable from error

    def _sqlite_connect(self) -> sqlite3.Connection:
        (database, *_), options = self.dialect.create_connect_args(self.engine.url)
        connection = sqlite3.connect(
            database,
            timeout=0,
            isolation_level=None,
            check_same_thread=False,
            uri=bool(options.get("uri")),
        )
        if self.sqlite_mmap_mb:
            connection.execute(mmap_pragma(self.sqlite_mmap_mb))
        stop_at_deadline(connection, self.sqlite_deadline)
        return connection

    def _drop_sqlite(self) -> None:
        broken, self.sqlite = self.sqlite, None
        if broken is not None:
            broken.close()

    async def _postgresql_rows(self, sql: str, parameters: Any, many: bool) -> list[Any]:
        import psycopg  # here: a server on SQLite never loads the PostgreSQL driver

        if self.postgresql is None:
            url = self.engine.url.set(drivername="postgresql")
            try:
                self.postgresql = await psycopg.AsyncConnection.connect(
                    url.render_as_string(hide_password=False),
                    autocommit=True,
                    connect_timeout=CONNECT_TIMEOUT_S,
                    options=f"-c lock_timeout=1 -c statement_timeout={STATEMENT_TIMEOUT_MS} "
                    "-c default_transaction_read_only=on",
                )
            except psycopg.Error as error:
                raise Unreadable from error
        connection = self.postgresql
        try:
            cursor = await connection.execute(sql, parameters)
            if many:
                return await cursor.fetchall()
            row = await cursor.fetchone()
            return [] if row is None else [row]
        except psycopg.Error as error:
            if connection.closed or connection.broken:
                self.postgresql = None
                await connection.close()
            raise Unreadable from error

    async def close(self) -> None:
        if self.sqlite is not None:
            connection, self.sqlite = self.sqlite, None
            connection.close()
        if self.postgresql is not None:
            connection, self.postgresql = self.postgresql, None
            await connection.close()
        if self.pages is not self.engine:
            self.pages.dispose()


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
        self.converting = [(i, c) for i, c in enumerate(self.converters) if c is not None]

    def bound(self, values: dict[str, Any]) -> tuple[str, Any]:
        parameters = self.compiled.construct_params(values)
        if self.positional:
            return self.sql, [parameters[name] for name in self.compiled.positiontup or ()]
        return self.sql, parameters

    def converted_rows(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """`rows` with their columns converted. A value met before in the same column is
        converted once: every row of a page carries the data set's load time, and the changes
        of one load their time (parsing a date was a seventh of a list page's Python)."""
        if not self.converting:
            return [tuple(row) for row in rows]
        done: dict[tuple[int, Any], Any] = {}
        out = []
        for row in rows:
            values = list(row)
            for index, convert in self.converting:
                raw = values[index]
                try:
                    values[index] = done[index, raw]
                except KeyError:
                    values[index] = done[index, raw] = convert(raw)
                except TypeError:  # a value that cannot be a key (a list, a dict)
                    values[index] = convert(raw)
            out.append(tuple(values))
        return out
