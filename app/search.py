"""Full-text search over names and descriptions: SQLite FTS5 or PostgreSQL tsvector.

The index (engine-specific tables outside the models: revisions 0002, 0006 and 0007) holds one
entry per searchable record: its name and its descriptive text as written (for snippets), the
search terms app/search_terms.py makes of them (what the engines match), and its names as words
(to rank a record first when the query is its name). Beside it, a vocabulary of the indexed words
corrects typos. Two parts, kept apart: `entry()` makes a record's entry; the storage functions
below write it, in batches, each entry found by an index (never by reading the whole index). The
loader and the mirror update it in the same transaction as the data, so search never shows a
record that is not there.

Both engines match terms only (SQLite's tokenizer splits on spaces and neither stems nor folds;
PostgreSQL's `simple` configuration likewise), so they find the same records for a query. User
text is never passed to the engine's query syntax: it is cut into words, each word becomes the
terms it may stand for (ORed), and the words are ANDed; every term is letters and digits only.
"""

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa

from app import search_terms
from app.bulk import BulkWriter
from app.db import is_sqlite

SEARCH_TABLE = "search_index"
VOCABULARY_TABLE = "search_index_vocabulary"
MAX_QUERY_LENGTH = 200
MAX_WORDS = 16
_WORD = re.compile(r"\w+", re.UNICODE)
NAME_BOOST = 1000.0
"""Added to the rank of a record one of whose names is the query (`Viborg`, `VINK`)."""
PHRASE_BOOST = 100.0
"""Added to the rank of a record one of whose names holds the query as a phrase."""
SNIPPET_WORDS = 12

Part = tuple[str | None, str]
"""(language or None, text)"""


def _parts(*fields: Any) -> list[Part]:
    out: list[Part] = []
    for field in fields:
        if field is None:
            continue
        if isinstance(field, dict):  # a text in several languages: every language is found
            for code in sorted(field):
                value = field[code]
                values = value if isinstance(value, list | tuple) else [value]
                out.extend((code, str(v)) for v in values if v is not None)
        elif isinstance(field, list | tuple):
            out.extend((None, str(p)) for p in field)
        else:
            out.append((None, str(field)))
    return out


def document(entity: str, row: dict[str, Any]) -> tuple[list[Part], list[Part]] | None:
    """(names, body) to index for a record, as texts with their languages, or None if it is not
    searchable."""
    r = row.get
    match entity:
        case "source":
            return _parts(r("title")), _parts(r("publisher"), r("description"))
        case "theme":
            return _parts(r("label")), _parts(r("description"))
        case "country":
            return _parts(r("name"), r("iso_code")), _parts(r("national_overview"))
        case "action_plan":
            return _parts(r("title")), _parts(r("summary"), r("emphases"))
        case "legal_basis":
            return _parts(r("citation")), _parts(r("act"), r("allows"), r("forbids"))
        case "city":
            return _parts(r("name")), _parts(
                r("background"), r("local_overview"), r("policy_basis"), r("tenets"), r("motto")
            )
        case "organisation":
            return _parts(r("name"), r("acronym")), _parts(
                r("description"), r("mission"), r("mission_keywords")
            )
        case "cooperation":
            return _parts(r("name"), r("acronym")), _parts(
                r("purpose"), r("target_group"), r("description")
            )
        case "practice":
            return _parts(r("name"), r("acronym")), _parts(
                r("summary"), r("aims"), r("target_groups"), r("methods")
            )
        case "contact_point":
            # Personal contact points are never indexed, whatever the publishing setting.
            if r("is_personal"):
                return None
            return _parts(r("value")), _parts(r("label"), r("locality"))
    raise ValueError(f"unknown entity {entity}")


def words(text: str) -> list[str]:
    """The words of a query as the API echoes them (lower case, at most MAX_WORDS)."""
    return _WORD.findall(text.lower())[:MAX_WORDS]


# --- entries ----------------------------------------------------------------------------------


