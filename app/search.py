"""Full-text search over names and descriptions: SQLite FTS5 or PostgreSQL tsvector.

The index (engine-specific tables outside the models: revisions 0002 and 0006) holds one entry
per searchable record: its name and its descriptive text. Two parts, kept apart: `document()`
makes a record's text; the storage functions below write it, in batches, each entry found by an
index (never by reading the whole index). The loader and the mirror update it in the same
transaction as the data, so search never shows a record that is not there.

User text is never passed to the engine's query syntax: it is cut into words, and the words are
ANDed (quoted for FTS5, plainto_tsquery for PostgreSQL), so `"`, `*`, `NEAR` or `:` are plain text.
"""

import re
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from app.bulk import BulkWriter
from app.db import is_sqlite

SEARCH_TABLE = "search_index"
MAX_QUERY_LENGTH = 200
MAX_WORDS = 16
_WORD = re.compile(r"\w+", re.UNICODE)


def _join(*parts: Any) -> str:
    out: list[str] = []
    for part in parts:
        if part is None:
            continue
        if isinstance(part, dict):  # a text in several languages: every language is found
            out.append(_join(*(part[code] for code in sorted(part))))
        elif isinstance(part, list | tuple):
            out.extend(str(p) for p in part)
        else:
            out.append(str(part))
    return "\n".join(out)


def document(entity: str, row: dict[str, Any]) -> tuple[str, str] | None:
    """(name, body) to index for a record, or None if it is not searchable."""
    r = row.get
    match entity:
        case "source":
            return _join(r("title")), _join(r("publisher"), r("description"))
        case "theme":
            return _join(r("label")), _join(r("description"))
        case "country":
            return _join(r("name"), r("iso_code")), _join(r("national_overview"))
        case "action_plan":
            return _join(r("title")), _join(r("summary"), r("emphases"))
        case "legal_basis":
            return _join(r("citation")), _join(r("act"), r("allows"), r("forbids"))
        case "city":
            return _join(r("name")), _join(
                r("background"), r("local_overview"), r("policy_basis"), r("tenets"), r("motto")
            )
        case "organisation":
            return _join(r("name"), r("acronym")), _join(r("description"))
        case "cooperation":
            return _join(r("name"), r("acronym")), _join(
                r("purpose"), r("target_group"), r("description")
            )
        case "practice":
            return _join(r("name"), r("acronym")), _join(
                r("summary"), r("aims"), r("target_groups"), r("methods")
            )
        case "contact_point":
            # Personal contact points are never indexed, whatever the publishing setting.
            if r("is_personal"):
                return None
            return _join(r("value")), _join(r("label"), r("locality"))
    raise ValueError(f"unknown entity {entity}")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())[:MAX_WORDS]


# --- storage ----------------------------------------------------------------------------------
# SQLite: the entries are rows of `search_index_entry` (an integer id, unique on entity_type and
# entity_id); `search_index` is an FTS5 index over their name and body, keyed by that id
# (external content, revision 0006). This module keeps the two in step: an FTS5 external-content
# index is told what to forget with the text it indexed ('delete'), given as plain values (an
# INSERT ... SELECT into the FTS5 table cost 35 times more, measured). Triggers would do the same
# work, but an FTS5 write inside a trigger costs several times a plain one.
# PostgreSQL: one table keyed by (entity_type, entity_id), with a generated tsvector.

ENTRY_TABLE = "search_index_entry"
Key = tuple[str, str]
"""(entity_type, entity_id) of an entry."""
_IN_CHUNK = 500  # ids per lookup statement


def entry(entity: str, record_id: str, row: dict[str, Any]) -> tuple[str, str, str, str] | None:
    """The index entry of a record (entity_type, entity_id, name, body), or None."""
    doc = document(entity, row)
    return None if doc is None else (entity, record_id, doc[0], doc[1])


def put(connection: sa.Connection, entity: str, record_id: str, row: dict[str, Any]) -> None:
    put_many(connection, [(entity, record_id, row)])


def remove(connection: sa.Connection, entity: str, record_id: str) -> None:
    remove_many(connection, [(entity, record_id)])


