"""`scn load`: make the database hold exactly the validated seeds, and log every change.

One load is one transaction, taken under a lock that only one loader holds at a time (a
PostgreSQL advisory lock; SQLite's write lock via BEGIN IMMEDIATE). Inside it the loader compares
each record's content hash with the stored one, then creates, updates and deletes what differs,
writing one `change` row per record with the next sequence number. Same seeds twice: no change.
"""

import hashlib
import operator
import os
import re
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache, partial
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from pydantic import BaseModel

from app import models, references, representation, search
from app.api.records import shown_order
from app.bulk import BulkWriter, Key, require_every_column
from app.db import SQLITE_BUSY_TIMEOUT_MS, is_sqlite
from app.migrate import head_revision
from app.models import OWNED_LINKS, RECORD_LINKS
from app.models import table as _table
from app.progress import QUIET, Tracker, duration
from app.seed_reader import LocatedQuote, SeedSet, read_seeds
from app.seed_schema import (
    ActionPlanSeed,
    CitySeed,
    ContactPointSeed,
    CooperationSeed,
    CountrySeed,
    LegalBasisSeed,
    OrganisationSeed,
    PartialDate,
    PracticeSeed,
    SeedRecord,
    SourceSeed,
    ThemeSeed,
)
from app.vocab import ChangeOperation

CRASH_AFTER_ENV = "SCN_CRASH_AFTER"
ADVISORY_LOCK_KEY = 0x5C4E_10AD  # "SCN load": one loader at a time on a PostgreSQL database
LOCK_POLL_MS = 100

Row = dict[str, Any]
_CANONICAL = orjson.OPT_SORT_KEYS  # a content hash's JSON: compact, UTF-8, keys sorted


class LoadError(Exception):
    """The load could not run (lock not obtained, database not migrated); nothing was written."""


@dataclass
class EntityRows:
    """A record as database rows: its own row and the link rows it owns."""

    row: Row
    links: dict[str, list[Row]] = field(default_factory=dict)
    _hash: str | None = field(default=None, repr=False, compare=False)
    _entry: tuple[search.Entry | None] | None = field(default=None, repr=False, compare=False)
    _shown: dict[str, list[Row]] | None = field(default=None, repr=False, compare=False)

    def content_hash(self) -> str:
        """A hash of the rows (computed once: a record's rows do not change once made)."""
        if self._hash is None:
            self._hash = self._compute_hash()
        return self._hash

    def search_entry(self, entity: str, record_id: str) -> search.Entry | None:
        """The record's search index entry (computed once, like the hash: both can be
        computed ahead, in another process, by `scn mirror`)."""
        if self._entry is None:
            self._entry = (search.entry(entity, record_id, self.row),)
        return self._entry[0]

    def shown_links(self) -> dict[str, list[Row]]:
        """The link rows by table, each list in the order the API shows it (`shown_order`),
        sorted once for the hash and the rendering (`representation.render_held`)."""
        if self._shown is None:
            self._shown = {table: shown_order(table, rows) for table, rows in self.links.items()}
        return self._shown

    def _compute_hash(self) -> str:
        # Link rows in the order the API shows them: a list that is only reordered is a change
        # (revision 0011). The rows as orjson's compact JSON with sorted keys, where the
        # standard library's cost four times as much: a hash was an eighth of a mirror's
        # preparing (revision 0012 moved the hashes stored before).
        canonical = {"row": self.row, "links": self.shown_links()}
        return hashlib.sha256(orjson.dumps(canonical, default=str, option=_CANONICAL)).hexdigest()


@dataclass
class LoadResult:
    dataset_version: str
    created: int = 0
    updated: int = 0
    deleted: int = 0
    first_seq: int | None = None
    last_seq: int | None = None

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


# --- seeds -> rows ------------------------------------------------------------------------------


def _partial(prefix: str, text: str | None) -> Row:
    if text is None:
        return {prefix: None, f"{prefix}_precision": None}
    parsed = PartialDate.parse(text)
    return {prefix: parsed.value, f"{prefix}_precision": parsed.precision.value}


PLAIN_FIELDS: dict[str, tuple[str, ...]] = {
    "source": ("title", "publisher", "kind", "language", "url", "document", "description"),
    "theme": ("label", "scheme", "description"),
    "country": (
        "iso_code",
        "name",
        "national_overview",
        "strategy_lead",
        "municipality_count",
        "police_district_count",
        "region_count",
    ),
    "action_plan": ("year", "title", "status", "summary", "emphases"),
    "legal_basis": ("citation", "act", "section", "allows", "forbids"),
    "city": (
        "name",
        "population",
        "scn_member",
        "background",
        "local_overview",
        "policy_basis",
        "motto",
        "international_exchange_since",
        "tenets",
        "international_exchange_partners",
    ),
    "organisation": (
        "name",
        "acronym",
        "kind",
        "sector",
        "level",
        "description",
        "website",
        "legal_form",
        "mission",
        "mission_keywords",
    ),
    "cooperation": (
        "name",
        "acronym",
        "kind",
        "scope",
        "established_by_law",
        "purpose",
        "target_group",
        "description",
    ),
    "practice": (
        "name",
        "acronym",
        "kind",
        "status",
        "summary",
        "aims",
        "target_groups",
        "methods",
        "availability",
        "participants_pay_fee",
        "website",
    ),
    "contact_point": ("kind", "value", "label", "person_name"),
}
"""Per entity: the fields with one name in the seed file, the table and the v1 record."""


def _plain(record: BaseModel, entity: str) -> Row:
    return {name: getattr(record, name) for name in PLAIN_FIELDS[entity]}


def _source_rows(s: SourceSeed) -> EntityRows:
    row = _plain(s, "source")
    return EntityRows(row | _partial("last_modified", s.last_modified))


def _theme_rows(t: ThemeSeed) -> EntityRows:
    return EntityRows(_plain(t, "theme"))


def _country_rows(c: CountrySeed) -> EntityRows:
    row = _plain(c, "country")
    strategy = [
        {"country_id": c.id, "organisation_id": s.organisation, "role": s.role, "note": s.note}
        for s in c.strategy_organisations
    ]
    return EntityRows(row, {"country_strategy_organisation": strategy})


def _action_plan_rows(a: ActionPlanSeed) -> EntityRows:
    row = _plain(a, "action_plan") | {
        "country_id": a.country,
    }
    return EntityRows(row)


def _legal_basis_rows(lb: LegalBasisSeed) -> EntityRows:
    row = _plain(lb, "legal_basis")
    return EntityRows(row | {"country_id": lb.country})


