"""`scn mirror`: keep a local database identical to a publisher's API.

The first run migrates the target database and takes a snapshot (/v2/export); later runs apply
the change feed (/v2/changes) from the cursor stored in the target database. Each run is one
transaction that writes the data and the cursor together, so a crash leaves the previous state
and the next run resumes from the same cursor: nothing lost, nothing applied twice. A 410 (the
publisher no longer keeps the changes after our cursor) means a new snapshot. Network errors and
503s are retried with exponential backoff.
"""

import itertools
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TextIO

import httpx
import orjson
import sqlalchemy as sa

from app import apart, migrate, representation, search
from app.bulk import Converter, Key, create_index, drop_secondary_indexes
from app.db import close_read, create_engine, is_sqlite, read_transaction
from app.loader import (
    EntityRows,
    ReadyPiece,
    RecordWriter,
    Row,
    digest_term,
    moved_digest,
    stored_digest,
    stored_row,
    stored_rows,
    write_transaction,
)
from app.models import ENTITIES, OWNED_LINKS, RECORD_LINKS
from app.models import table as _table
from app.progress import Tracker
from app.record_rows import record_rows

USER_AGENT = "scn-mirror/1"
PREPARE_APART_FROM = apart.WORTH_FROM
"""A snapshot of at least this many records, or a catch-up of this many changes, is prepared
(parsed, mapped to rows, hashed, indexed for search, rendered) in other processes (app.apart)
while this one writes: the work then uses every core of a small machine. Below it, starting
those processes (about 2 s of imports) would cost more than it saves."""
PREPARE_BATCH = 250  # export lines per piece of work sent to those processes


class MirrorError(Exception):
    """The mirror cannot go on (the source answers with an error that retrying will not fix)."""


class SnapshotNeeded(Exception):
    pass


@dataclass
class RunResult:
    mode: str  # "snapshot" or "changes"
    applied: int  # records written (snapshot) or changes applied (changes)
    last_seq: int
    records: int = 0  # records written or deleted
    seconds: float = 0.0

    def summary(self) -> str:
        """The run in one line: records, changes applied, seconds, records/s, sequence number."""
        changes = 0 if self.mode == "snapshot" else self.applied
        rate = self.records / self.seconds if self.seconds else 0.0
        return (
            f"{self.mode}: {self.records:,} records, {changes:,} changes applied, "
            f"{self.seconds:.1f} s, {rate:,.0f} records/s; at change {self.last_seq}"
        )


