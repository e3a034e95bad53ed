"""Full-text search over names and descriptions: SQLite FTS5 or PostgreSQL tsvector.

The `search_index` table (created by migration 0002, engine-specific, outside the models) holds
one row per searchable record: its name and its descriptive text. The loader updates it in the
same transaction as the data, so search never shows a record that is not there.

User text is never passed to the engine's query syntax: it is cut into words, and the words are
ANDed (quoted for FTS5, plainto_tsquery for PostgreSQL), so `"`, `*`, `NEAR` or `:` are plain text.
"""

import re
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

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


def remove(connection: sa.Connection, entity: str, record_id: str) -> None:
    connection.execute(
        sa.text(f"DELETE FROM {SEARCH_TABLE} WHERE entity_type = :t AND entity_id = :i"),
        {"t": entity, "i": record_id},
    )


def put(connection: sa.Connection, entity: str, record_id: str, row: dict[str, Any]) -> None:
    remove(connection, entity, record_id)
    doc = document(entity, row)
    if doc is None:
        return
    connection.execute(
        sa.text(
            f"INSERT INTO {SEARCH_TABLE} (entity_type, entity_id, name, body) "
            "VALUES (:t, :i, :n, :b)"
        ),
        {"t": entity, "i": record_id, "n": doc[0], "b": doc[1]},
    )


def is_empty(connection: sa.Connection) -> bool:
    return connection.execute(sa.text(f"SELECT 1 FROM {SEARCH_TABLE} LIMIT 1")).first() is None


def clear(connection: sa.Connection) -> None:
    connection.execute(sa.text(f"DELETE FROM {SEARCH_TABLE}"))


def rebuild(connection: sa.Connection, tables: Iterable[tuple[str, sa.Table]]) -> None:
    """Index every record again (after a migration created an empty index)."""
    clear(connection)
    for entity, table in tables:
        for row in connection.execute(sa.select(table)).mappings():
            put(connection, entity, row["id"], dict(row))


def matching_ids(connection: sa.Connection, entity: str, text: str) -> sa.TextClause:
    """A subquery of the ids of `entity` records matching `text` (for the `q` filter)."""
    if is_sqlite(connection.engine.url):
        return sa.text(
            f"SELECT entity_id FROM {SEARCH_TABLE} "
            f"WHERE {SEARCH_TABLE} MATCH :q_match AND entity_type = :q_type"
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
            f"SELECT entity_type, entity_id, -bm25({SEARCH_TABLE}, 0, 0, 10.0, 1.0) AS rank, "
            f"snippet({SEARCH_TABLE}, 3, '', '', '…', 12) AS snippet "
            f"FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH :match"
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