def _city_rows(c: CitySeed) -> EntityRows:
    row = _plain(c, "city")
    row |= {
        "country_id": c.country,
        "focus_age_min": c.focus_ages.min if c.focus_ages else None,
        "focus_age_max": c.focus_ages.max if c.focus_ages else None,
    } | _partial("scn_member_since", c.scn_member_since)
    leaders = [
        {"city_id": c.id, "role": x.role, "person_name": x.person_name, "title": x.title}
        for x in c.leaders
    ]
    themes = [{"city_id": c.id, "theme_id": t} for t in c.themes]
    return EntityRows(row, {"city_leader": leaders, "city_theme": themes})


def _organisation_rows(o: OrganisationSeed) -> EntityRows:
    row = _plain(o, "organisation")
    row |= {
        "country_id": o.country,
        "city_id": o.city,
        "parent_id": o.parent,
        "registration_number": o.registration.number if o.registration else None,
        "registration_country": o.registration.country if o.registration else None,
    } | _partial("established", o.established)
    relations = [
        {
            "organisation_id": o.id,
            "kind": r.kind,
            "related_organisation_id": r.organisation,
            "note": r.note,
        }
        for r in o.relations
    ]
    return EntityRows(row, {"organisation_relation": relations})


def _cooperation_rows(c: CooperationSeed) -> EntityRows:
    row = _plain(c, "cooperation")
    row |= {
        "country_id": c.country,
        "city_id": c.city,
        "model_id": c.model,
        "legal_basis_id": c.legal_basis,
    } | _partial("established", c.established)
    members = [
        {
            "cooperation_id": c.id,
            "organisation_id": m.organisation,
            "member_cooperation_id": m.cooperation,
            "sector": m.sector,
            "role": m.role,
            "note": m.note,
        }
        for m in c.members
    ]
    return EntityRows(row, {"cooperation_member": members})


def _practice_rows(p: PracticeSeed) -> EntityRows:
    row = _plain(p, "practice") | {
        "country_id": p.country,
        "parent_id": p.parent,
        "predecessor_id": p.predecessor,
        "age_min": p.ages.min if p.ages else None,
        "age_max": p.ages.max if p.ages else None,
        "funding_kind": p.funding.kind if p.funding else None,
        "funding": p.funding.description if p.funding else None,
        "cost_amount": Decimal(str(p.cost.amount)) if p.cost else None,
        "cost_currency": p.cost.currency if p.cost else None,
        "cost_is_estimate": p.cost.estimate if p.cost else None,
        "participants_pay_fee": p.participants_pay_fee,
    }
    period = p.period
    row |= _partial("period_start", period.start if period else None)
    row |= _partial("period_end", period.end if period else None)
    figures = [
        {
            "practice_id": p.id,
            "key": f.key,
            "label": f.label,
            "value": f.decimal_value(),
            "value_max": Decimal(str(f.max)) if f.max is not None else None,
            "unit": f.unit,
            "per": f.per,
            "approximate": f.approximate,
        }
        for f in p.figures
    ]
    return EntityRows(
        row,
        {
            "practice_figure": figures,
            "practice_organisation": [
                {
                    "practice_id": p.id,
                    "organisation_id": o.organisation,
                    "role": o.role,
                    "note": o.note,
                }
                for o in p.organisations
            ],
            "practice_cooperation": [
                {"practice_id": p.id, "cooperation_id": c.cooperation, "role": c.role}
                for c in p.cooperations
            ],
            "practice_city": [{"practice_id": p.id, "city_id": c} for c in p.cities],
            "practice_theme": [{"practice_id": p.id, "theme_id": t} for t in p.themes],
        },
    )


def _contact_point_rows(c: ContactPointSeed) -> EntityRows:
    row = _plain(c, "contact_point") | {
        "is_personal": c.personal,
        "organisation_id": c.organisation,
        "practice_id": c.practice,
        "street_address": c.address.street if c.address else None,
        "postal_code": c.address.postal_code if c.address else None,
        "locality": c.address.locality if c.address else None,
        "country_code": c.address.country if c.address else None,
    }
    return EntityRows(row)


TO_ROWS: dict[str, Callable[[Any], EntityRows]] = {
    "source": _source_rows,
    "theme": _theme_rows,
    "country": _country_rows,
    "action_plan": _action_plan_rows,
    "legal_basis": _legal_basis_rows,
    "city": _city_rows,
    "organisation": _organisation_rows,
    "cooperation": _cooperation_rows,
    "practice": _practice_rows,
    "contact_point": _contact_point_rows,
}


def seed_rows(entity: str, record: BaseModel, evidence: Sequence[LocatedQuote] = ()) -> EntityRows:
    """The rows a seed record becomes, citations and evidence (its located quotes) included."""
    rows = TO_ROWS[entity](record)
    if evidence:  # absent, not empty: a record without quotes hashes as it always did
        rows.links["evidence"] = [
            {
                "entity_type": entity,
                "entity_id": record.id,  # type: ignore[attr-defined]
                "field_path": published_path(entity, q.path, rows),
                "source_id": q.source,
                "quote": q.quote,
                "section": q.section,
                "quote_start": q.start,
                "quote_end": q.end,
            }
            for q in evidence
        ]
    if isinstance(record, SeedRecord):
        rows.links["citation"] = [
            {
                "entity_type": entity,
                "entity_id": record.id,
                "source_id": c.source,
                "section": c.section,
            }
            for c in record.cited_sources()
        ]
    return rows


_INDEXED = re.compile(r"(\w+)\[(\d+)\]")


def published_path(entity: str, path: str, rows: EntityRows) -> str:
    """A field path as the seeds write it (`figures[0]`: the first figure the seed file lists)
    as the API publishes it (`figures[3]`: the fourth of the record's figures as shown, by key).
    The two differ where the API shows a list in an order of its own (`shown_order`)."""
    indexed = _INDEXED.match(path)
    if indexed is None or indexed[1] not in models.LIST_FIELDS.get(entity, {}):
        return path
    link_table = models.LIST_FIELDS[entity][indexed[1]]
    items = rows.links[link_table]
    item = items[int(indexed[2])]
    shown = next(i for i, r in enumerate(shown_order(link_table, items)) if r is item)
    return f"{indexed[1]}[{shown}]{path[indexed.end() :]}"


def content_digest(planned: dict[str, dict[str, EntityRows]]) -> str:
    """One hash for the whole data set: equal digests, equal data."""
    return digest_of(
        (entity, record_id, rows.content_hash())
        for entity, records in planned.items()
        for record_id, rows in records.items()
    )