@dataclass
class Retry:
    attempts: int = 8
    first_delay: float = 0.5
    max_delay: float = 30.0


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Mirror:
    def __init__(
        self,
        source: str,
        database_url: str,
        *,
        batch: int = 500,
        retry: Retry | None = None,
        progress: TextIO = sys.stderr,
        transport: httpx.BaseTransport | None = None,
        prepare_apart_from: int = PREPARE_APART_FROM,
    ) -> None:
        self.source = source.rstrip("/")
        self.database_url = database_url
        self.batch = batch
        self.prepare_apart_from = prepare_apart_from
        self.retry = retry or Retry()
        self.progress = progress
        self.tracker = Tracker("scn mirror", progress)
        self.http = httpx.Client(
            base_url=self.source,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            timeout=httpx.Timeout(30.0, read=120.0),
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def say(self, message: str) -> None:
        self.tracker.say(message)

    # --- one run ------------------------------------------------------------------------------

    def run_once(self) -> RunResult:
        """Snapshot on the first run (or after a 410), else apply the changes since the cursor."""
        migrate.upgrade(self.database_url)
        engine = create_engine(self.database_url)
        try:
            cursor = self._cursor(engine)
            if cursor is None:
                return self._snapshot(engine, first=True)
            try:
                return self._catch_up(engine, cursor)
            except SnapshotNeeded as gone:
                self.say(f"{gone}; taking a new snapshot")
                return self._snapshot(engine, first=False)
        finally:
            engine.dispose()

    def _cursor(self, engine: sa.Engine) -> int | None:
        state = _table("mirror_state")
        with engine.connect() as connection:
            row = connection.execute(sa.select(state)).mappings().first()
        if row is None:
            return None
        if row["source_url"] != self.source:
            raise MirrorError(
                f"the database mirrors {row['source_url']}, not {self.source}; use another "
                "database (a mirror follows one source)"
            )
        return int(row["last_seq"])

    def _snapshot(self, engine: sa.Engine, *, first: bool) -> RunResult:
        return self._retrying(lambda: self._snapshot_once(engine, first=first))

    def _snapshot_once(self, engine: sa.Engine, *, first: bool) -> RunResult:
        """Replace the copy's data with the source's export, in one transaction. The `first`
        snapshot into SQLite (a copy that follows no source yet, so no one reads it) is written
        the bulk-load way: through a rollback journal (`write_transaction`), its secondary
        indexes built at the end (`drop_secondary_indexes`). A new snapshot of a copy in use
        (after a 410) goes through the log, indexes kept, so that its readers are not blocked:
        they read the previous data until it commits."""
        started = time.monotonic()
        with (
            self.http.stream("GET", "/v2/export", headers={"Accept": "*/*"}) as response,
            # A whole data set: its references checked once at the end, not row by row.
            write_transaction(
                engine, references_checked_at_end=True, rollback_journal=first
            ) as connection,
        ):
            self._check(response)
            total = self._record_count()
            lines = _lines(response)
            header = orjson.loads(next(lines))
            if header.get("type") != "header":
                raise MirrorError("the export does not start with its header line")
            self.say(
                f"snapshot of data set {header['dataset_version']} at change {header['last_seq']}"
            )
            _clear(connection)
            load_id = _new_load(connection, header["dataset_version"])
            prepares_apart = total is not None and total >= self.prepare_apart_from
            render = representation.orders_by_code_point(connection)
            dialect = Converter.name_of(connection.dialect)
            on_sqlite = is_sqlite(engine.url)
            tables = _data_tables(on_sqlite)
            indexes = drop_secondary_indexes(connection, tables) if first and on_sqlite else []
            with (
                self.tracker.step("snapshot", total=total) as step,
                apart.preparer(prepares_apart) as prepare,
            ):
                writer = RecordWriter(connection, on_flush=step.advance)
                for piece in ready_pieces(prepare, lines, render=render, dialect=dialect):
                    writer.write_piece(piece, replace=False)
                writer.flush()
                count = step.done
            digest_change = writer.digest_change
            if indexes:
                with self.tracker.step("indexes", total=len(indexes), unit="indexes") as step:
                    for definition in indexes:
                        create_index(connection, definition)
                        step.advance(1)
            if not on_sqlite:
                self._gather_statistics(connection, tables)
            last_seq = int(header["last_seq"])
            _set_state(
                connection,
                self.source,
                dataset_version=header["dataset_version"],
                last_seq=last_seq,
                history_start=last_seq,
                load_id=load_id,
                digest=moved_digest(0, digest_change),  # the copy held nothing before
                snapshot=True,
            )
        return RunResult("snapshot", count, last_seq, count, time.monotonic() - started)

    def _gather_statistics(self, connection: sa.Connection, tables: list[str]) -> None:
        """ANALYZE the `tables` a snapshot filled, in its transaction (ANALYZE samples the rows
        the transaction wrote), so that their statistics commit with the data. Without them
        (autovacuum may be off, or not there yet) PostgreSQL guesses: it took organisations'
        citations to be about a thousand rows (there were 445,831), and the catch-up's lookup
        of 500 records' citations scanned all of those, by entity type alone, instead of using
        both columns of the index: 58 ms a lookup, 11.5 s of a 10% catch-up at a million
        records. The ANALYZE takes about 4 s there."""
        with self.tracker.step("statistics", total=len(tables), unit="tables") as step:
            for name in tables:
                connection.exec_driver_sql(f'ANALYZE "{name}"')
                step.advance(1)

    def _record_count(self) -> int | None:
        """How many records the export will have (for progress only: None if unknown)."""
        try:
            counts = self._get("/v2/meta").get("record_counts") or {}
            return sum(int(n) for n in counts.values()) or None
        except (httpx.HTTPError, MirrorError, _Retryable, ValueError, AttributeError):
            return None

    def _catch_up(self, engine: sa.Engine, since: int) -> RunResult:
        return self._retrying(lambda: self._catch_up_once(engine, since))

    def _catch_up_once(self, engine: sa.Engine, since: int) -> RunResult:
        started = time.monotonic()
        with write_transaction(engine) as connection:
            load_id = _new_load(connection, None)
            applied, cursor, digest_change = self._apply_pages(connection, since, load_id)
            meta = self._get("/v2/meta")
            _set_state(
                connection,
                self.source,
                dataset_version=meta["dataset_version"],
                last_seq=cursor,
                history_start=None,
                load_id=load_id,
                digest=moved_digest(_digest_held(connection), digest_change),
                snapshot=False,
            )
        return RunResult("changes", applied, cursor, applied, time.monotonic() - started)

    def _retrying(self, run: Callable[[], RunResult]) -> RunResult:
        """Run `run` (one whole transaction) again after network errors and 429/5xx answers."""
        for attempt in self._attempts():
            try:
                return run()
            except (httpx.TransportError, _Retryable) as exc:
                self._wait(attempt, exc)
        raise AssertionError("unreachable: the last attempt raises")

    def _apply_pages(
        self, connection: sa.Connection, since: int, load_id: int
    ) -> tuple[int, int, int]:
        """Apply the change feed after `since`, page by page, in a pipeline: pages are fetched
        one ahead, and their upserts prepared up to `apart.AHEAD` pieces ahead of the page
        being written (in other processes, each piece in whichever is free, for a feed of
        `prepare_apart_from` changes or more)."""
        cursor, applied = since, 0
        # History after the cursor is the feed's to write: one range delete (an index scan),
        # not one statement per change. With the table's statistics from when it was empty
        # (the snapshot writes no history), PostgreSQL ran each of those as a scan of the
        # whole table: a catch-up of 95,000 changes went from 60 s to 350 s once ANALYZEd.
        change = _table("change")
        connection.execute(sa.delete(change).where(change.c.seq > since))
        render = representation.orders_by_code_point(connection)
        dialect = Converter.name_of(connection.dialect)
        with (
            ThreadPoolExecutor(1, thread_name_prefix="scn-mirror-fetch") as fetcher,
            self.tracker.step("changes", unit="changes") as step,
            ExitStack() as stack,
        ):
            pages = self._pages(fetcher, since)
            first = next(pages)
            total = int(first["last_seq"]) - since
            step.set_total(total)
            prepares_apart = total >= self.prepare_apart_from
            prepare: Executor = (
                stack.enter_context(apart.preparer(True)) if prepares_apart else apart.Inline()
            )
            reader = _stored_reader(connection) if prepares_apart else None
            if reader is not None:
                stack.callback(close_read, reader)
            writer = RecordWriter(connection, reader=reader)
            stack.callback(writer.close)  # first out: no write left running
            # Each record the feed lists up to the first page's last change is listed once
            # (the feed is compacted up to the last change when each page is read, and later
            # pages only go further): what is stored of it is as it was before the catch-up,
            # and can be read apart. A later change may be a record written already.
            unique_to = int(first["last_seq"])
            work = partial(ready_records, render=render, dialect=dialect)
            ready: list[ReadyPiece] = []
            for (page, last), piece in apart.tagged_in_order(
                prepare, work, _page_pieces(itertools.chain([first], pages))
            ):
                ready.append(piece)
                if last:
                    if any(int(item["seq"]) > unique_to for item in page["data"]):
                        writer.read_in_transaction()
                    applied += self._apply_page(writer, page, ready, load_id)
                    ready = []
                    cursor = int(page["next_since"])
                    step.set_total(int(page["last_seq"]) - since)
                    step.set_done(cursor - since)
            writer.finish()
            return applied, cursor, writer.digest_change

    def _pages(self, fetcher: Executor, since: int) -> Iterator[dict[str, Any]]:
        """The change feed's pages after `since`, each next one fetched while this is used."""

        def fetch(after: int) -> "Future[Any]":
            return fetcher.submit(self._get, "/v2/changes", {"since": after, "limit": self.batch})

        pending = fetch(since)
        while True:
            page = pending.result()
            more = bool(page["data"] and page["has_more"])
            if more:
                pending = fetch(int(page["next_since"]))
            yield page
            if not more:
                return

    def _apply_page(
        self,
        writer: RecordWriter,
        page: dict[str, Any],
        upserts: list[ReadyPiece],
        load_id: int,
    ) -> int:
        """Write one page of changes (its upserts made ready in `upserts`); return how many."""
        items = page["data"]
        # A page lists each record once (the feed is compacted): its deletes and its upserts
        # can go in in any order.
        for item in items:
            if item["op"] == "delete":
                writer.remove(item["type"], item["id"])
        for piece in upserts:
            writer.write_piece(piece, replace=True)
        for item in items:
            writer.add(
                "change",
                {
                    "seq": item["seq"],
                    "entity_type": item["type"],
                    "entity_id": item["id"],
                    "op": item["op"],
                    "version": item["version"],
                    "changed_at": _parse_time(item["changed_at"]),
                    "load_id": load_id,
                },
            )
        return len(items)

    # --- HTTP with retries ----------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = self.http.get(path, params=params)
        if response.status_code == 410:
            detail = response.json().get("detail", "history gone")
            raise SnapshotNeeded(f"the source answered 410: {detail}")
        self._check(response)
        return orjson.loads(response.content)  # a page of 500 records: 3x faster than json

    def _check(self, response: httpx.Response) -> None:
        if response.status_code in (429, 502, 503, 504):
            raise _Retryable(response)
        if response.status_code != 200:
            response.read()
            raise MirrorError(
                f"{response.request.method} {response.request.url} answered "
                f"{response.status_code}: {response.text[:300]}"
            )

    def _attempts(self) -> Iterator[int]:
        yield from range(1, self.retry.attempts + 1)

    def _wait(self, attempt: int, exc: Exception) -> None:
        if attempt >= self.retry.attempts:
            raise MirrorError(f"gave up after {attempt} attempts: {_describe(exc)}") from exc
        delay = min(self.retry.max_delay, self.retry.first_delay * 2 ** (attempt - 1))
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            delay = min(self.retry.max_delay, max(delay, exc.retry_after))
        delay *= 1 + random.random() / 4  # jitter: mirrors do not retry in lockstep
        self.say(f"{_describe(exc)}; retrying in {delay:.1f} s (attempt {attempt})")
        time.sleep(delay)

    def follow(self, interval: float, should_stop: Callable[[], bool]) -> None:
        while not should_stop():
            result = self.run_once()
            if result.mode == "snapshot" or result.applied:
                self.say(result.summary())
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline and not should_stop():
                time.sleep(min(0.2, interval))


@dataclass
class Prepared:
    """A record from the source as it will be written: its rows, with their content hash and
    search entry computed, and its representations where `_render_held` could make them (the
    CPU-bound half of the mirror's work, which can run apart)."""

    entity: str
    record_id: str
    rows: EntityRows
    version: int
    updated_at: datetime
    rendered: representation.Rendered | None = None

    @classmethod
    def of(cls, record: dict[str, Any]) -> "Prepared":
        entity = record["type"]
        if entity not in ENTITIES:
            raise MirrorError(f"unknown record type {entity!r} from the source")
        evidence = record.pop("evidence", None)  # stored in rows of its own, not a field
        rows = record_rows(entity, record, evidence)
        rows.content_hash()
        rows.search_entry(entity, record["id"])
        return cls(
            entity,
            record["id"],
            rows,
            int(record["version"]),
            _parse_time(record["updated_at"]),
        )

    def converted_rows(self, converter: Converter) -> Iterator[tuple[Key, tuple[Any, ...]]]:
        """The record's rows as the writer stores them, converted for `converter`'s driver:
        its own row, its link rows, and its documents' row if it has them."""
        record = (self.record_id, self.rows, self.version, self.updated_at)
        for table, row in stored_rows(self.entity, *record, self.rows.content_hash()):
            yield converter.convert(table, row)
        if self.rendered is not None:
            yield converter.convert(representation.TABLE, self.rendered.row())

    def row_as_stored(self) -> Row:
        """The record's row as the writer stores it (and the database gives it back)."""
        return stored_row(
            self.record_id, self.rows, self.version, self.updated_at, self.rows.content_hash()
        )


def prepare_lines(lines: list[bytes], *, render: bool) -> list[Prepared]:
    """Export lines (one record each) as records ready to write; with `render`, each with its
    representations too, where they can be made from its rows in memory."""
    return prepare_records([orjson.loads(line) for line in lines], render=render)


def prepare_records(records: list[dict[str, Any]], *, render: bool) -> list[Prepared]:
    """v2 records (as the export and the change feed give them) ready to write, as
    `prepare_lines` makes them."""
    prepared = [Prepared.of(record) for record in records]  # each without its evidence now
    if render:
        _render_held(prepared, records)
    return prepared


def ready_lines(lines: list[bytes], *, render: bool, dialect: str) -> ReadyPiece:
    """`prepare_lines`, the records then made ready for the writer, their rows converted for
    the driver of `dialect` (`Converter.name_of`)."""
    return ready_records([orjson.loads(line) for line in lines], render=render, dialect=dialect)


def ready_records(records: list[dict[str, Any]], *, render: bool, dialect: str) -> ReadyPiece:
    """`prepare_records`, the records then made ready for the writer of `dialect`."""
    converter = Converter.named(dialect)
    piece = ReadyPiece([], {}, [], [], [])
    vocabulary: set[str] = set()
    for p in prepare_records(records, render=render):
        piece.records.append((p.entity, p.record_id, p.rendered is not None))
        piece.digest_terms.append(digest_term(p.entity, p.record_id, p.rows.content_hash()))
        for key, values in p.converted_rows(converter):
            piece.rows.setdefault(key, []).append(values)
        if (entry := p.rows.search_entry(p.entity, p.record_id)) is not None:
            piece.entries.append(entry[:7])
            vocabulary |= entry.vocabulary
    piece.vocabulary.extend(vocabulary)
    return piece


def _render_held(prepared: list[Prepared], records: list[dict[str, Any]]) -> None:
    """Render each record from the rows it was mapped to, without reading them back from the
    database, and keep what is made only where its v2 document is, byte for byte, the one the
    source sent: then the rows held the values the database will give back (a source on
    another version of the code, another engine's order, a type that does not go through
    unchanged: the record is rendered from the database once written, as the loader does)."""
    by_entity: dict[str, list[int]] = {}
    for index, p in enumerate(prepared):
        by_entity.setdefault(p.entity, []).append(index)
    for entity, indexes in by_entity.items():
        held = [(prepared[i].row_as_stored(), prepared[i].rows.shown_links()) for i in indexes]
        for index, rendered in zip(indexes, representation.render_held(entity, held), strict=True):
            if rendered.v2 == orjson.dumps(records[index]):
                rendered.packed  # noqa: B018 (packed here, not in the writing process)
                prepared[index].rendered = rendered


def _page_pieces(
    pages: Iterable[dict[str, Any]],
) -> Iterator[tuple[tuple[dict[str, Any], bool], list[dict[str, Any]]]]:
    """The upserted records of each page of the change feed, PREPARE_BATCH at a time, each
    piece with its page and whether it is the page's last (a page of deletes only: one empty
    piece)."""
    for page in pages:
        upserts = [item["record"] for item in page["data"] if item["op"] != "delete"]
        starts = range(0, len(upserts), PREPARE_BATCH) or range(1)
        for start in starts:
            yield (page, start == starts[-1]), upserts[start : start + PREPARE_BATCH]


def _pieces(lines: Iterable[bytes]) -> Iterator[list[bytes]]:
    piece: list[bytes] = []
    for line in lines:
        piece.append(line)
        if len(piece) >= PREPARE_BATCH:
            yield piece
            piece = []
    if piece:
        yield piece


def ready_pieces(
    prepare: Executor, lines: Iterable[bytes], *, render: bool, dialect: str
) -> Iterator[ReadyPiece]:
    """The records of `lines`, in order, made ready by `prepare` a bounded distance ahead, a
    piece at a time."""
    work = partial(ready_lines, render=render, dialect=dialect)
    for _, piece in apart.in_order(prepare, work, _pieces(lines)):
        yield piece


class _Retryable(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"the source answered {response.status_code}")
        value = response.headers.get("retry-after")
        self.retry_after = float(value) if value and value.isdigit() else None


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.TransportError):
        return f"network error ({type(exc).__name__}: {exc})"
    return str(exc)


