"""Each record as every API version publishes it, rendered once, when the record is written.

The data changes only when `scn load`, `scn mirror` or `scn synth` writes it, and a record's
representation depends only on its own rows (app/api/records.py). So whatever writes a record
also renders it here, in the same transaction, into the `representation` table: the v1 JSON and
the v2 JSON with every language, as the exact bytes the API sends (packed: app/codec.py), and
the languages v2's texts hold. The API then serves stored bytes: a record is one primary-key
read, a list page one keyset query, the change feed and the export stream documents. v2 narrows
a stored document to the reader's language at request time (`narrowed`).

`check` renders every record again from its rows and compares: the stored documents cannot drift
from the code that made them without `scn db check` saying so.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson
import sqlalchemy as sa

from app import codec, i18n
from app.api.records import V1, V2, Context, Row, build
from app.models import ENTITIES, OWNED_LINKS, table

TABLE = "representation"
COLUMN = {V1: "v1", V2: "v2"}
"""API version (its path prefix) -> the column holding its documents."""
LANGUAGES = "v2_languages"
READ_CHUNK = 500  # ids per query when records are read back to be rendered

TEXT_PATHS: dict[str, dict[str, tuple[str, ...]]] = {
    entity: {name: (name,) for name in i18n.translatable(entity)} for entity in ENTITIES
}
"""Per entity: each translatable field -> where v2's builders put it in the record."""
TEXT_PATHS["practice"]["funding"] = ("funding", "description")


@dataclass(frozen=True)
class Rendered:
    """One record's stored representations."""

    entity: str
    record_id: str
    v1: bytes
    v2: bytes
    languages: str

    def row(self, *, packed: bool = True) -> dict[str, Any]:
        """Its row of the table: the documents packed (app/codec.py), or as they are
        (`packed=False`: revision 0008 wrote them so, and revision 0010 packs them)."""
        v1, v2 = self.packed if packed else (self.v1, self.v2)
        return {
            "entity_type": self.entity,
            "entity_id": self.record_id,
            "v1": v1,
            "v2": v2,
            LANGUAGES: self.languages,
        }

    @cached_property
    def packed(self) -> tuple[bytes, bytes]:
        """Its documents packed, made once: where they are made apart from the writing process
        (`scn mirror`'s preparers), they travel with the record."""
        return codec.pack(self.v1), codec.pack(self.v2)


def languages_of(entity: str, row: Row) -> list[str]:
    """The languages of a record's texts, as v2 names them in Content-Language."""
    found: set[str] = set()
    for name in i18n.translatable(entity):
        if row[name]:
            found.update(row[name])
    return sorted(found)


def render_rows(
    connection: sa.Connection | None,
    entity: str,
    rows: Sequence[Row],
    link_rows: dict[tuple[str, ...], Any] | None = None,
) -> list[Rendered]:
    """The representations of `rows` (rows of `entity`'s table, as read from the database);
    their link rows are read on `connection`, or taken from `link_rows` (`render_held`)."""
    # Every record is rendered whatever the operator publishes: withholding personal contact
    # points is a filter of the queries that serve them, not a property of the document.
    first = Context(connection, personal_contacts=True, api=V1)
    second = Context(connection, personal_contacts=True, api=V2)
    if link_rows is not None:
        first.link_rows = link_rows
    second.link_rows = first.link_rows  # each link table is read once for both versions
    v1 = build(first, entity, rows)
    v2 = build(second, entity, rows)
    return [
        Rendered(
            entity,
            row["id"],
            orjson.dumps(one),
            orjson.dumps(two),
            ",".join(languages_of(entity, row)),
        )
        for row, one, two in zip(rows, v1, v2, strict=True)
    ]


def render(connection: sa.Connection, entity: str, ids: Iterable[str]) -> Iterator[Rendered]:
    """The representations of the records `ids` of `entity`, read from the database."""
    t = table(entity)
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), READ_CHUNK):
        chunk = ordered[start : start + READ_CHUNK]
        rows = connection.execute(sa.select(t).where(t.c.id.in_(chunk))).mappings().all()
        yield from render_rows(connection, entity, rows)