def stored_digest(connection: sa.Connection) -> str:
    """The same digest, over what a database holds (a mirror's own data)."""
    return digest_of(
        (entity, record_id, content_hash)
        for entity in models.ENTITIES
        for record_id, content_hash in connection.execute(
            sa.select(_table(entity).c.id, _table(entity).c.content_hash)
        )
    )


# The digest is the sum, modulo 2^256, of one SHA-256 per record (of its entity, id and content
# hash): a multiset hash. It does not depend on the order records are read in (a database's
# collation), and a change moves it by what changed alone, so that a catch-up of ten changes
# does not read a million hashes to say what the copy now holds.
_DIGEST_MODULUS = 1 << 256


def digest_term(entity: str, record_id: str, content_hash: str) -> int:
    """What one record adds to the digest."""
    text = f"{entity}/{record_id}/{content_hash}".encode()
    return int.from_bytes(hashlib.sha256(text).digest(), "big")


def digest_of(records: Iterable[tuple[str, str, str]]) -> str:
    """The digest of records given as (entity, id, content hash)."""
    return moved_digest(0, sum(digest_term(*record) for record in records))


def moved_digest(digest: str | int, change: int) -> str:
    """`digest` (hex, or its number) after `change`: the terms of the records written less
    those of the records replaced or removed."""
    start = int(digest, 16) if isinstance(digest, str) else digest
    return format((start + change) % _DIGEST_MODULUS, "064x")


# --- applying -------------------------------------------------------------------------------


def _still_running(timeout: float) -> LoadError:
    return LoadError(
        f"another load is still running after {timeout:g} s; nothing was written "
        "(retry later, or raise LOAD_LOCK_TIMEOUT)"
    )


def _acquire_lock(connection: sa.Connection, timeout: float, on_wait: Callable[[], None]) -> None:
    if is_sqlite(connection.engine.url):
        return  # BEGIN IMMEDIATE already holds SQLite's single write lock
    deadline = time.monotonic() + timeout
    waited = False
    while not connection.execute(
        sa.text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
    ).scalar_one():
        if time.monotonic() >= deadline:
            raise _still_running(timeout)
        if not waited:
            on_wait()
            waited = True
        time.sleep(LOCK_POLL_MS / 1000)


def _begin(
    engine: sa.Engine, timeout: float, on_wait: Callable[[], None], *, references_off: bool
) -> tuple[sa.Connection, sa.RootTransaction]:
    """Open the load's transaction; on SQLite, wait up to `timeout` for the write lock, and
    with `references_off`, without SQLite's per-row foreign key checks."""
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        connection = engine.connect()
        if is_sqlite(engine.url):
            # Short waits inside SQLite, so the wait can be reported and bounded here.
            _sqlite_busy_timeout(connection, LOCK_POLL_MS)
            _sqlite_cache(connection, WRITER_CACHE_MB)
            if references_off:
                references.sqlite_checks_off(connection)
        connection = connection.execution_options(sqlite_begin="IMMEDIATE")
        try:
            return connection, connection.begin()
        except sa.exc.OperationalError as exc:
            if references_off:
                references.sqlite_checks_on(connection)
            connection.close()
            if "locked" not in str(exc.orig):
                raise
            if time.monotonic() >= deadline:
                raise _still_running(timeout) from None
            if not waited:
                on_wait()
                waited = True


def _sqlite_busy_timeout(connection: sa.Connection, milliseconds: int) -> None:
    # On the driver connection: through SQLAlchemy, the PRAGMA would start a transaction.
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA busy_timeout = {milliseconds}")


WRITER_CACHE_MB = 64
"""SQLite's page cache for a writer's connection (the default is 2 MB): a load or a snapshot of
many records touches every index of every table, and each page it has to read again costs a copy
and a system call (5% of a 100,000-record snapshot). It stays with the pooled connection: shrinking
it again cost more than it freed."""


def _sqlite_cache(connection: sa.Connection, megabytes: int) -> None:
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA cache_size = {-megabytes * 1024}")  # negative: in KiB


def _check_revision(connection: sa.Connection) -> None:
    expected = head_revision()
    try:
        current = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.DBAPIError:
        current = None
    if current != expected:
        raise LoadError(
            f"the database is at schema revision {current or 'none (empty)'}, this code needs "
            f"{expected}: run `scn db upgrade` first"
        )


def load(
    engine: sa.Engine,
    folder: Path,
    *,
    lock_timeout: float = 60.0,
    on_wait: Callable[[], None] = lambda: None,
    now: datetime | None = None,
    tracker: Tracker = QUIET,
) -> LoadResult:
    """Validate `folder` completely, then make the database equal to it in one transaction."""
    started = time.monotonic()
    seeds = read_seeds(folder)
    planned = {
        entity: {
            rid: seed_rows(entity, rec, seeds.evidence.get(entity, {}).get(rid, ()))
            for rid, rec in records.items()
        }
        for entity, records in seeds.records.items()
    }
    digest = content_digest(planned)
    tracker.say(
        f"{sum(len(r) for r in planned.values()):,} records read and checked in "
        f"{duration(time.monotonic() - started)}"
    )

    with write_transaction(engine, lock_timeout=lock_timeout, on_wait=on_wait) as connection:
        if search.is_empty(connection):
            search.rebuild(connection, [(e, _table(e)) for e in planned])
        return _apply(connection, seeds, planned, digest, now or datetime.now(UTC), tracker)


@contextmanager
def write_transaction(
    engine: sa.Engine,
    *,
    lock_timeout: float = 60.0,
    on_wait: Callable[[], None] = lambda: None,
    rollback_journal: bool = False,
    references_checked_at_end: bool = False,
) -> Iterator[sa.Connection]:
    """The one writer's transaction: taken under the write lock, on a migrated database.

    Committed when the block ends, rolled back if it raises: all or nothing. The loader and
    `scn mirror` both write through it, so they never interleave with each other either.
    `rollback_journal` (SQLite, a database no other connection has open): the transaction
    goes through a rollback journal instead of the write-ahead log, and the file is in WAL mode
    again once it ends (see `_rollback_journal`).
    `references_checked_at_end` (a transaction that writes a whole data set): foreign keys are
    checked once, over whole tables, before the commit, instead of once per row written
    (app/references.py); a reference to a missing record raises `DanglingReferences`.
    """
    sqlite = is_sqlite(engine.url)
    journal = _rollback_journal(engine) if rollback_journal and sqlite else nullcontext()
    with journal:
        connection, transaction = _begin(
            engine, lock_timeout, on_wait, references_off=references_checked_at_end and sqlite
        )
        try:
            _acquire_lock(connection, lock_timeout, on_wait)
            _check_revision(connection)
            check_at_end = references_checked_at_end and (
                sqlite or references.postgresql_checks_off(connection)
            )
            yield connection
            if check_at_end:
                references.check(connection)
            transaction.commit()
        except BaseException:
            transaction.rollback()
            raise
        finally:
            if sqlite:
                _sqlite_busy_timeout(connection, SQLITE_BUSY_TIMEOUT_MS)
                if references_checked_at_end:
                    references.sqlite_checks_on(connection)
            connection.close()


