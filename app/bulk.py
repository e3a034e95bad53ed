"""Rows into and out of tables in batches, through the database driver's bulk paths.

Every writer of many records (the loader, `scn mirror`, `scn synth`, the search index) goes
through here, so none makes a round trip per row: inserts are SQLite `executemany` or PostgreSQL
`COPY`; deletes and other repeated statements are `executemany` on both (psycopg 3 pipelines
them). Values are converted as SQLAlchemy would convert them for the same columns, so a row
written here reads back exactly like one written through SQLAlchemy.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache, lru_cache
from typing import Any

import orjson
import sqlalchemy as sa

from app import models
from app.db import is_sqlite

CHUNK = 5_000  # rows buffered per table and column set before they are written
LOOKUP_CHUNK = 500  # ids per lookup statement (`BulkWriter.looked_up`)

Converters = list[tuple[int, Callable[[Any], Any]]]


def _json_text(none_as_null: bool) -> Callable[[Any], Any]:
    def text(value: Any) -> str | None:
        if value is None:
            return None if none_as_null else "null"
        return orjson.dumps(value).decode()

    return text


Key = tuple[str, tuple[str, ...]]
"""A table and the columns of rows given for it, in order."""


class Converter:
    """Rows as tuples of the values the driver takes for their columns, converted as
    SQLAlchemy would convert them for `dialect`. It needs no connection, so another process
    can convert rows for a writer (`scn synth`)."""

    def __init__(self, dialect: sa.Dialect) -> None:
        self.dialect = dialect
        self.converters: dict[Key, tuple[Key, Converters]] = {}

    @staticmethod
    @cache
    def named(name: str) -> "Converter":
        """For the dialect of `name` (`Converter.name_of`), made once in this process."""
        return Converter(sa.make_url(f"{name}://").get_dialect()())

    @staticmethod
    def name_of(dialect: sa.Dialect) -> str:
        return f"{dialect.name}+{dialect.driver}"

    def convert(self, table: str, row: dict[str, Any]) -> tuple[Key, tuple[Any, ...]]:
        """The key of `row` (one object per table and columns: pickled once per message when
        rows travel between processes) and its values as the driver takes them."""
        found = self.converters.get((table, tuple(row)))
        if found is None:
            key = (table, tuple(row))
            found = self.converters[key] = (key, self._converters(table, key[1]))
        key, converters = found
        values = list(row.values())
        for index, process in converters:
            values[index] = process(values[index])
        return key, tuple(values)

    def _converters(self, table: str, columns: tuple[str, ...]) -> Converters:
        """SQLAlchemy's bind processors of the columns (JSON to text, dates on SQLite, ...)."""
        if table not in models.SQLModel.metadata.tables:
            return []  # the search index: plain text
        t = models.table(table)
        out: Converters = []
        for index, column in enumerate(columns):
            column_type = t.c[column].type
            if isinstance(column_type, sa.JSON):
                # orjson: the same JSON values as the engine's serializer, in a fifth of the time
                # (the stored text is compact; it is always read back as values).
                out.append((index, _json_text(column_type.none_as_null)))
                continue
            if isinstance(column_type, sa.LargeBinary):
                # Both drivers take bytes as they are; SQLAlchemy's processor wraps each value
                # in the driver's Binary (a memoryview): 7% of a mirror's writes, for nothing.
                continue
            process = column_type._cached_bind_processor(self.dialect)
            if process is not None:
                out.append((index, process))
        return out


def require_every_column(key: Key) -> None:
    """Raise ValueError unless `key` gives every column of its table: a row written over a
    stored one (`BulkWriter.upsert`, an update in place) would keep the stored value of a
    column left out."""
    if not _gives_every_column(key):
        raise ValueError(f"a row written over a stored one in {key[0]} gives {key[1]}")


@cache
def _gives_every_column(key: Key) -> bool:
    return set(key[1]) == set(models.table(key[0]).columns.keys())


