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
- PostgreSQL: awaited on the loop too, each on an AsyncConnection of a pool of its own (up to
  DB_POOL_SIZE, opened as needed, kept open), so that a read waiting for the disk holds up no
  other (on the one loop connection, a first run at a million records with the data out of the
  cache answered cold list pages at 41 rps); when all are busy a page waits PAGE_POOL_WAIT_S
  at most, then goes to the endpoint;
- SQLite: on the loop's connection while such reads are quick (the data is in memory: handing
  a 1 ms read to a thread cost more than the read, and cold change-feed pages at a million
  records went from 216 to 604 rps on the loop), with the page's deadline; after one that took
  longer than SLOW_PAGE_READ_S (it waited for the disk, or for the CPU), in worker threads for
  BESIDE_FOR_S, where reads wait for the disk side by side instead of holding up the loop.

A failed read raises (and a broken connection is dropped: the next read opens a new one); the
caller then lets the endpoint answer, which waits for the lock, or says the database is
unavailable, as usual.
"""

import asyncio
import sqlite3
import time
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from anyio import to_thread

from app.db import (
    CONNECT_TIMEOUT_S,
    PoolLimits,
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
        # PostgreSQL pages: connections that already have the page's timeout, read in
        # autocommit and are not pinged when taken: one round trip a page, where the endpoints'
        # pool took five (ping, BEGIN, SET LOCAL, the page, ROLLBACK). A connection the server
        # dropped fails its read, which the endpoint then answers on its own pool.
        self.page_pool_size = pool.size
        self.page_connections: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
        self.page_connections_open = 0  # idle (in the queue) or reading
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
        the change feed): on SQLite, on the loop while such reads are quick, else in a worker
        thread on a connection of the engine's pool; on PostgreSQL, awaited on a connection of
        the page pool (the module's docstring says why)."""
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
        elif self.dialect.name == "sqlite":
            rows = await to_thread.run_sync(self._pooled_rows, sql, parameters)
        else:
            rows = await self._postgresql_page_rows(sql, parameters)
        return statement.converted_rows(rows)

    def _pooled_rows(self, sql: str, parameters: Any) -> list[Any]:
        """A SQLite page read in a worker thread, on a connection of the engine's pool."""
        try:
            with self.engine.connect() as connection:
                set_deadline(connection, self.page_timeout)
                try:
                    # A list would be taken for several parameter sets: one set is a tuple.
                    return list(connection.exec_driver_sql(sql, tuple(parameters)).fetchall())
                finally:
                    set_deadline(connection, None)
        except (sa.exc.DBAPIError, sa.exc.TimeoutError) as error:
            raise Unreadable from error

    async def _postgresql_page_rows(self, sql: str, parameters: Any) -> list[Any]:
        import psycopg

        connection = await self._page_connection()
        reusable = False  # a connection whose read was cancelled midway is not
        try:
            cursor = await connection.execute(sql, parameters)
            rows = await cursor.fetchall()
            reusable = True
            return rows
        except psycopg.Error as error:
            reusable = not (connection.closed or connection.broken)  # a timeout leaves it whole
            raise Unreadable from error
        finally:
            if reusable:
                self.page_connections.put_nowait(connection)
            else:
                self.page_connections_open -= 1
                await connection.close()

    async def _page_connection(self) -> "psycopg.AsyncConnection[Any]":
        """An idle page connection, a new one while fewer than the pool's size are open, else
        the first one freed within PAGE_POOL_WAIT_S (Unreadable if none is)."""
        try:
            return self.page_connections.get_nowait()
        except asyncio.QueueEmpty:
            pass
        if self.page_connections_open < self.page_pool_size:
            self.page_connections_open += 1
            try:
                return await self._postgresql_connect(self.page_timeout)
            except Unreadable:
                self.page_connections_open -= 1
                raise
        try:
            return await asyncio.wait_for(self.page_connections.get(), PAGE_POOL_WAIT_S)
        except TimeoutError as error:
            raise Unreadable("every page connection is busy") from error

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
            self.postgresql = await self._postgresql_connect(STATEMENT_TIMEOUT_MS / 1000)
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

    async def _postgresql_connect(
        self, statement_timeout_s: float
    ) -> "psycopg.AsyncConnection[Any]":
        """A connection for reads on the loop: autocommit, read-only, that never waits for a
        lock and stops a statement at `statement_timeout_s`."""
        import psycopg  # here: a server on SQLite never loads the PostgreSQL driver

        url = self.engine.url.set(drivername="postgresql")
        timeout_ms = max(1, round(statement_timeout_s * 1000))
        try:
            return await psycopg.AsyncConnection.connect(
                url.render_as_string(hide_password=False),
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                options=f"-c lock_timeout=1 -c statement_timeout={timeout_ms} "
                "-c default_transaction_read_only=on",
            )
        except psycopg.Error as error:
            raise Unreadable from error

    async def close(self) -> None:
        if self.sqlite is not None:
            connection, self.sqlite = self.sqlite, None
            connection.close()
        if self.postgresql is not None:
            connection, self.postgresql = self.postgresql, None
            await connection.close()
        while not self.page_connections.empty():
            await self.page_connections.get_nowait().close()


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