@contextmanager
def _rollback_journal(engine: sa.Engine) -> Iterator[None]:
    """The SQLite file in rollback-journal mode for the block, then in WAL mode again.

    In WAL mode a transaction that writes a whole data set writes every page twice: into the
    log, then into the file when the log is checkpointed. A rollback journal keeps a copy of
    the pages the transaction changes, and a page added to the end of the file has nothing to
    keep: writing into an empty database costs one write per page (`scn synth` at 100,000
    records: 20.4 s against 25.3 s). The switch needs the only connection to the file: where
    another process has it open, the transaction simply goes through the log. Committing is
    as safe in either mode. The transaction runs on this same pooled connection; a new one
    would enter WAL mode as it connects, and the transaction would go through the log."""
    with engine.connect() as connection:
        _sqlite_busy_timeout(connection, LOCK_POLL_MS)  # a file open elsewhere: say so at once
        driver = connection.connection.driver_connection
        assert driver is not None
        try:
            switched = driver.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
        except sqlite3.OperationalError:  # another connection has the file open
            switched = False
    try:
        yield
    finally:
        if switched:
            # The same pooled connection (write_transaction gave it its usual busy timeout
            # back), or a new one (which enters WAL mode as it connects).
            with engine.connect() as connection:
                driver = connection.connection.driver_connection
                assert driver is not None
                # A reader that opened the file meanwhile and keeps it open: the data is
                # committed, and the next writer's connection enters WAL mode as it connects.
                with suppress(sqlite3.OperationalError):
                    driver.execute("PRAGMA journal_mode = WAL")


def _apply(
    connection: sa.Connection,
    seeds: SeedSet,
    planned: dict[str, dict[str, EntityRows]],
    digest: str,
    now: datetime,
    tracker: Tracker,
) -> LoadResult:
    state_table = _table("dataset_state")
    state = connection.execute(sa.select(state_table)).mappings().first()
    version = seeds.dataset.version
    result = LoadResult(dataset_version=version)
    if (
        state is not None
        and state["content_digest"] == digest
        and state["dataset_version"] == version
    ):
        return result  # nothing to do: not even the load time changes

    # What to write, entity by entity: deletes first (in reverse order, though foreign keys
    # are deferred), then creations and updates.
    gone: dict[str, list[tuple[str, int]]] = {}
    changed: dict[str, list[tuple[str, int | None]]] = {}
    for entity in planned:
        table = _table(entity)
        stored = {
            record_id: (record_version, content_hash)
            for record_id, record_version, content_hash in connection.execute(
                sa.select(table.c.id, table.c.version, table.c.content_hash)
            )
        }
        records = planned[entity]
        gone[entity] = [(rid, stored[rid][0]) for rid in sorted(set(stored) - set(records))]
        changed[entity] = [
            (rid, stored[rid][0] if rid in stored else None)
            for rid in sorted(records)
            if rid not in stored or stored[rid][1] != records[rid].content_hash()
        ]

    load_table = _table("dataset_load")
    load_id = connection.execute(
        sa.insert(load_table)
        .values(dataset_version=version, content_digest=digest, loaded_at=now)
        .returning(load_table.c.id)
    ).scalar_one()

    last_seq = state["last_seq"] if state else 0
    first_seq = last_seq + 1
    total = sum(len(x) for x in gone.values()) + sum(len(x) for x in changed.values())
    with tracker.step("writing", total=total) as step:
        writer = RecordWriter(connection, on_flush=step.advance)

        def log(entity: str, record_id: str, op: ChangeOperation, record_version: int) -> None:
            nonlocal last_seq
            last_seq += 1
            writer.bulk.add(
                "change",
                {
                    "seq": last_seq,
                    "entity_type": entity,
                    "entity_id": record_id,
                    "op": op.value,
                    "version": record_version,
                    "changed_at": now,
                    "load_id": load_id,
                },
            )

        for entity in reversed(list(planned)):
            for record_id, last_version in gone[entity]:
                writer.remove(entity, record_id)
                log(entity, record_id, ChangeOperation.DELETE, last_version + 1)
                result.deleted += 1
        for entity, records in planned.items():
            returning = _versions_after_delete(
                connection, entity, [rid for rid, v in changed[entity] if v is None]
            )
            for record_id, stored_version in changed[entity]:
                if stored_version is None:
                    record_version = returning.get(record_id, 0) + 1
                    result.created += 1
                else:
                    record_version = stored_version + 1
                    result.updated += 1
                writer.write(
                    entity,
                    record_id,
                    records[record_id],
                    version=record_version,
                    updated_at=now,
                    replace=stored_version is not None,
                )
                log(entity, record_id, ChangeOperation.UPSERT, record_version)
        writer.flush()
        writer.bulk.flush()

    if last_seq >= first_seq:
        result.first_seq, result.last_seq = first_seq, last_seq
    connection.execute(
        sa.update(load_table)
        .where(load_table.c.id == load_id)
        .values(
            first_seq=result.first_seq,
            last_seq=result.last_seq,
            created=result.created,
            updated=result.updated,
            deleted=result.deleted,
        )
    )
    state_values = {
        "dataset_version": version,
        "content_digest": digest,
        "loaded_at": now,
        "last_seq": last_seq,
    }
    if state is None:
        connection.execute(sa.insert(state_table).values(id=1, **state_values))
    else:
        connection.execute(sa.update(state_table).values(**state_values))
    return result


WRITE_BATCH = 1_000
"""Records per batch of writes: large enough that a statement's cost is shared by many
records, small enough that memory stays flat however many records one run writes."""


def stored_row(
    record_id: str, rows: EntityRows, version: int, updated_at: datetime, content_hash: str
) -> Row:
    """A record's row in its entity's table, as `RecordWriter` stores it."""
    return {
        "id": record_id,
        "version": version,
        "updated_at": updated_at,
        "content_hash": content_hash,
        **rows.row,
    }


