"""Evidence as the API publishes it: each quote behind a record's values, with its source, the
source's text in the repository, the section, and the passage's character offsets in that text.

Read by /v2/<collection>/{id}/evidence, and carried by /v2/export and /v2/changes so that a
mirror (`scn mirror`) stores it and can serve it too.
"""

import functools
from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from app.api.records import versioned_href
from app.models import table


def evidence_of(
    connection: sa.Connection, entity: str, ids: list[str], api: str
) -> dict[str, list[dict[str, Any]]]:
    """Record id -> its evidence items, in the order the seeds give them."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if not ids:
        return out
    evidence, source = table("evidence"), table("source")
    query = (
        sa.select(evidence, source.c.document)
        .join(source, source.c.id == evidence.c.source_id)
        .where(evidence.c.entity_type == entity, evidence.c.entity_id.in_(ids))
        .order_by(evidence.c.entity_id, evidence.c.id)
    )
    for row in connection.execute(query).mappings():
        out[row["entity_id"]].append(evidence_item(row, api))
    return out


def evidence_between(
    connection: sa.Connection, entity: str, after: str, last: str, api: str
) -> dict[str, list[dict[str, Any]]]:
    """Record id -> its evidence items, for the records of `entity` whose ids are after
    `after` and up to `last` (an export's batch: one range instead of a list of ids)."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    rows = connection.execute(
        _between_query(), {"entity": entity, "after": after, "last": last}
    ).mappings()
    for row in rows:
        out[row["entity_id"]].append(evidence_item(row, api))
    return out


@functools.cache
def _between_query() -> sa.Select[Any]:
    evidence, source = table("evidence"), table("source")
    return (
        sa.select(evidence, source.c.document)
        .join(source, source.c.id == evidence.c.source_id)
        .where(
            evidence.c.entity_type == sa.bindparam("entity"),
            evidence.c.entity_id > sa.bindparam("after"),
            evidence.c.entity_id <= sa.bindparam("last"),
        )
        .order_by(evidence.c.entity_id, evidence.c.id)
    )


def evidence_item(row: Any, api: str) -> dict[str, Any]:
    """One evidence item as API `api` publishes it, from its `evidence` row (with its source's
    `document`)."""
    return {
        "field": row["field_path"],
        "source": {
            "id": row["source_id"],
            "type": "source",
            "href": versioned_href(api, "source", row["source_id"]),
        },
        "document": row["document"],
        "section": row["section"],
        "quote": row["quote"],
        "start": row["quote_start"],
        "end": row["quote_end"],
    }


def evidence_rows(entity: str, record_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Published evidence items back into `evidence` rows (the inverse of `evidence_of`)."""
    return [
        {
            "entity_type": entity,
            "entity_id": record_id,
            "field_path": item["field"],
            "source_id": item["source"]["id"],
            "quote": item["quote"],
            "section": item["section"],
            "quote_start": item["start"],
            "quote_end": item["end"],
        }
        for item in items
    ]