def render_held(
    entity: str, records: Sequence[tuple[Row, Mapping[str, Sequence[Row]]]]
) -> list[Rendered]:
    """The representations of records held in memory (their row, and their link rows by table,
    each list in the order the API shows it: `EntityRows.shown_links`), without a database: as
    `render` would make them from the same rows read back from one whose order is the code
    points' (SQLite; PostgreSQL under the C collation). The caller makes sure the values are
    those the engine would give back (`scn mirror` checks each v2 document made here against
    the one its source sent, and renders from the database where they differ)."""
    if not records:
        return []
    rows = [row for row, _ in records]
    ids = [row["id"] for row in rows]
    held: dict[tuple[str, ...], Any] = {}
    if entity != "source":  # sources cite nothing
        citations: dict[str, Sequence[Row]] = defaultdict(list)
        for row, links in records:
            citations[row["id"]] = links.get("citation", [])
        held[("citation", entity, *ids)] = citations
    for link_table, column in OWNED_LINKS.get(entity, ()):
        grouped: dict[str, Sequence[Row]] = defaultdict(list)
        for row, links in records:
            grouped[row["id"]] = links.get(link_table, [])
        held[(link_table, column, *sorted(set(ids)))] = grouped
    return render_rows(None, entity, rows, held)


_ORDER_PROBE = ("-", "1", "B", "Z", "_", "a", "e", "f", "Å", "é", "ø")
"""Texts that any language's collation orders otherwise than their code points do (case,
punctuation, digits, accents), in code-point order."""


def orders_by_code_point(connection: sa.Connection) -> bool:
    """Whether the database orders text by code point, as Python does (`render_held`): SQLite
    does; PostgreSQL under the C collation (C, C.UTF-8, POSIX; ICU or libc). The database is
    asked to sort `_ORDER_PROBE`: its default collation may come from ICU, and
    `pg_database.datcollate` then names the libc locale it does not use (`C.UTF-8` beside an
    `en-US` that sorts `a` before `B`)."""
    if connection.dialect.name == "sqlite":
        return True
    values = ", ".join(f"(CAST(:p{i} AS text))" for i in range(len(_ORDER_PROBE)))
    ordered = connection.execute(
        sa.text(f"SELECT x FROM (VALUES {values}) AS probe (x) ORDER BY x"),
        {f"p{i}": text for i, text in enumerate(_ORDER_PROBE)},
    ).scalars()
    return tuple(ordered) == tuple(sorted(_ORDER_PROBE))


def every_id(connection: sa.Connection, entity: str) -> list[str]:
    t = table(entity)
    return list(connection.execute(sa.select(t.c.id).order_by(t.c.id)).scalars())


# --- serving ---------------------------------------------------------------------------------


def joined(query: sa.Select[Any], entity: str, api: str) -> sa.Select[Any]:
    """The records `query` selects (over `entity`'s table, with its filters, order and limit),
    in id order, each with its stored document for `api` (None if it has none) and its
    languages.

    The page's ids are chosen first, in a subquery, and only they are joined to their
    documents: joined directly, SQLite read the document of every record matching a filter
    (500 for a country's organisations) before sorting and keeping the page's 51."""
    t, r = table(entity), table(TABLE)
    page = query.with_only_columns(t.c.id).subquery("page")
    return (
        sa.select(page.c.id, r.c[COLUMN[api]], r.c[LANGUAGES])
        .outerjoin(r, sa.and_(r.c.entity_type == entity, r.c.entity_id == page.c.id))
        .order_by(page.c.id)
    )


def narrowed(entity: str, document: bytes, languages: list[str]) -> tuple[bytes, set[str]]:
    """A stored v2 document with every text narrowed to the reader's `languages` (as
    app.i18n.narrow does on the rows), and the languages it then holds."""
    record = orjson.loads(document)
    shown = narrow_record(entity, record, languages)
    return orjson.dumps(record), shown


def narrow_record(entity: str, record: dict[str, Any], languages: list[str]) -> set[str]:
    """Narrow `record` (a parsed v2 document) in place; the languages it then holds."""
    shown: set[str] = set()
    for path in TEXT_PATHS[entity].values():
        holder: Any = record
        for key in path[:-1]:
            holder = holder.get(key) if isinstance(holder, dict) else None
        if not isinstance(holder, dict):
            continue  # the enclosing object is absent (a practice without funding)
        value = holder.get(path[-1])
        if value:
            holder[path[-1]] = i18n.narrow(value, languages)
            shown.update(holder[path[-1]])
    return shown