def stored_rows(
    entity: str,
    record_id: str,
    rows: EntityRows,
    version: int,
    updated_at: datetime,
    content_hash: str,
) -> Iterator[tuple[str, Row]]:
    """A record's rows as `RecordWriter` stores them, by table: its own row, then its link
    rows (citations included)."""
    yield entity, stored_row(record_id, rows, version, updated_at, content_hash)
    for link_table, link_rows in rows.links.items():
        for link in link_rows:
            yield link_table, link


@dataclass
class _Pending:
    entity: str
    record_id: str
    rows: EntityRows
    version: int
    updated_at: datetime
    content_hash: str
    rendered: representation.Rendered | None


@dataclass
class _Stored:
    """What a batch's writes take out or keep of what the database holds (`_read_stored`)."""

    own: dict[tuple[str, str], Row] = field(default_factory=dict)
    """Own rows of records written again that are updated in place, by record"""
    kept_links: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    """By link table: the records whose rows there stay as stored"""
    deletes: list[tuple[str, tuple[str, ...], list[Any]]] = field(default_factory=list)
    """(table, key columns, keys) of the rows that go"""
    entries: search.Removal = field(
        default_factory=lambda: search.Removal(search.Removed(set(), {}), [])
    )
    """The search entries that go, stay or are overwritten"""


class _Batch(NamedTuple):
    """A batch as `RecordWriter._write` writes it: everything it needs, so the next batch
    can be gathered meanwhile."""

    rows: dict[Key, list[tuple[Any, ...]]]
    new_entries: list[search.Entry]
    piece_entries: list[tuple[str, ...]]
    documented: set[tuple[str, str]]
    stored: _Stored
    new: list[_Pending]
    pieces: list["ReadyPiece"]
    rows_after: list[tuple[str, Row]]
    records: int


class ReadyPiece(NamedTuple):
    """Records made ready apart from the writing process (`scn mirror`'s preparers), in plain
    containers, so that handing them over costs little: their rows converted for the driver
    (`bulk.Converter`) by table and columns, with their stored documents' rows where they were
    made; their search entries; and the words their entries add to the typo vocabulary."""

    records: list[tuple[str, str, bool]]
    """(entity, id, whether its documents are among the rows: else they are rendered once the
    record is written)"""
    rows: dict[Key, list[tuple[Any, ...]]]
    entries: list[tuple[str, ...]]
    """Each entry's fields but its vocabulary (`search.Entry[:7]`)"""
    vocabulary: list[str]
    digest_terms: list[int]
    """What each record adds to the data set's digest (`digest_term`)"""


def _stored_own_rows(bulk: BulkWriter, entity: str, ids: list[str]) -> dict[str, Row]:
    """The records among `ids` that the database holds, by id: their content hash and their
    indexed columns (`_indexed_columns`), as the driver gives them."""
    columns = ["id", "content_hash", *_indexed_columns(entity)]
    names = ", ".join(f'"{c}"' for c in columns)
    statement = f'SELECT {names} FROM "{entity}" WHERE id IN ({{marks}})'
    found = (dict(zip(columns, row, strict=True)) for row in bulk.looked_up(statement, ids))
    return {row["id"]: row for row in found}


class _LinkRows(NamedTuple):
    """A link table as `RecordWriter` compares the rows a record has with those it will have:
    by owner, on every column but a row number (`id`), in the order the rows were written
    where that order is kept (by the row number), else as a set."""

    table: str
    owner_columns: tuple[str, ...]
    """(owner_column,) for a link table of one entity; ("entity_type", "entity_id") for the
    tables every entity's records own"""
    compared: tuple[str, ...]
    ordered: bool

    @staticmethod
    @cache
    def tables_of(entity: str) -> "tuple[_LinkRows, ...]":
        names = [name for name, _ in OWNED_LINKS.get(entity, [])] + [n for n, _ in RECORD_LINKS]
        return tuple(_LinkRows.named(name) for name in names)

    @staticmethod
    @cache
    def named(table: str) -> "_LinkRows":
        owner_entity = _LINK_OWNER[table]
        owner_columns = (
            ("entity_type", "entity_id")
            if owner_entity is None
            else (dict(OWNED_LINKS[owner_entity])[table],)
        )
        t = _table(table)
        ordered = [c.name for c in t.primary_key.columns] == ["id"]
        compared = tuple(c.name for c in t.columns if not (ordered and c.name == "id"))
        return _LinkRows(table, owner_columns, compared, ordered)

    @staticmethod
    @cache
    def of(key: Key) -> "_RowShape":
        """How to read rows given for `key` (a link table and columns)."""
        table, columns = key
        return _RowShape(_LinkRows.named(table), _LINK_OWNER[table], columns)

    @staticmethod
    def group(
        rows: dict[Key, list[tuple[Any, ...]]],
    ) -> dict[str, dict[tuple[str, str], list[tuple[Any, ...]]]]:
        """The link rows among `rows`, by table and owner, as `unchanged` compares them."""
        grouped: dict[str, dict[tuple[str, str], list[tuple[Any, ...]]]] = {}
        for key, values_list in rows.items():
            if key[0] in _LINK_OWNER:
                shape = _LinkRows.of(key)
                by_owner = grouped.setdefault(key[0], {})
                for values in values_list:
                    by_owner.setdefault(shape.owner(values), []).append(shape.compared(values))
        return grouped

    def stored_key(self, entity: str, record_id: str) -> tuple[str, ...]:
        """The record's key in this table's owner columns."""
        return (record_id,) if len(self.owner_columns) == 1 else (entity, record_id)

    def unchanged(
        self,
        bulk: BulkWriter,
        entity: str,
        ids: list[str],
        new: dict[tuple[str, str], list[tuple[Any, ...]]],
    ) -> set[tuple[str, str]]:
        """The records among `ids` whose rows in this table are the same in `new` (the rows
        to be written, by owner: `_LinkRows.group`) as in the database."""
        stored: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        owner_filter = " AND ".join(f'"{c}" = {bulk.mark}' for c in self.owner_columns[:-1])
        columns = ", ".join(f'"{c}"' for c in self.compared)
        statement = (
            f'SELECT "{self.owner_columns[-1]}", {columns} FROM "{self.table}" '
            f"WHERE {owner_filter + ' AND ' if owner_filter else ''}"
            f'"{self.owner_columns[-1]}" IN ({{marks}})'
            + (' ORDER BY "id"' if self.ordered else "")
        )
        for row in bulk.looked_up(statement, ids, [entity] if owner_filter else []):
            stored.setdefault((entity, row[0]), []).append(tuple(row[1:]))
        keys = [(entity, record_id) for record_id in ids]
        return {key for key in keys if self.same(new.get(key, _NONE), stored.get(key, _NONE))}

    def same(self, new: list[tuple[Any, ...]], stored: list[tuple[Any, ...]]) -> bool:
        """Whether a record's rows `new` and `stored` (compared values) are the same. A
        catch-up compares every link table of every record it writes, most often finding the
        same rows in the same order: that is one list comparison, where a Counter of each side
        cost a hundred times more (3.4 µs a table)."""
        if new == stored:
            return True
        return not self.ordered and len(new) == len(stored) and Counter(new) == Counter(stored)