def _lines(response: httpx.Response) -> Iterator[bytes]:
    """The non-empty lines of an NDJSON body, as bytes (orjson reads bytes; no decoding)."""
    rest = b""
    for chunk in response.iter_bytes(1 << 16):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield from (line for line in lines if line)
    if rest.strip():
        yield rest


_RECORDS_PARTS = [
    *(table_name for links in OWNED_LINKS.values() for table_name, _ in links),
    *(table_name for table_name, _ in RECORD_LINKS),
    representation.TABLE,
]
"""The tables of what records own (their links, citations, evidence, documents)."""


def _stored_reader(connection: sa.Connection) -> sa.Connection | None:
    """A connection of its own that reads what the database held before `connection`'s
    transaction began (the catch-up's `RecordWriter` reads stored rows there, while its
    batches are written): on PostgreSQL, and on SQLite in WAL mode (in the other modes a
    reader and the writer lock each other out)."""
    if is_sqlite(connection.engine.url):
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        if str(mode).lower() != "wal":
            return None
    return read_transaction(connection.engine)


def _data_tables(on_sqlite: bool) -> list[str]:
    """The tables a snapshot fills, on SQLite or on PostgreSQL (their search indexes differ)."""
    index = search.SQLITE_TABLES if on_sqlite else search.POSTGRESQL_TABLES
    return [*ENTITIES, *_RECORDS_PARTS, *index]