def split_languages(text: str | None) -> list[str]:
    return text.split(",") if text else []


@dataclass(frozen=True)
class Document:
    """A record's body as one reader gets it, and the languages its texts are in."""

    record_id: str
    body: bytes
    languages: set[str]

    def with_member(self, name: str, value: Any) -> bytes:
        """The body with one more member at its end (as `record | {name: value}` renders)."""
        return with_member(self.body, name, value)


def with_member(body: bytes, name: str, value: Any) -> bytes:
    """A document `body` with one more member at its end (as `record | {name: value}` renders)."""
    return body[:-1] + b',"' + name.encode() + b'":' + orjson.dumps(value) + b"}"


def documents(
    connection: sa.Connection,
    entity: str,
    query: sa.Select[Any],
    api: str,
    languages: list[str] | None = None,
) -> list[Document]:
    """The stored documents of the records `query` selects (a select over `entity`'s table,
    filtered and ordered), as API `api` shows them to a reader of `languages` (None: every
    language). A record without a stored document (a database written by hand, or one
    `scn db check` would report) is rendered from its rows on the spot."""
    return documents_of(
        connection, entity, connection.execute(joined(query, entity, api)).all(), api, languages
    )


def documents_of(
    connection: sa.Connection,
    entity: str,
    rows: Sequence[Any],
    api: str,
    languages: list[str] | None = None,
) -> list[Document]:
    """`documents` of the `rows` read with `joined` (id, stored document or None, languages)."""
    missing = [record_id for record_id, body, _ in rows if body is None]
    made = {r.record_id: r for r in render(connection, entity, missing)} if missing else {}
    out = []
    for record_id, body, held in rows:
        if body is None:
            fresh = made[record_id]
            body, held = (fresh.v1 if api == V1 else fresh.v2), fresh.languages
        out.append(shown(entity, record_id, codec.unpack(body), held, api, languages))
    return out


def shown(
    entity: str, record_id: str, body: bytes, held: str, api: str, languages: list[str] | None
) -> Document:
    """A stored document (`body`, its languages `held`) as API `api` shows it to a reader of
    `languages` (None: every language)."""
    if api == V1:
        return Document(record_id, body, set())
    if languages is None:
        return Document(record_id, body, set(split_languages(held)))
    narrow, shown = narrowed(entity, body, languages)
    return Document(record_id, narrow, shown)


# --- the check -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    entity: str
    record_id: str
    problem: str

    def __str__(self) -> str:
        return f"{self.entity} {self.record_id!r}: {self.problem}"


def check(connection: sa.Connection, entities: Iterable[str] = ENTITIES) -> Iterator[Drift]:
    """Every record rendered again from its rows and compared with its stored documents; also
    every stored document without a record."""
    r = table(TABLE)
    for entity in entities:
        ids = every_id(connection, entity)
        for start in range(0, len(ids), READ_CHUNK):
            chunk = ids[start : start + READ_CHUNK]
            kept = {
                row["entity_id"]: row
                for row in connection.execute(
                    sa.select(r).where(r.c.entity_type == entity, r.c.entity_id.in_(chunk))
                ).mappings()
            }
            for fresh in render(connection, entity, chunk):
                row = kept.get(fresh.record_id)
                if row is None:
                    yield Drift(entity, fresh.record_id, "no stored representation")
                    continue
                for name, made in (("v1", fresh.v1), ("v2", fresh.v2)):
                    if codec.unpack(row[name]) != made:
                        yield Drift(entity, fresh.record_id, f"stored {name} document differs")
                if row[LANGUAGES] != fresh.languages:
                    yield Drift(entity, fresh.record_id, "stored languages differ")
        t = table(entity)
        orphans = connection.execute(
            sa.select(r.c.entity_id)
            .where(r.c.entity_type == entity, r.c.entity_id.not_in(sa.select(t.c.id)))
            .order_by(r.c.entity_id)
        ).scalars()
        for orphan in orphans:
            yield Drift(entity, orphan, "stored representation of a record that does not exist")
    unknown = connection.execute(
        sa.select(r.c.entity_type, r.c.entity_id).where(r.c.entity_type.not_in(list(ENTITIES)))
    )
    for entity, record_id in unknown:
        yield Drift(entity, record_id, "stored representation of an unknown entity type")