class BulkWriter:
    """Buffered inserts (`add`, written by `flush` or when a buffer is full) and batched
    statements (`delete`, `executemany`), inside the caller's transaction."""

    def __init__(self, connection: sa.Connection, *, chunk: int = CHUNK) -> None:
        self.connection = connection
        self.sqlite = is_sqlite(connection.engine.url)
        self.mark = "?" if self.sqlite else "%s"
        driver = connection.connection.driver_connection
        assert driver is not None
        self.driver: Any = driver
        self.chunk = chunk
        self.buffers: dict[Key, list[tuple[Any, ...]]] = {}
        self.converter = Converter(connection.dialect)

    @contextmanager
    def _driver_errors(self, statement: str) -> Iterator[None]:
        """The driver's errors as SQLAlchemy's (sa.exc.OperationalError for a full disk or a
        lost server, ...), as a statement through SQLAlchemy would raise them: callers such as
        the command line turn those into clear messages."""
        dbapi = self.connection.dialect.dbapi
        assert dbapi is not None
        try:
            yield
        except dbapi.Error as exc:
            raise sa.exc.DBAPIError.instance(
                statement, None, exc, dbapi.Error, dialect=self.connection.dialect
            ) from exc

    # --- inserts ------------------------------------------------------------------------------

    def add(self, table: str, row: dict[str, Any]) -> None:
        """Insert `row` into `table` (at the next flush, or now if the buffer is full)."""
        key, values = self.converter.convert(table, row)
        self.extend(key, [values])

    def extend(self, key: Key, rows: list[tuple[Any, ...]]) -> None:
        """Insert rows already converted (`Converter.convert`) for `key`."""
        buffer = self.buffers.get(key)
        if buffer is None:
            buffer = self.buffers[key] = []
        buffer.extend(rows)
        if len(buffer) >= self.chunk:
            self._write(key)

    def flush(self) -> None:
        """Write every buffered row, in the order the tables were first added to."""
        for key in self.buffers:
            self._write(key)

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Insert rows of plain values (no conversion) now."""
        self._insert(table, tuple(columns), [tuple(r) for r in rows])

    def _write(self, key: Key) -> None:
        rows = self.buffers[key]
        if rows:
            self._insert(key[0], key[1], rows)
            rows.clear()

    def _insert(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        names = ", ".join(f'"{c}"' for c in columns)
        if self.sqlite:
            marks = ", ".join("?" for _ in columns)
            statement = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'
            with self._driver_errors(statement):
                self.driver.executemany(statement, rows)
            return
        statement = f'COPY "{table}" ({names}) FROM STDIN'
        with (
            self._driver_errors(statement),
            self.driver.cursor() as cursor,
            cursor.copy(statement) as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def upsert(self, key: Key, rows: list[tuple[Any, ...]]) -> None:
        """Insert rows already converted for `key` now, each updating in place the row with
        its primary key where the table holds one. `key` gives every column of the table: a
        column left out would keep the stored row's value."""
        require_every_column(key)
        table, columns = key
        primary = [c.name for c in models.table(table).primary_key.columns]
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join(self.mark for _ in columns)
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in primary)
        conflict = ", ".join(f'"{c}"' for c in primary)
        self.executemany(
            f'INSERT INTO "{table}" ({names}) VALUES ({marks}) '
            f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}",
            rows,
        )

    # --- other statements ---------------------------------------------------------------------

    def update(
        self,
        table: str,
        columns: Sequence[str],
        key_columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
    ) -> None:
        """UPDATE `columns` of the rows whose `key_columns` equal each row's last values (its
        first values: the new ones, converted for the driver)."""
        assignments = ", ".join(f'"{c}" = {self.mark}' for c in columns)
        condition = " AND ".join(f'"{c}" = {self.mark}' for c in key_columns)
        self.executemany(f'UPDATE "{table}" SET {assignments} WHERE {condition}', rows)

    def delete(self, table: str, columns: Sequence[str], keys: Iterable[Sequence[Any]]) -> None:
        """DELETE the rows whose `columns` equal each key (one indexed lookup per key)."""
        condition = " AND ".join(f'"{c}" = {self.mark}' for c in columns)
        self.executemany(f'DELETE FROM "{table}" WHERE {condition}', keys)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run `sql` (placeholders: `self.mark`) once per row, without a round trip per row."""
        rows = [tuple(r) for r in rows]
        if not rows:
            return
        with self._driver_errors(sql):
            if self.sqlite:
                self.driver.executemany(sql, rows)
                return
            with self.driver.cursor() as cursor:
                cursor.executemany(sql, rows)

    def looked_up(
        self, statement: str, ids: Sequence[Any], leading: Sequence[Any] = ()
    ) -> Iterator[tuple[Any, ...]]:
        """The rows of `statement` for `ids`, LOOKUP_CHUNK ids a statement: its `{marks}` is
        the chunk's placeholders, its parameters `leading` then the chunk."""
        for start in range(0, len(ids), LOOKUP_CHUNK):
            chunk = ids[start : start + LOOKUP_CHUNK]
            marks = ", ".join(self.mark for _ in chunk)
            yield from self.query(statement.format(marks=marks), [*leading, *chunk])

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one statement run on the driver (placeholders: `self.mark`)."""
        with self._driver_errors(sql):
            if self.sqlite:
                return list(self.driver.execute(sql, tuple(parameters)).fetchall())
            # psycopg finds a statement's %s placeholders itself, for each statement too long
            # for its cache: 0.8 ms for a lookup of 500 ids, 8% of a catch-up's writing
            # process (py-spy). Numbered here, once per statement, they go as they are.
            # (Imported here: a server on SQLite does not load the PostgreSQL driver.)
            from psycopg import RawCursor

            with RawCursor(self.driver) as cursor:
                cursor.execute(_numbered(sql), tuple(parameters))
                return list(cursor.fetchall())


@lru_cache(maxsize=256)
def _numbered(sql: str) -> str:
    """`sql` with its %s placeholders as PostgreSQL's own, $1, $2, ... (the statements given to
    `BulkWriter.query` hold no "%s" but their placeholders)."""
    first, *rest = sql.split("%s")
    return first + "".join(f"${number}{part}" for number, part in enumerate(rest, start=1))


# --- indexes ----------------------------------------------------------------------------------

_SECONDARY_INDEXES = (
    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
    "AND sql NOT LIKE 'CREATE UNIQUE %' AND tbl_name = ? ORDER BY name"
)


def drop_secondary_indexes(connection: sa.Connection, tables: Iterable[str]) -> list[str]:
    """Drop the non-unique indexes of `tables` (SQLite), inside the caller's transaction, and
    return their definitions, to run again (`create_index`) once the rows are in.

    Kept up to date row by row, each index of a table filled in its primary key's order is
    written at random places, and the writer's page cache cannot hold them all; built once
    over the whole table, it is one sort. Unique indexes stay: they are constraints. Not on
    PostgreSQL: there the writing process is not the one that maintains the indexes, and
    building them at the end took longer than it saved (docs/PERFORMANCE.md)."""
    driver: Any = connection.connection.driver_connection
    found: list[tuple[str, str]] = []
    for table in tables:
        found.extend(driver.execute(_SECONDARY_INDEXES, (table,)).fetchall())
    for name, _ in found:
        driver.execute(f'DROP INDEX "{name}"')
    return [definition for _, definition in found]


def create_index(connection: sa.Connection, definition: str) -> None:
    """Build an index dropped by `drop_secondary_indexes` (one of the definitions it gave)."""
    driver: Any = connection.connection.driver_connection
    driver.execute(definition)