class Entry(NamedTuple):
    """What the index holds for a record."""

    entity_type: str
    entity_id: str
    name: str
    body: str
    name_terms: str
    body_terms: str
    name_key: str
    vocabulary: frozenset[str]


def entry(entity: str, record_id: str, row: dict[str, Any]) -> Entry | None:
    """The index entry of a record, or None if it is not searchable."""
    doc = document(entity, row)
    if doc is None:
        return None
    names, body = doc
    vocabulary: set[str] = set()  # filled by text_terms, in the same pass over the words
    name_terms = search_terms.text_terms(names, vocabulary)
    body_terms = search_terms.text_terms(body, vocabulary)
    return Entry(
        entity,
        record_id,
        "\n".join(text for _, text in names),
        "\n".join(text for _, text in body),
        name_terms,
        body_terms,
        search_terms.name_key(text for _, text in names),
        frozenset(vocabulary),
    )


# --- storage ----------------------------------------------------------------------------------
# SQLite: the entries are rows of `search_index_entry` (an integer id, unique on entity_type and
# entity_id); `search_index` is an FTS5 index over their terms, keyed by that id (external
# content, revisions 0006 and 0007). This module keeps the two in step: an FTS5 external-content
# index is told what to forget with the terms it indexed ('delete'), given as plain values (an
# INSERT ... SELECT into the FTS5 table cost 35 times more, measured). Triggers would do the same
# work, but an FTS5 write inside a trigger costs several times a plain one.
# PostgreSQL: one table keyed by (entity_type, entity_id), with a generated tsvector.
# Both: the vocabulary only grows (a word whose records went stays until the index is rebuilt:
# a typo corrected to it finds nothing, as the word itself would).

ENTRY_TABLE = "search_index_entry"
SQLITE_TABLES = (SEARCH_TABLE, ENTRY_TABLE, VOCABULARY_TABLE)
"""The index's tables on SQLite."""
POSTGRESQL_TABLES = (SEARCH_TABLE, VOCABULARY_TABLE)
"""The index's tables on PostgreSQL."""
Key = tuple[str, str]
"""(entity_type, entity_id) of an entry."""
_IN_CHUNK = 500  # records read a query when the index is rebuilt
_TEXT_COLUMNS = ("name", "body", "name_terms", "body_terms", "name_key")


def put(connection: sa.Connection, entity: str, record_id: str, row: dict[str, Any]) -> None:
    put_many(connection, [(entity, record_id, row)])


def remove(connection: sa.Connection, entity: str, record_id: str) -> None:
    remove_many(connection, [(entity, record_id)])