def put_many(connection: sa.Connection, records: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
    """Index records (entity, id, row), replacing what the index held for them."""
    records = list(records)
    remove_many(connection, [(entity, record_id) for entity, record_id, _ in records])
    add_many(connection, [e for r in records if (e := entry(*r)) is not None])


def add_many(connection: sa.Connection, entries: Iterable[tuple[str, str, str, str]]) -> None:
    """Add entries (from `entry`) for records the index does not hold yet."""
    writer = BulkWriter(connection)
    entries = list(entries)
    if not entries:
        return
    if not writer.sqlite:
        writer.insert(SEARCH_TABLE, ("entity_type", "entity_id", "name", "body"), entries)
        return
    (last,) = writer.query(f"SELECT coalesce(max(id), 0) FROM {ENTRY_TABLE}")[0]
    rows = [(last + n, *e) for n, e in enumerate(entries, start=1)]
    writer.insert(ENTRY_TABLE, ("id", "entity_type", "entity_id", "name", "body"), rows)
    writer.insert(SEARCH_TABLE, ("rowid", "name", "body"), [(r[0], r[3], r[4]) for r in rows])


def remove_many(connection: sa.Connection, keys: Iterable[Key]) -> None:
    """Remove the entries of these records (those the index holds)."""
    writer = BulkWriter(connection)
    keys = list(keys)
    if not keys:
        return
    if not writer.sqlite:
        writer.delete(SEARCH_TABLE, ("entity_type", "entity_id"), keys)
        return
    by_type: dict[str, list[str]] = {}
    for entity, record_id in keys:
        by_type.setdefault(entity, []).append(record_id)
    held: list[tuple[Any, ...]] = []
    for entity, ids in by_type.items():
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            held += writer.query(
                f"SELECT id, name, body FROM {ENTRY_TABLE} "
                f"WHERE entity_type = ? AND entity_id IN ({', '.join('?' * len(chunk))})",
                [entity, *chunk],
            )
    held.sort()  # FTS5 takes changes in rowid order without flushing between them
    writer.executemany(
        f"INSERT INTO {SEARCH_TABLE} ({SEARCH_TABLE}, rowid, name, body) "
        "VALUES ('delete', ?, ?, ?)",
        held,
    )
    writer.executemany(f"DELETE FROM {ENTRY_TABLE} WHERE id = ?", [(h[0],) for h in held])


def is_empty(connection: sa.Connection) -> bool:
    table = ENTRY_TABLE if is_sqlite(connection.engine.url) else SEARCH_TABLE
    return connection.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first() is None


def clear(connection: sa.Connection) -> None:
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


# The full-text matches first, then their entries by id (CROSS JOIN keeps SQLite to that order:
# starting from the entries of one type would run a full-text lookup for each of them).
_SQLITE_HITS = (
    f"{SEARCH_TABLE} CROSS JOIN {ENTRY_TABLE} AS entry ON entry.id = {SEARCH_TABLE}.rowid"
)


def matching_ids(connection: sa.Connection, entity: str, text: str) -> sa.TextClause:
    """A subquery of the ids of `entity` records matching `text` (for the `q` filter)."""
    if is_sqlite(connection.engine.url):
        return sa.text(
            f"SELECT entry.entity_id FROM {_SQLITE_HITS} "
            f"WHERE {SEARCH_TABLE} MATCH :q_match AND entry.entity_type = :q_type"
        ).bindparams(q_match=fts5_query(text), q_type=entity)
    return sa.text(
        f"SELECT entity_id FROM {SEARCH_TABLE} "
        "WHERE document @@ plainto_tsquery('english', :q_text) AND entity_type = :q_type"
    ).bindparams(q_text=" ".join(words(text)), q_type=entity)


def fts5_query(text: str) -> str:
    # Each word quoted: FTS5 reads it as a plain string, never as an operator or column filter.
    return " ".join(f'"{w}"' for w in words(text))


def search(
    connection: sa.Connection,
    text: str,
    *,
    types: list[str] | None,
    limit: int,
    after: tuple[float, str, str] | None,
) -> list[dict[str, Any]]:
    """Matches, best first: entity_type, entity_id, rank (higher is better), snippet."""
    params: dict[str, Any] = {"limit": limit}
    if is_sqlite(connection.engine.url):
        inner = (
            "SELECT entry.entity_type, entry.entity_id, "
            f"-bm25({SEARCH_TABLE}, 10.0, 1.0) AS rank, "
            f"snippet({SEARCH_TABLE}, 1, '', '', '…', 12) AS snippet "
            f"FROM {_SQLITE_HITS} WHERE {SEARCH_TABLE} MATCH :match"
        )
        params["match"] = fts5_query(text)
    else:
        inner = (
            "SELECT entity_type, entity_id, "
            "ts_rank_cd(document, query)::float8 AS rank, "
            "ts_headline('english', body, query, "
            '\'StartSel="", StopSel="", MaxWords=12, MinWords=4\') AS snippet '
            f"FROM {SEARCH_TABLE}, plainto_tsquery('english', :text) AS query "
            "WHERE document @@ query"
        )
        params["text"] = " ".join(words(text))
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
    query = sa.text(
        f"SELECT * FROM ({inner}) AS hits {where} "
        "ORDER BY rank DESC, entity_type, entity_id LIMIT :limit"
    )
    if types:
        query = query.bindparams(sa.bindparam("types", expanding=True))
    return [dict(r) for r in connection.execute(query, params).mappings()]