_NONE: list[tuple[Any, ...]] = []  # a record without rows in a link table (never changed)


_LINK_OWNER: dict[str, str | None] = {
    **{name: entity for entity, links in OWNED_LINKS.items() for name, _ in links},
    **{name: None for name, _ in RECORD_LINKS},
}
"""Link table -> the entity whose records own its rows (None: any entity's, by entity_type)."""


class _RowShape:
    """Where a link row given for some columns (`bulk.Key`) holds its owner, and the values
    `_LinkRows` compares (None for a column not given: the database stores NULL)."""

    def __init__(self, link: _LinkRows, owner_entity: str | None, columns: tuple[str, ...]):
        self.owner_entity = owner_entity
        self.owner_at = [columns.index(c) for c in link.owner_columns]
        self.compared_at = [columns.index(c) if c in columns else -1 for c in link.compared]
        # Every compared column given (the usual case): picked in C, at a fifth of the cost of
        # `_with_nulls`, for every link row a catch-up writes.
        self.compared: Callable[[tuple[Any, ...]], tuple[Any, ...]] = (
            operator.itemgetter(*self.compared_at)
            if -1 not in self.compared_at and len(self.compared_at) > 1
            else self._with_nulls
        )

    def owner(self, values: tuple[Any, ...]) -> tuple[str, str]:
        if self.owner_entity is not None:
            return self.owner_entity, values[self.owner_at[0]]
        return values[self.owner_at[0]], values[self.owner_at[1]]

    def _with_nulls(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(None if i < 0 else values[i] for i in self.compared_at)


class RecordWriter:
    """Records written in batches, each with its link rows, citations and search entry.

    Shared by the loader and `scn mirror`, so a mirror stores exactly what the publisher does.
    Work per record is constant: a record that is replaced or removed is found by its key in
    every table (indexed), and each batch makes one bulk statement per table, not a round trip
    per record. Writes happen in the caller's transaction; call `flush` before it commits.
    """

    def __init__(
        self,
        connection: sa.Connection,
        *,
        batch: int = WRITE_BATCH,
        on_flush: Callable[[int], None] = lambda _: None,
        reader: sa.Connection | None = None,
    ) -> None:
        self.connection = connection
        self.bulk = BulkWriter(connection)
        self.batch = batch
        self.on_flush = on_flush
        self._keys: set[tuple[str, str]] = set()
        self._gone: dict[str, list[str]] = {}  # entity -> ids whose stored rows go first
        self._new: list[_Pending] = []
        self._pieces: list[ReadyPiece] = []
        self._rows_after: list[tuple[str, Row]] = []  # rows of other tables (`add`)
        self._reader = BulkWriter(reader) if reader is not None else None
        self._writing: ThreadPoolExecutor | None = (
            ThreadPoolExecutor(1, thread_name_prefix="scn-writer") if reader is not None else None
        )
        self._written: Future[None] | None = None
        self.digest_change = 0
        """How much the data set's digest moved (`moved_digest`): the records written less
        those they replaced or removed"""

    def write(
        self,
        entity: str,
        record_id: str,
        rows: EntityRows,
        *,
        version: int,
        updated_at: datetime,
        replace: bool,
        content_hash: str | None = None,
        rendered: representation.Rendered | None = None,
    ) -> None:
        """Store a record; `replace`: the database may hold an earlier version of it.
        `rendered`: its representations, if made already from these very rows (else they are
        rendered from the rows once written)."""
        self._take(entity, record_id, replace)
        digest = content_hash or rows.content_hash()
        self._new.append(_Pending(entity, record_id, rows, version, updated_at, digest, rendered))
        self.digest_change += digest_term(entity, record_id, digest)
        self._flush_if_full()

    def write_piece(self, piece: ReadyPiece, *, replace: bool) -> None:
        """Store records made ready apart; `replace` as in `write`."""
        for entity, record_id, _ in piece.records:
            self._take(entity, record_id, replace)
        self._pieces.append(piece)
        self.digest_change += sum(piece.digest_terms)
        self._flush_if_full()

    def remove(self, entity: str, record_id: str) -> None:
        """Delete a record (if the database holds it) with its link rows, citations and entry."""
        self._take(entity, record_id, True)
        self._flush_if_full()

    def _take(self, entity: str, record_id: str, replace: bool) -> None:
        key = (entity, record_id)
        if key in self._keys:
            # A record twice in a batch: its first write goes in first, and what is stored of
            # it is read from then on in the transaction, which holds that write.
            self.flush()
            self.read_in_transaction()
        self._keys.add(key)
        if replace:
            self._gone.setdefault(entity, []).append(record_id)

    def _flush_if_full(self) -> None:
        if len(self._keys) >= self.batch:
            self.flush()

    def _rows(self) -> dict[Key, list[tuple[Any, ...]]]:
        """The batch's rows to insert, converted for the driver, by table and columns: each
        record's own row and its link rows (its documents' rows too, where made apart)."""
        rows: dict[Key, list[tuple[Any, ...]]] = {}
        convert = self.bulk.converter.convert
        for p in self._new:
            record = (p.record_id, p.rows, p.version, p.updated_at, p.content_hash)
            for table, row in stored_rows(p.entity, *record):
                key, values = convert(table, row)
                rows.setdefault(key, []).append(values)
        for piece in self._pieces:
            for key, values_list in piece.rows.items():
                rows.setdefault(key, []).extend(values_list)
        return rows

    def _written_again(self) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
        """The records of this batch that may replace stored ones and are written again (not
        removed), and those of them whose documents come with their rows (the others' are
        rendered once they are written)."""
        again: set[tuple[str, str]] = set()
        documented: set[tuple[str, str]] = set()
        if not self._gone:
            return again, documented
        gone = {(entity, i) for entity, ids in self._gone.items() for i in ids}
        for p in self._new:
            if (key := (p.entity, p.record_id)) in gone:
                again.add(key)
                if p.rendered is not None:
                    documented.add(key)
        for piece in self._pieces:
            for entity, record_id, documents in piece.records:
                if (key := (entity, record_id)) in gone:
                    again.add(key)
                    if documents:
                        documented.add(key)
        return again, documented

    def add(self, table: str, row: Row) -> None:
        """Insert `row` into `table` (one with no part in the records: the change history)
        with the next batch's writes."""
        self._rows_after.append((table, row))

    def read_in_transaction(self) -> None:
        """From now on, read what is stored of the records to write in the writing transaction
        (once the batches given so far are written), not apart: a record written again in this
        transaction would be read apart as it was before it."""
        self._wait_for_writes()
        self._reader = None

    def finish(self) -> None:
        """Write every batch and row given, and wait until they are written."""
        self.flush()
        rows, self._rows_after = self._rows_after, []
        self._submit(partial(self._write_rows_after, rows))
        self.close()

    def close(self) -> None:
        """Wait for the writes under way (their error, if any, is raised) and stop the writing
        thread. Call it whatever happens before the transaction ends: a rollback must not
        overtake a batch still being written."""
        try:
            self._wait_for_writes()
        finally:
            if self._writing is not None:
                self._writing.shutdown()
                self._writing = None

    def _wait_for_writes(self) -> None:
        written, self._written = self._written, None
        if written is not None:
            written.result()

    def _submit(self, write: Callable[[], None]) -> None:
        """Run `write` on the writing transaction: at once, or, where stored rows are read
        apart, in the writing thread, while this thread reads and prepares the next batch
        (the driver lets the thread run while the database works). One batch at a time: the
        next waits for this one."""
        self._wait_for_writes()
        if self._writing is None or self._reader is None:
            write()
        else:
            self._written = self._writing.submit(write)

    def flush(self) -> None:
        if not self._keys:
            return
        rows = self._rows()
        new_entries = [e for p in self._new if (e := p.rows.search_entry(p.entity, p.record_id))]
        piece_entries = [entry for piece in self._pieces for entry in piece.entries]
        again, documented = self._written_again()
        entries: list[Sequence[Any]] = [*new_entries, *piece_entries]
        stored = self._read_stored(rows, entries, again, documented)
        batch = _Batch(
            rows, new_entries, piece_entries, documented, stored, self._new, self._pieces,
            self._rows_after, len(self._keys),
        )  # fmt: skip
        self._keys, self._gone, self._new, self._pieces, self._rows_after = set(), {}, [], [], []
        self._submit(partial(self._write, batch))

    def _read_stored(
        self,
        rows: dict[Key, list[tuple[Any, ...]]],
        entries: list[Sequence[Any]],
        again: set[tuple[str, str]],
        documented: set[tuple[str, str]],
    ) -> "_Stored":
        """What the database holds of the records replaced or removed in this batch, and so
        what of it goes: the rows and documents of those removed, the documents of those whose
        documents are rendered once written, and the link rows (citations included) and search
        entries (`entries`: those to be written) that change. A catch-up mostly changes a
        record's own fields: rewriting its unchanged links cost about half of its writes.
        Records written again (`again`) keep their own rows, updated in place, and their
        documents where they come with the batch (`documented`). Reads only: apart (`reader`),
        or in the writing transaction once the batches before are written."""
        out = _Stored()
        if not self._gone:
            return out
        reader = self._reader
        if reader is None:
            self._wait_for_writes()
            reader = self.bulk
        new_entries = {(e[0], e[1]): tuple(e[2:7]) for e in entries}
        new = _LinkRows.group(rows)
        for entity, ids in self._gone.items():
            stored = _stored_own_rows(reader, entity, ids)
            self.digest_change -= sum(
                digest_term(entity, record_id, row["content_hash"])
                for record_id, row in stored.items()
            )
            in_place = (
                {i for i in stored if (entity, i) in again} if _updated_in_place(entity) else set()
            )
            out.own.update(((entity, i), stored[i]) for i in in_place)
            records = [(entity, i) for i in ids]
            for link in _LinkRows.tables_of(entity):
                same = link.unchanged(reader, entity, ids, new.get(link.table, {}))
                out.kept_links.setdefault(link.table, set()).update(same)
                changed = [link.stored_key(*r) for r in records if r not in same]
                out.deletes.append((link.table, link.owner_columns, changed))
            out.deletes.append(
                (
                    representation.TABLE,
                    ("entity_type", "entity_id"),
                    [r for r in records if r not in documented],
                )
            )
            out.deletes.append((entity, ("id",), [(i,) for i in ids if i not in in_place]))
        gone = [(entity, i) for entity, ids in self._gone.items() for i in ids]
        out.entries = search.held_entries(reader, gone, keep=new_entries)
        return out

    def _write(self, batch: "_Batch") -> None:
        """Write a batch whose stored rows were read (`_read_stored`)."""
        bulk, stored = self.bulk, batch.stored
        for table, columns, keys in stored.deletes:
            bulk.delete(table, columns, keys)
        search.forget(self.connection, stored.entries)
        for key, values in batch.rows.items():
            owners = stored.kept_links.get(key[0])
            if owners:
                owner = _LinkRows.of(key).owner
                values = [v for v in values if owner(v) not in owners]
            self._insert(key, values, stored.own, batch.documented)
        bulk.flush()
        removed = stored.entries.removed
        search.add_many(
            self.connection,
            [e for e in batch.new_entries if (e[0], e[1]) not in removed.kept],
            removed.reused,
        )
        search.add_rows(
            self.connection,
            [e for e in batch.piece_entries if (e[0], e[1]) not in removed.kept],
            {word for piece in batch.pieces for word in piece.vocabulary},
            removed.reused,
        )
        # Rendered from the rows as just written, so the documents are what the API would
        # build from the database (types as the engine returns them).
        by_entity: dict[str, list[str]] = {}
        for p in batch.new:
            if p.rendered is not None:
                key, document = bulk.converter.convert(representation.TABLE, p.rendered.row())
                self._insert(key, [document], stored.own, batch.documented)
            else:
                by_entity.setdefault(p.entity, []).append(p.record_id)
        for piece in batch.pieces:
            for entity, record_id, documents in piece.records:
                if not documents:
                    by_entity.setdefault(entity, []).append(record_id)
        for entity, ids in by_entity.items():
            for rendered in representation.render(self.connection, entity, ids):
                bulk.add(representation.TABLE, rendered.row())
        self._write_rows_after(batch.rows_after)
        _crash_point(batch.records)
        self.on_flush(batch.records)

    def _write_rows_after(self, rows: list[tuple[str, Row]]) -> None:
        """Rows given to `add`, then whatever the bulk writer holds."""
        for table, row in rows:
            self.bulk.add(table, row)
        self.bulk.flush()

    def _insert(
        self,
        key: Key,
        values: list[tuple[Any, ...]],
        own: dict[tuple[str, str], Row],
        documented: set[tuple[str, str]],
    ) -> None:
        """Insert rows for `key`. A record's own row that replaces one the database holds
        (`own`) is updated instead (`_changed_columns`): deleted and inserted again,
        it cost its table and every one of its indexes two writes, where a catch-up mostly
        changes a name and a version (on SQLite, 50 to 60 µs a row against 7 to 10 for the
        update, measured on a million-record copy). A documents' row whose record is among
        `documented` replaces the stored one."""
        owner = _owner_of(key)
        if owner is None or not (own or documented):
            self.bulk.extend(key, values)
            return
        if key[0] == representation.TABLE:
            updated = [v for v in values if owner(v) in documented]
            if updated:
                self.bulk.upsert(key, updated)
            self.bulk.extend(key, [v for v in values if owner(v) not in documented])
            return
        require_every_column(key)
        changes: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        inserted = []
        for v in values:
            stored = own.get(owner(v))
            if stored is None:
                inserted.append(v)
                continue
            changed = _changed_columns(key, v, stored)
            changes.setdefault(tuple(c for c, _ in changed), []).append(
                (*(value for _, value in changed), stored["id"])
            )
        for columns, rows in changes.items():
            if columns:
                self.bulk.update(key[0], columns, ("id",), rows)
        self.bulk.extend(key, inserted)


@cache
def _updated_in_place(entity: str) -> bool:
    """Whether the rows of `entity`'s table may be updated in place, one after another: not
    where a column besides the key is unique (`country.iso_code`), as two records that swap
    their values would collide halfway, nor where an index is on an expression; those rows
    are deleted, then inserted."""
    t = _table(entity)
    unique = [c for c in t.constraints if isinstance(c, sa.UniqueConstraint)]
    plain = all(len(index.expressions) == len(index.columns) for index in t.indexes)
    return plain and not unique and not any(index.unique for index in t.indexes)


@cache
def _indexed_columns(entity: str) -> tuple[str, ...]:
    """The columns of `entity`'s table, besides its key, that an index holds."""
    t = _table(entity)
    primary = {c.name for c in t.primary_key.columns}
    named = (c.name for index in t.indexes for c in index.columns if c.name not in primary)
    return tuple(dict.fromkeys(named))


def _changed_columns(key: Key, values: tuple[Any, ...], stored: Row) -> list[tuple[str, Any]]:
    """The columns an update of a row given for `key` (every column of its table:
    `bulk.require_every_column`) sets, with their new values: every column an index does not
    hold (rewriting the row costs the same however many change), and those an index holds
    where their value differs from the `stored` one's. A value of another type counts as
    different: the update then writes it again, never less."""
    table, columns = key
    indexed = _indexed_columns(table)
    return [
        (column, value)
        for column, value in zip(columns, values, strict=True)
        if column != "id"
        and (
            column not in indexed or type(value) is not type(old := stored[column]) or value != old
        )
    ]


@cache
def _owner_of(key: Key) -> Callable[[tuple[Any, ...]], tuple[str, str]] | None:
    """The record whose own row, or documents' row, a row given for `key` is (None for the
    other tables)."""
    table, columns = key
    if table == representation.TABLE:
        entity_at, id_at = columns.index("entity_type"), columns.index("entity_id")
        return lambda values: (values[entity_at], values[id_at])
    if table in models.ENTITIES:
        id_at = columns.index("id")
        return lambda values: (table, values[id_at])
    return None


def write_record(
    connection: sa.Connection,
    entity: str,
    record_id: str,
    rows: EntityRows,
    *,
    version: int,
    updated_at: datetime,
    exists: bool,
) -> None:
    """Store one record with its link rows and citations, and index it for search."""
    writer = RecordWriter(connection)
    writer.write(entity, record_id, rows, version=version, updated_at=updated_at, replace=exists)
    writer.flush()


def remove_record(connection: sa.Connection, entity: str, record_id: str) -> None:
    """Delete one record, its link rows, citations and search entry."""
    writer = RecordWriter(connection)
    writer.remove(entity, record_id)
    writer.flush()


_CRASH_AFTER = int(os.environ.get(CRASH_AFTER_ENV) or 0)
_written = 0


def _crash_point(records: int) -> None:
    """Test hook (SCN_CRASH_AFTER=N): the process kills itself with SIGKILL once it has written
    N records (the batch holding the Nth is in the database, uncommitted), in the middle of its
    transaction, as an operator's `kill -9` or the OOM killer would. Off unless the variable is
    set."""
    global _written
    if _CRASH_AFTER:
        _written += records
        if _written >= _CRASH_AFTER:
            os.kill(os.getpid(), signal.SIGKILL)


def _versions_after_delete(
    connection: sa.Connection, entity: str, record_ids: list[str]
) -> dict[str, int]:
    """The last version of each record that comes back after a delete: its count continues,
    never repeats. Records without history are not in the answer."""
    change = _table("change")
    found: dict[str, int] = {}
    for start in range(0, len(record_ids), 500):
        chunk = record_ids[start : start + 500]
        for record_id, last_version in connection.execute(
            sa.select(change.c.entity_id, sa.func.max(change.c.version))
            .where(change.c.entity_type == entity, change.c.entity_id.in_(chunk))
            .group_by(change.c.entity_id)
        ):
            found[record_id] = last_version
    return found


assert set(TO_ROWS) == set(models.ENTITIES), "every entity needs its seed -> rows mapping"


def prune_history(engine: sa.Engine, keep: int) -> tuple[int, int]:
    """Delete all but the last `keep` changes; return (new history start, rows removed).

    A client whose cursor is before the new start gets 410 and takes a new snapshot.
    """
    with write_transaction(engine) as connection:
        state = _table("dataset_state")
        last_seq, history_start = connection.execute(
            sa.select(state.c.last_seq, state.c.history_start)
        ).one()
        start = max(history_start, last_seq - keep)
        change = _table("change")
        removed = connection.execute(sa.delete(change).where(change.c.seq <= start)).rowcount
        connection.execute(sa.update(state).values(history_start=start))
    return start, removed