def put_many(connection: sa.Connection, records: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
    """Index records (entity, id, row), replacing what the index held for them."""
    records = list(records)
    entries = [e for r in records if (e := entry(*r)) is not None]
    removed = remove_many(
        connection,
        [(entity, record_id) for entity, record_id, _ in records],
        keep={(e[0], e[1]): e[2:7] for e in entries},
    )
    add_many(connection, [e for e in entries if (e[0], e[1]) not in removed.kept], removed.reused)


def add_many(
    connection: sa.Connection, entries: Iterable[Entry], reuse: Mapping[Key, int] | None = None
) -> None:
    """Add entries (from `entry`) for records the index does not hold yet; `reuse` as in
    `add_rows`."""
    entries = list(entries)
    add_rows(
        connection,
        [e[:7] for e in entries],
        set().union(*(e.vocabulary for e in entries)),
        reuse,
    )


def add_rows(
    connection: sa.Connection,
    entries: Sequence[tuple[str, ...]],
    vocabulary: Iterable[str],
    reuse: Mapping[Key, int] | None = None,
) -> None:
    """`add_many` for entries given as their first seven fields, and the words they add to the
    vocabulary. `reuse` (SQLite): the rows that `remove_many` kept for some of these records
    (`Removed.reused`), which their new entries overwrite, keeping their ids."""
    writer = BulkWriter(connection)
    if not entries:
        return
    words = sorted(vocabulary)
    if not writer.sqlite:
        writer.insert(SEARCH_TABLE, ("entity_type", "entity_id", *_TEXT_COLUMNS), entries)
        writer.executemany(
            f"INSERT INTO {VOCABULARY_TABLE} (term) SELECT unnest(%s::text[]) "
            "ON CONFLICT DO NOTHING",
            [(words,)],
        )
        return
    reuse = reuse or {}
    again = [(*e[2:], reuse[key]) for e in entries if (key := (e[0], e[1])) in reuse]
    fresh = [e for e in entries if (e[0], e[1]) not in reuse]
    writer.update(ENTRY_TABLE, _TEXT_COLUMNS, ("id",), again)
    rows = []
    if fresh:
        (last,) = writer.query(f"SELECT coalesce(max(id), 0) FROM {ENTRY_TABLE}")[0]
        rows = [(last + n, *e) for n, e in enumerate(fresh, start=1)]
        writer.insert(ENTRY_TABLE, ("id", "entity_type", "entity_id", *_TEXT_COLUMNS), rows)
    # (rowid, name_terms, body_terms), in rowid order as FTS5 takes them best
    terms = sorted([(a[-1], a[2], a[3]) for a in again] + [(r[0], r[5], r[6]) for r in rows])
    writer.insert(SEARCH_TABLE, ("rowid", "name_terms", "body_terms"), terms)
    writer.executemany(
        f"INSERT OR IGNORE INTO {VOCABULARY_TABLE} (term) VALUES (?)", [(w,) for w in words]
    )


class Removed(NamedTuple):
    """What `remove_many` left for the entries about to be added (its `keep`)."""

    kept: set[Key]
    """Records whose entry the index holds with the same texts: it stays as it is, and is not
    to be added again (a record replaced without a change to its names and descriptions costs
    no write to the index: the FTS5 table, or PostgreSQL's `tsvector` and GIN index)."""
    reused: dict[Key, int]
    """SQLite: records whose entry changes: its terms are out of the FTS5 index, and its row
    stays, by its id, for `add_rows` to overwrite (an update of one row, where deleting it and
    inserting the new entry wrote the entries' table and its unique index twice each)."""


def remove_many(
    connection: sa.Connection,
    keys: Iterable[Key],
    *,
    keep: Mapping[Key, Sequence[str]] | None = None,
) -> Removed:
    """Remove the entries of these records (those the index holds). `keep`: the entries about
    to be added for some of them, by key (their texts: `Entry[2:7]`). The caller then adds
    each of those but the ones `Removed.kept` names, giving `add_rows` `Removed.reused`: until
    it does, a reused entry's row is there without its terms in the FTS5 index."""
    removal = held_entries(BulkWriter(connection), keys, keep=keep)
    forget(connection, removal)
    return removal.removed


class Removal(NamedTuple):
    """What `forget` is to take out of the index (`held_entries` found it)."""

    removed: Removed
    held: list[tuple[Any, ...]]
    """SQLite: (id, name_terms, body_terms) of each entry whose terms leave the FTS5 index, in
    id order; PostgreSQL: the keys of the entries to delete"""


def held_entries(
    reader: BulkWriter, keys: Iterable[Key], *, keep: Mapping[Key, Sequence[str]] | None = None
) -> Removal:
    """The reading half of `remove_many`: what the index holds for `keys`, read through
    `reader` (the writing transaction's connection, or one that sees the same entries), and so
    what `forget` is to take out. Writes nothing. On both engines an entry that `keep` gives
    with the texts it has stays (`Removed.kept`): on PostgreSQL, rewriting it computed its
    `tsvector` and its GIN index entries again for nothing."""
    keys = list(keys)
    keep = keep or {}
    if not keys:
        return Removal(Removed(set(), {}), [])
    if not reader.sqlite:
        # Only the entries about to be added again can stay: the others are not read.
        kept = {
            (entity, row[0])
            for entity, row in _stored_entries(reader, [k for k in keys if k in keep])
            if keep[(entity, row[0])] == tuple(row[1:])
        }
        return Removal(Removed(kept, {}), [k for k in keys if k not in kept])
    held: list[tuple[Any, ...]] = []
    kept = set()
    reused: dict[Key, int] = {}
    for entity, row in _stored_entries(reader, keys, with_id=True):
        key, new = (entity, row[1]), keep.get((entity, row[1]))
        if new == tuple(row[2:]):
            kept.add(key)
            continue
        held.append((row[0], row[4], row[5]))  # id, name_terms, body_terms
        if new is not None:
            reused[key] = row[0]
    held.sort()  # FTS5 takes changes in rowid order without flushing between them
    return Removal(Removed(kept, reused), held)


def _stored_entries(
    reader: BulkWriter, keys: list[Key], *, with_id: bool = False
) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """(entity type, row) of each entry the index holds among `keys`: the row is its entity
    id and texts (`_TEXT_COLUMNS`), after its id in the entries' table (SQLite) `with_id`."""
    by_type: dict[str, list[str]] = {}
    for entity, record_id in keys:
        by_type.setdefault(entity, []).append(record_id)
    table = ENTRY_TABLE if reader.sqlite else SEARCH_TABLE
    columns = ", ".join(
        ("id", "entity_id", *_TEXT_COLUMNS) if with_id else ("entity_id", *_TEXT_COLUMNS)
    )
    statement = (
        f"SELECT {columns} FROM {table} WHERE entity_type = {reader.mark} "
        "AND entity_id IN ({marks})"
    )
    for entity, ids in by_type.items():
        for row in reader.looked_up(statement, ids, [entity]):
            yield entity, tuple(row)


def forget(connection: sa.Connection, removal: Removal) -> None:
    """The writing half of `remove_many`: take out of the index what `held_entries` found."""
    writer = BulkWriter(connection)
    if not writer.sqlite:
        writer.delete(SEARCH_TABLE, ("entity_type", "entity_id"), removal.held)
        return
    writer.executemany(
        f"INSERT INTO {SEARCH_TABLE} ({SEARCH_TABLE}, rowid, name_terms, body_terms) "
        "VALUES ('delete', ?, ?, ?)",
        removal.held,
    )
    overwritten = set(removal.removed.reused.values())
    gone = [(h[0],) for h in removal.held if h[0] not in overwritten]
    writer.executemany(f"DELETE FROM {ENTRY_TABLE} WHERE id = ?", gone)


def is_empty(connection: sa.Connection) -> bool:
    table = ENTRY_TABLE if is_sqlite(connection.engine.url) else SEARCH_TABLE
    return connection.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first() is None


def clear(connection: sa.Connection) -> None:
    connection.execute(sa.text(f"DELETE FROM {VOCABULARY_TABLE}"))
    if is_sqlite(connection.engine.url):
        connection.execute(
            sa.text(f"INSERT INTO {SEARCH_TABLE} ({SEARCH_TABLE}) VALUES ('delete-all')")
        )
        connection.execute(sa.text(f"DELETE FROM {ENTRY_TABLE}"))
        return
    connection.execute(sa.text(f"DELETE FROM {SEARCH_TABLE}"))


def rebuild(connection: sa.Connection, tables: Iterable[tuple[str, sa.Table]]) -> None:
    """Index every record again (after a migration created an empty index)."""
    clear(connection)
    for entity, table in tables:
        after = ""
        while True:
            rows = (
                connection.execute(
                    sa.select(table).where(table.c.id > after).order_by(table.c.id).limit(_IN_CHUNK)
                )
                .mappings()
                .all()
            )
            if not rows:
                break
            add_many(connection, [e for r in rows if (e := entry(entity, r["id"], dict(r)))])
            after = rows[-1]["id"]


# --- queries ----------------------------------------------------------------------------------


class Query(NamedTuple):
    """A query as the index is asked it: per word, the terms any of which may match it; and the
    words as a name would hold them (for the name boost)."""

    alternatives: list[frozenset[str]]
    key: str

    def fts5(self) -> str:
        # Each term quoted: FTS5 reads it as a plain string, never as an operator.
        return " AND ".join(
            "(" + " OR ".join(f'"{t}"' for t in sorted(terms)) + ")" for terms in self.alternatives
        )

    def tsquery(self) -> str:
        return " & ".join(
            "(" + " | ".join(f"'{t}'" for t in sorted(terms)) + ")" for terms in self.alternatives
        )


def query(connection: sa.Connection, text: str) -> Query | None:
    """The query for `text`, its typos corrected from the vocabulary; None if it has no word."""
    typed = [
        w
        for w in search_terms.words(" ".join(words(text)))[:MAX_WORDS]
        if search_terms.query_terms(w)
    ]
    if not typed:
        return None
    alternatives = [set(search_terms.query_terms(w)) for w in typed]
    correctable = [search_terms.correctable(w) for w in typed]
    # Two lookups: the words as typed, then every word one edit from those the index never held
    # (most queries have no typo, and the second lookup is the larger one).
    forms = {form for form in correctable if form is not None}
    known = _known_words(connection, sorted(forms)) if forms else set()
    candidates = {form: sorted(set(search_terms.edits(form))) for form in forms - known}
    if candidates:
        known |= _known_words(connection, sorted(set().union(*candidates.values())))
    spelled = [search_terms.vocabulary_form(w) for w in typed]
    for n, form in enumerate(correctable):
        if form not in candidates:
            continue
        fixes = [fixed for fixed in candidates[form] if fixed in known]
        for fixed in fixes:
            alternatives[n] |= search_terms.query_terms(fixed)
        if fixes:  # the name boost compares names with the query as it was meant
            spelled[n] = fixes[0]
    return Query([frozenset(t) for t in alternatives], " ".join(spelled))


def _known_words(connection: sa.Connection, candidates: list[str]) -> set[str]:
    """Those of `candidates` that the vocabulary holds (one indexed lookup each)."""
    if is_sqlite(connection.engine.url):
        statement = sa.text(
            f"SELECT term FROM {VOCABULARY_TABLE} "
            "WHERE term IN (SELECT value FROM json_each(:candidates))"
        ).bindparams(sa.bindparam("candidates", type_=sa.JSON))
    else:
        statement = sa.text(
            f"SELECT term FROM {VOCABULARY_TABLE} WHERE term = ANY(:candidates)"
        ).bindparams(sa.bindparam("candidates", type_=sa.ARRAY(sa.Text)))
    return set(connection.execute(statement, {"candidates": candidates}).scalars())


# The full-text matches first, then their entries by id (CROSS JOIN keeps SQLite to that order:
# starting from the entries of one type would run a full-text lookup for each of them).
_SQLITE_HITS = (
    f"{SEARCH_TABLE} CROSS JOIN {ENTRY_TABLE} AS entry ON entry.id = {SEARCH_TABLE}.rowid"
)


def matching_ids(connection: sa.Connection, entity: str, text: str) -> sa.TextClause:
    """A subquery of the ids of `entity` records matching `text` (for the `q` filter)."""
    q = query(connection, text)
    if q is None:
        # No term to match: no id (a query of its own, with no table: the index's columns
        # differ between the engines).
        return sa.text("SELECT CAST(NULL AS VARCHAR(64)) AS entity_id WHERE 1 = 0")
    if is_sqlite(connection.engine.url):
        return sa.text(
            f"SELECT entry.entity_id FROM {_SQLITE_HITS} "
            f"WHERE {SEARCH_TABLE} MATCH :q_match AND entry.entity_type = :q_type"
        ).bindparams(q_match=q.fts5(), q_type=entity)
    return sa.text(
        f"SELECT entity_id FROM {SEARCH_TABLE} "
        "WHERE document @@ to_tsquery('simple', :q_tsquery) AND entity_type = :q_type"
    ).bindparams(q_tsquery=q.tsquery(), q_type=entity)


def search(
    connection: sa.Connection,
    text: str,
    *,
    types: list[str] | None,
    limit: int,
    after: tuple[float, str, str] | None,
) -> list[dict[str, Any]]:
    """Matches, best first: entity_type, entity_id, rank (higher is better), snippet."""
    q = query(connection, text)
    if q is None:
        return []
    sqlite = is_sqlite(connection.engine.url)
    params: dict[str, Any] = {
        "limit": limit,
        "exact": f"| {q.key} |",
        "phrase": f" {q.key} ",
        "name_boost": NAME_BOOST,
        "phrase_boost": PHRASE_BOOST,
    }
    find = "instr(name_key, {})" if sqlite else "strpos(name_key, {})"
    boost = (
        f"CASE WHEN {find.format(':exact')} > 0 THEN :name_boost "
        f"WHEN {find.format(':phrase')} > 0 THEN :phrase_boost ELSE 0.0 END"
    )
    if sqlite:
        inner = (
            "SELECT entry.entity_type, entry.entity_id, "
            f"-bm25({SEARCH_TABLE}, 10.0, 1.0) + {boost} AS rank "
            f"FROM {_SQLITE_HITS} WHERE {SEARCH_TABLE} MATCH :match"
        )
        params["match"] = q.fts5()
    else:
        inner = (
            "SELECT entity_type, entity_id, "
            f"ts_rank_cd(document, query)::float8 + {boost} AS rank "
            f"FROM {SEARCH_TABLE}, to_tsquery('simple', :tsquery) AS query "
            "WHERE document @@ query"
        )
        params["tsquery"] = q.tsquery()
    conditions = []
    if types:
        conditions.append("entity_type IN :types")
        params["types"] = list(types)
    if after is not None:
        conditions.append(
            "(rank < :a_rank OR (rank = :a_rank AND (entity_type > :a_type "
            "OR (entity_type = :a_type AND entity_id > :a_id))))"
        )
        params.update(a_rank=after[0], a_type=after[1], a_id=after[2])
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    statement = sa.text(
        f"SELECT * FROM ({inner}) AS hits {where} "
        "ORDER BY rank DESC, entity_type, entity_id LIMIT :limit"
    )
    if types:
        statement = statement.bindparams(sa.bindparam("types", expanding=True))
    hits = [dict(row) for row in connection.execute(statement, params).mappings()]
    # The bodies of this page only: carried through the sort, every match's body would be copied.
    bodies = _bodies(connection, [(h["entity_type"], h["entity_id"]) for h in hits])
    for hit in hits:
        hit["snippet"] = snippet(bodies.get((hit["entity_type"], hit["entity_id"]), ""), q)
    return hits


def _bodies(connection: sa.Connection, keys: list[Key]) -> dict[Key, str]:
    if not keys:
        return {}
    table = ENTRY_TABLE if is_sqlite(connection.engine.url) else SEARCH_TABLE
    condition = " OR ".join(
        f"(entity_type = :t{n} AND entity_id = :i{n})" for n in range(len(keys))
    )
    params = {f"t{n}": k[0] for n, k in enumerate(keys)} | {
        f"i{n}": k[1] for n, k in enumerate(keys)
    }
    rows = connection.execute(
        sa.text(f"SELECT entity_type, entity_id, body FROM {table} WHERE {condition}"), params
    )
    return {(r[0], r[1]): r[2] for r in rows}


def snippet(body: str, q: Query) -> str:
    """About SNIPPET_WORDS words of `body` from a little before its first word that matches the
    query (from its start if none does), with `…` where the text goes on."""
    found = list(search_terms.WORD.finditer(body))
    if not found:
        return ""
    wanted = frozenset().union(*q.alternatives)
    first = next(
        (
            i
            for i, word in enumerate(found)
            if wanted & search_terms.query_terms(word.group())
            or wanted & search_terms.foldings(word.group())
        ),
        0,
    )
    start = max(0, first - 3)
    end = min(len(found), start + SNIPPET_WORDS)
    more = end < len(found)
    text = " ".join(body[found[start].start() : found[end - 1].end() if more else None].split())
    return ("…" if start > 0 else "") + text + ("…" if more else "")