def _clear(connection: sa.Connection) -> None:
    """Empty the mirror's data before a snapshot (links first, then records, then history)."""
    for table_name in _RECORDS_PARTS:
        connection.execute(sa.delete(_table(table_name)))
    for entity in reversed(list(ENTITIES)):
        connection.execute(sa.delete(_table(entity)))
    search.clear(connection)
    connection.execute(sa.delete(_table("change")))


def _new_load(connection: sa.Connection, dataset_version: str | None) -> int:
    loads = _table("dataset_load")
    return int(
        connection.execute(
            sa.insert(loads)
            .values(
                dataset_version=dataset_version or "mirror",
                content_digest="",
                loaded_at=datetime.now(UTC),
            )
            .returning(loads.c.id)
        ).scalar_one()
    )


def _digest_held(connection: sa.Connection) -> str:
    """The digest of what the copy holds, as its last run left it."""
    state = _table("dataset_state")
    held = connection.execute(sa.select(state.c.content_digest)).scalar_one_or_none()
    return held if held else stored_digest(connection)


def _set_state(
    connection: sa.Connection,
    source: str,
    *,
    dataset_version: str,
    last_seq: int,
    history_start: int | None,
    load_id: int,
    digest: str,
    snapshot: bool,
) -> None:
    now = datetime.now(UTC)
    loads = _table("dataset_load")
    connection.execute(
        sa.update(loads)
        .where(loads.c.id == load_id)
        .values(dataset_version=dataset_version, content_digest=digest, last_seq=last_seq)
    )
    state = _table("dataset_state")
    values: dict[str, Any] = {
        "dataset_version": dataset_version,
        "content_digest": digest,
        "loaded_at": now,
        "last_seq": last_seq,
    }
    if history_start is not None:
        values["history_start"] = history_start
    if connection.execute(sa.select(state.c.id)).first() is None:
        connection.execute(sa.insert(state).values({"id": 1, "history_start": 0, **values}))
    else:
        connection.execute(sa.update(state).values(**values))
    mirror = _table("mirror_state")
    row = connection.execute(sa.select(mirror)).mappings().first()
    snapshots = (row["snapshots"] if row else 0) + (1 if snapshot else 0)
    mirror_values = {"source_url": source, "last_seq": last_seq, "synced_at": now}
    if row is None:
        connection.execute(sa.insert(mirror).values(id=1, snapshots=snapshots, **mirror_values))
    else:
        connection.execute(sa.update(mirror).values(snapshots=snapshots, **mirror_values))
