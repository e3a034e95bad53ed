"""`expand`: referenced records embedded in the references that name them (v2).

`/v2/cities/viborg?expand=country,themes` gives Viborg with `country.record` and each
`themes[].record` holding the referenced record as `/v2/<collection>/{id}` gives it, in the same
languages (the same negotiation) and under the same personal-data rule. One level deep: the
embedded records' own references stay references.

The work is bounded by the page, not by the references: the referenced ids are gathered from the
whole page, and each referenced entity type is read with one query per `CHUNK` ids (plus the
builder's own link queries for that type), never one query per record.
"""

from collections import defaultdict
from collections.abc import Iterator
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Query, Request

from app.api.problems import ProblemError
from app.api.records import Context, build, published, table

EMBEDDABLE: dict[str, tuple[str, ...]] = {
    "theme": ("sources",),
    "country": ("sources", "strategy_organisations"),
    "action_plan": ("country", "sources"),
    "legal_basis": ("country", "sources"),
    "city": ("country", "sources", "themes"),
    "organisation": ("city", "country", "parent", "relations", "sources"),
    "cooperation": ("city", "country", "legal_basis", "members", "model", "sources"),
    "practice": (
        "cities",
        "cooperations",
        "country",
        "organisations",
        "parent",
        "predecessor",
        "sources",
        "themes",
    ),
    "contact_point": ("organisation", "practice", "sources"),
}
"""Per entity: the fields whose references `expand` can embed (a source references nothing)."""

CHUNK = 500
"""Ids per query: a page of 500 records may name thousands of records of one type."""


def pattern(entity: str) -> str:
    names = "|".join(EMBEDDABLE[entity])
    return f"^({names})(,({names}))*$"


def parameter(entity: str, collection: str) -> Any:
    """The `expand` query parameter of `collection`'s list and record, as a dependency: it
    declares the parameter (with the names this collection can embed) and leaves the names
    asked for in `request.state.expand`."""
    allowed = EMBEDDABLE[entity]
    example = ",".join(allowed[:2])

    async def expand_parameter(
        request: Request,
        expand: Annotated[
            str | None,
            Query(
                description=(
                    "Embed the records these fields reference, comma-separated (one of: "
                    f"{', '.join(allowed)}). Each of their references then carries `record`: "
                    "the referenced record as its `href` gives it, in the same languages, one "
                    "level deep (its own references stay references). Another name is refused "
                    "with 400. JSON only: CSV lists references by id."
                ),
                examples=[example],
                # Checked below, so that the 400 names the fields this collection can embed.
                json_schema_extra={"pattern": pattern(entity)},
            ),
        ] = None,
    ) -> None:
        request.state.expand = names(entity, collection, expand)

    return expand_parameter


def names(entity: str, collection: str, value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    asked = value.split(",")
    allowed = EMBEDDABLE[entity]
    unknown = [name for name in asked if name not in allowed]
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise ProblemError(
            400,
            f"expand: {shown} cannot be embedded in /v2/{collection}. "
            f"It can embed: {', '.join(allowed)} (comma-separated).",
            errors=[{"parameter": "expand", "in": "query", "message": "not embeddable"}],
            allowed=list(allowed),
        )
    return tuple(dict.fromkeys(asked))


def _references(value: Any) -> Iterator[dict[str, Any]]:
    """The references in a field's value: a reference, a list of them, or objects holding
    them (a cooperation's members)."""
    if isinstance(value, list):
        for item in value:
            yield from _references(item)
    elif isinstance(value, dict):
        if {"id", "type", "href"} <= value.keys():
            yield value
        else:
            for item in value.values():
                yield from _references(item)


def embed(ctx: Context, records: list[dict[str, Any]], fields: tuple[str, ...]) -> None:
    """Put into every reference of `fields` (in each of `records`) the record it names, as
    `record`; a reference to a record that is not published keeps no `record`."""
    if not fields:
        return
    references = [ref for r in records for field in fields for ref in _references(r.get(field))]
    wanted: dict[str, set[str]] = defaultdict(set)
    for ref in references:
        wanted[ref["type"]].add(ref["id"])
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for entity, ids in wanted.items():
        t = table(entity)
        ordered = sorted(ids)
        for start in range(0, len(ordered), CHUNK):
            query = published(
                sa.select(t).where(t.c.id.in_(ordered[start : start + CHUNK])).order_by(t.c.id),
                entity,
                t,
                personal_contacts=ctx.personal_contacts,
            )
            rows = ctx.db.execute(query).mappings().all()
            for record in build(ctx, entity, rows):
                found[(entity, record["id"])] = record
    for ref in references:
        embedded = found.get((ref["type"], ref["id"]))
        if embedded is not None:
            ref["record"] = embedded


RECORD_NOTE = (
    "Present only with `expand` naming this reference's field: the referenced record as its "
    "`href` gives it (one level deep; absent if that record is not published)."
)


def declare_embedded_records(spec: dict[str, Any], entity_schemas: dict[str, str]) -> None:
    """Give the contract's reference schemas their optional `record`: one of the entity
    schemas (`entity_schemas`: entity type -> schema name), told apart by `type`."""
    schemas = spec["components"]["schemas"]
    record = {
        "oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in entity_schemas.values()],
        "discriminator": {
            "propertyName": "type",
            "mapping": {
                entity: f"#/components/schemas/{name}" for entity, name in entity_schemas.items()
            },
        },
        "description": RECORD_NOTE,
    }
    for name in ("Ref", "RoleRef", "SourceRef"):
        schemas[name]["properties"]["record"] = record
