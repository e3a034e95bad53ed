"""Records as v1 represents them: rows plus their relationships, fetched in batches.

`build(connection, entity, rows)` turns rows of one entity's table into v1 dicts. Each related
record becomes a `Ref` (id, type, name, href); relationships are fetched for the whole page at
once (`WHERE owner IN (...)`), so a page costs a fixed number of queries, not one per record.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

Row = sa.RowMapping
Dict = dict[str, Any]

COLLECTIONS = {
    "source": "sources",
    "theme": "themes",
    "country": "countries",
    "action_plan": "action-plans",
    "legal_basis": "legal-bases",
    "city": "cities",
    "organisation": "organisations",
    "cooperation": "cooperations",
    "practice": "practices",
    "contact_point": "contact-points",
}
"""Entity -> its collection's URL segment under /v1."""

NAME_COLUMN = {
    "source": "title",
    "theme": "label",
    "country": "name",
    "action_plan": "title",
    "legal_basis": "citation",
    "city": "name",
    "organisation": "name",
    "cooperation": "name",
    "practice": "name",
    "contact_point": "value",
}


def table(name: str) -> sa.Table:
    return SQLModel.metadata.tables[name]


def href(entity: str, record_id: str) -> str:
    return f"/v1/{COLLECTIONS[entity]}/{record_id}"


def partial_date(value: date | None, precision: str | None) -> Dict | None:
    if value is None:
        return None
    return {"date": value.isoformat(), "precision": precision}


def number(value: Decimal | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


class Context:
    """One request's view of the database: names of referenced records, loaded in batches."""

    def __init__(self, connection: sa.Connection, *, personal_contacts: bool) -> None:
        self.connection = connection
        self.personal_contacts = personal_contacts
        self._names: dict[str, dict[str, str]] = defaultdict(dict)

    def rows(self, query: sa.Select[Any]) -> Sequence[Row]:
        return self.connection.execute(query).mappings().all()

    def links(self, link_table: str, column: str, ids: Iterable[str]) -> dict[str, list[Row]]:
        """Rows of `link_table` whose `column` is one of `ids`, grouped by that column."""
        t = table(link_table)
        grouped: dict[str, list[Row]] = defaultdict(list)
        id_list = sorted(set(ids))
        if not id_list:
            return grouped
        order = [c for c in t.primary_key.columns]
        for row in self.rows(sa.select(t).where(t.c[column].in_(id_list)).order_by(*order)):
            grouped[row[column]].append(row)
        return grouped

    def preload(self, entity: str, ids: Iterable[str | None]) -> None:
        wanted = {i for i in ids if i is not None} - set(self._names[entity])
        if not wanted:
            return
        t = table(entity)
        query = sa.select(t.c.id, t.c[NAME_COLUMN[entity]]).where(t.c.id.in_(sorted(wanted)))
        if entity == "contact_point" and not self.personal_contacts:
            query = query.where(t.c.is_personal.is_(False))
        for record_id, name in self.connection.execute(query):
            self._names[entity][record_id] = name

    def ref(self, entity: str, record_id: str | None) -> Dict | None:
        if record_id is None:
            return None
        self.preload(entity, [record_id])
        name = self._names[entity].get(record_id)
        if name is None:
            return None
        return {"id": record_id, "type": entity, "name": name, "href": href(entity, record_id)}

    def refs(self, entity: str, ids: Iterable[str]) -> list[Dict]:
        id_list = list(ids)
        self.preload(entity, id_list)
        return [r for r in (self.ref(entity, i) for i in id_list) if r is not None]

    def role_ref(self, entity: str, record_id: str, role: str, note: str | None = None) -> Dict:
        ref = self.ref(entity, record_id)
        assert ref is not None, f"{entity} {record_id} is referenced but missing"
        return ref | {"role": role, "note": note}


def _base(entity: str, row: Row, citations: list[Row], ctx: Context) -> Dict:
    ctx.preload("source", [c["source_id"] for c in citations])
    sources = []
    for citation in citations:
        ref = ctx.ref("source", citation["source_id"])
        assert ref is not None
        sources.append(ref | {"section": citation["section"]})
    return {
        "id": row["id"],
        "type": entity,
        "version": row["version"],
        "updated_at": row["updated_at"],
        "sources": sources,
        "links": {"self": href(entity, row["id"])},
    }


def _citations(ctx: Context, entity: str, ids: list[str]) -> dict[str, list[Row]]:
    t = table("citation")
    grouped: dict[str, list[Row]] = defaultdict(list)
    if not ids:
        return grouped
    query = (
        sa.select(t)
        .where(t.c.entity_type == entity, t.c.entity_id.in_(ids))
        .order_by(t.c.entity_id, t.c.source_id)
    )
    for row in ctx.rows(query):
        grouped[row["entity_id"]].append(row)
    return grouped


def _ids_where(ctx: Context, entity: str, column: str, ids: list[str]) -> dict[str, list[str]]:
    """For each of `ids`: the ids of `entity` records whose `column` is it (reverse links)."""
    t = table(entity)
    grouped: dict[str, list[str]] = defaultdict(list)
    if not ids:
        return grouped
    query = sa.select(t.c.id, t.c[column]).where(t.c[column].in_(ids)).order_by(t.c.id)
    if entity == "contact_point" and not ctx.personal_contacts:
        query = query.where(t.c.is_personal.is_(False))
    for record_id, owner in ctx.connection.execute(query):
        grouped[owner].append(record_id)
    return grouped


def _contacts(ctx: Context, column: str, ids: list[str]) -> dict[str, list[Dict]]:
    t = table("contact_point")
    grouped: dict[str, list[Dict]] = defaultdict(list)
    if not ids:
        return grouped
    query = sa.select(t).where(t.c[column].in_(ids)).order_by(t.c.id)
    if not ctx.personal_contacts:
        query = query.where(t.c.is_personal.is_(False))
    for row in ctx.rows(query):
        grouped[row[column]].append(
            {
                "id": row["id"],
                "kind": row["kind"],
                "value": row["value"],
                "label": row["label"],
                "href": href("contact_point", row["id"]),
            }
        )
    return grouped


# --- one builder per entity -----------------------------------------------------------------


def _sources(ctx: Context, rows: Sequence[Row]) -> list[Dict]:
    ids = [r["id"] for r in rows]
    t = table("citation")
    cited_by: dict[str, list[tuple[str, str]]] = defaultdict(list)
    if ids:
        query = (
            sa.select(t.c.source_id, t.c.entity_type, t.c.entity_id)
            .where(t.c.source_id.in_(ids))
            .order_by(t.c.entity_type, t.c.entity_id)
        )
        for source_id, entity, entity_id in ctx.connection.execute(query):
            cited_by[source_id].append((entity, entity_id))
    by_entity: dict[str, set[str]] = defaultdict(set)
    for pairs in cited_by.values():
        for entity, entity_id in pairs:
            by_entity[entity].add(entity_id)
    for entity, entity_ids in by_entity.items():
        ctx.preload(entity, entity_ids)
    out = []
    for row in rows:
        refs = [ctx.ref(e, i) for e, i in cited_by[row["id"]]]
        out.append(
            _base("source", row, [], ctx)
            | {
                "title": row["title"],
                "publisher": row["publisher"],
                "kind": row["kind"],
                "language": row["language"],
                "url": row["url"],
                "document": row["document"],
                "last_modified": partial_date(row["last_modified"], row["last_modified_precision"]),
                "description": row["description"],
                "cited_by": [r for r in refs if r is not None],
            }
        )
    return out


def _themes(ctx: Context, rows: Sequence[Row], cites: dict[str, list[Row]]) -> list[Dict]:
    ids = [r["id"] for r in rows]
    cities = ctx.links("city_theme", "theme_id", ids)
    practices = ctx.links("practice_theme", "theme_id", ids)
    return [
        _base("theme", row, cites[row["id"]], ctx)
        | {
            "label": row["label"],
            "label_language": row["label_language"],
            "scheme": row["scheme"],
            "description": row["description"],
            "cities": ctx.refs("city", [c["city_id"] for c in cities[row["id"]]]),
            "practices": ctx.refs("practice", [p["practice_id"] for p in practices[row["id"]]]),
        }
        for row in rows
    ]


def _countries(ctx: Context, rows: Sequence[Row], cites: dict[str, list[Row]]) -> list[Dict]:
    ids = [r["id"] for r in rows]
    strategy = ctx.links("country_strategy_organisation", "country_id", ids)
    plans = _ids_where(ctx, "action_plan", "country_id", ids)
    bases = _ids_where(ctx, "legal_basis", "country_id", ids)
    cities = _ids_where(ctx, "city", "country_id", ids)
    return [
        _base("country", row, cites[row["id"]], ctx)
        | {
            "iso_code": row["iso_code"],
            "name": row["name"],
            "national_overview": row["national_overview"],
            "strategy_lead": row["strategy_lead"],
            "strategy_organisations": [
                ctx.role_ref("organisation", s["organisation_id"], s["role"], s["note"])
                for s in strategy[row["id"]]
            ],
            "municipality_count": row["municipality_count"],
            "police_district_count": row["police_district_count"],
            "region_count": row["region_count"],
            "action_plans": ctx.refs("action_plan", plans[row["id"]]),
            "legal_bases": ctx.refs("legal_basis", bases[row["id"]]),
            "cities": ctx.refs("city", cities[row["id"]]),
        }
        for row in rows
    ]


def _action_plans(ctx: Context, rows: Sequence[Row], cites: dict[str, list[Row]]) -> list[Dict]:
    return [
        _base("action_plan", row, cites[row["id"]], ctx)
        | {
            "country": ctx.ref("country", row["country_id"]),
            "year": row["year"],
            "title": row["title"],
            "status": row["status"],
            "summary": row["summary"],
            "emphases": list(row["emphases"]),
        }
        for row in rows
    ]


def _legal_bases(ctx: Context, rows: Sequence[Row], cites: dict[str, list[Row]]) -> list[Dict]:
    cooperations = _ids_where(ctx, "cooperation", "legal_basis_id", [r["id"] for r in rows])
    return [
        _base("legal_basis", row, cites[row["id"]], ctx)
        | {
            "country": ctx.ref("country", row["country_id"]),
            "citation": row["citation"],
            "act": row["act"],
            "section": row["section"],
            "allows": row["allows"],
            "forbids": row["forbids"],
            "cooperations": ctx.refs("cooperation", cooperations[row["id"]]),
        }
        for row in rows
    ]


def _age_range(low: int | None, high: int | None) -> Dict | None:
    return None if low is None or high is None else {"min": low, "max": high}


def _cities(ctx: Context, rows: Sequence[Row], cites: dict[str, list[Row]]) -> list[Dict]:
    ids = [r["id"] for r in rows]
    leaders = ctx.links("city_leader", "city_id", ids)
    themes = ctx.links("city_theme", "city_id", ids)
    organisations = _ids_where(ctx, "organisation", "city_id", ids)
    cooperations = _ids_where(ctx, "cooperation", "city_id", ids)
    practices = ctx.links("practice_city", "city_id", ids)
    return [
        _base("city", row, cites[row["id"]], ctx)
        | {
            "name": row["name"],
            "country": ctx.ref("country", row["country_id"]),
            "population": row["population"],
            "scn_member": row["scn_member"],
            "scn_member_since": partial_date(
                row["scn_member_since"], row["scn_member_since_precision"]
            ),
            "leaders": [
                {"role": x["role"], "person_name": x["person_name"], "title": x["title"]}
                for x in leaders[row["id"]]
            ],
            "background": row["background"],
            "local_overview": row["local_overview"],
            "policy_basis": row["policy_basis"],
            "tenets": list(row["tenets"]),
            "motto": row["motto"],
            "focus_ages": _age_range(row["focus_age_min"], row["focus_age_max"]),
            "international_exchange_since": row["international_exchange_since"],
            "international_exchange_partners": list(row["international_exchange_partners"]),
            "themes": ctx.refs("theme", [t["theme_id"] for t in themes[row["id"]]]),
            "organisations": ctx.refs("organisation", organisations[row["id"]]),
            "cooperations": ctx.refs("cooperation", cooperations[row["id"]]),
            "practices": ctx.refs("practice", [p["practice_id"] for p in practices[row["id"]]]),
        }
        for row in rows
    ]


def _organisations(ctx: Context, rows: Sequence[Row], cites: dict[str, list[Row]]) -> list[Dict]:
    ids = [r["id"] for r in rows]
    children = _ids_where(ctx, "organisation", "parent_id", ids)
    relations = ctx.links("organisation_relation", "organisation_id", ids)
    related_from = ctx.links("organisation_relation", "related_organisation_id", ids)
    memberships = ctx.links("cooperation_member", "organisation_id", ids)
    practices = ctx.links("practice_organisation", "organisation_id", ids)
    contacts = _contacts(ctx, "organisation_id", ids)
    return [
        _base("organisation", row, cites[row["id"]], ctx)
        | {
            "name": row["name"],
            "acronym": row["acronym"],
            "kind": row["kind"],
            "sector": row["sector"],
            "level": row["level"],
            "country": ctx.ref("country", row["country_id"]),
            "city": ctx.ref("city", row["city_id"]),
            "parent": ctx.ref("organisation", row["parent_id"]),
            "children": ctx.refs("organisation", children[row["id"]]),
            "description": row["description"],
            "website": row["website"],
            "established": partial_date(row["established"], row["established_precision"]),
            "legal_form": row["legal_form"],
            "registration": (
                {"number": row["registration_number"], "country": row["registration_country"]}
                if row["registration_number"]
                else None
            ),
            "relations": [
                ctx.role_ref("organisation", r["related_organisation_id"], r["kind"], r["note"])
                for r in relations[row["id"]]
            ],
            "related_from": [
                ctx.role_ref("organisation", r["organisation_id"], r["kind"], r["note"])
                for r in related_from[row["id"]]
            ],
            "cooperations": [
                ctx.role_ref("cooperation", m["cooperation_id"], m["role"], m["note"])
                for m in memberships[row["id"]]
            ],
            "practices": [
                ctx.role_ref("practice", p["practice_id"], p["role"], p["note"])
                for p in practices[row["id"]]
            ],
            "contact_points": contacts[row["id"]],
        }
        for row in rows
    ]


def _cooperations(ctx: Context, rows: Sequence[Row], cites: dict[str, list[Row]]) -> list[Dict]:
    ids = [r["id"] for r in rows]
    members = ctx.links("cooperation_member", "cooperation_id", ids)
    member_of = ctx.links("cooperation_member", "member_cooperation_id", ids)
    instances = _ids_where(ctx, "cooperation", "model_id", ids)
    practices = ctx.links("practice_cooperation", "cooperation_id", ids)
    return [
        _base("cooperation", row, cites[row["id"]], ctx)
        | {
            "name": row["name"],
            "acronym": row["acronym"],
            "kind": row["kind"],
            "scope": row["scope"],
            "country": ctx.ref("country", row["country_id"]),
            "city": ctx.ref("city", row["city_id"]),
            "model": ctx.ref("cooperation", row["model_id"]),
            "local_instances": ctx.refs("cooperation", instances[row["id"]]),
            "legal_basis": ctx.ref("legal_basis", row["legal_basis_id"]),
            "established": partial_date(row["established"], row["established_precision"]),
            "established_by_law": row["established_by_law"],
            "purpose": row["purpose"],
            "target_group": row["target_group"],
            "description": row["description"],
            "members": [
                {
                    "organisation": ctx.ref("organisation", m["organisation_id"]),
                    "cooperation": ctx.ref("cooperation", m["member_cooperation_id"]),
                    "sector": m["sector"],
                    "role": m["role"],
                    "note": m["note"],
                }
                for m in members[row["id"]]
            ],
            "member_of": [
                ctx.role_ref("cooperation", m["cooperation_id"], m["role"], m["note"])
                for m in member_of[row["id"]]
            ],
            "practices": [
                ctx.role_ref("practice", p["practice_id"], p["role"]) for p in practices[row["id"]]
            ],
        }
        for row in rows
    ]


def _practices(ctx: Context, rows: Sequence[Row], cites: dict[str, list[Row]]) -> list[Dict]:
    ids = [r["id"] for r in rows]
    subs = _ids_where(ctx, "practice", "parent_id", ids)
    successors = _ids_where(ctx, "practice", "predecessor_id", ids)
    figures = ctx.links("practice_figure", "practice_id", ids)
    organisations = ctx.links("practice_organisation", "practice_id", ids)
    cooperations = ctx.links("practice_cooperation", "practice_id", ids)
    cities = ctx.links("practice_city", "practice_id", ids)
    themes = ctx.links("practice_theme", "practice_id", ids)
    contacts = _contacts(ctx, "practice_id", ids)
    out = []
    for row in rows:
        start = partial_date(row["period_start"], row["period_start_precision"])
        end = partial_date(row["period_end"], row["period_end_precision"])
        out.append(
            _base("practice", row, cites[row["id"]], ctx)
            | {
                "name": row["name"],
                "acronym": row["acronym"],
                "kind": row["kind"],
                "status": row["status"],
                "country": ctx.ref("country", row["country_id"]),
                "parent": ctx.ref("practice", row["parent_id"]),
                "sub_practices": ctx.refs("practice", subs[row["id"]]),
                "predecessor": ctx.ref("practice", row["predecessor_id"]),
                "successors": ctx.refs("practice", successors[row["id"]]),
                "summary": row["summary"],
                "aims": list(row["aims"]),
                "target_groups": list(row["target_groups"]),
                "methods": list(row["methods"]),
                "ages": _age_range(row["age_min"], row["age_max"]),
                "period": {"start": start, "end": end} if start or end else None,
                "availability": row["availability"],
                "funding": (
                    {"kind": row["funding_kind"], "description": row["funding"]}
                    if row["funding_kind"] or row["funding"]
                    else None
                ),
                "cost": (
                    {
                        "amount": number(row["cost_amount"]),
                        "currency": row["cost_currency"],
                        "estimate": row["cost_is_estimate"],
                    }
                    if row["cost_amount"] is not None
                    else None
                ),
                "participants_pay_fee": row["participants_pay_fee"],
                "website": row["website"],
                "figures": [
                    {
                        "key": f["key"],
                        "label": f["label"],
                        "value": number(f["value"]),
                        "max": number(f["value_max"]),
                        "unit": f["unit"],
                        "per": f["per"],
                        "approximate": f["approximate"],
                    }
                    for f in sorted(figures[row["id"]], key=lambda f: f["key"])
                ],
                "organisations": [
                    ctx.role_ref("organisation", o["organisation_id"], o["role"], o["note"])
                    for o in organisations[row["id"]]
                ],
                "cooperations": [
                    ctx.role_ref("cooperation", c["cooperation_id"], c["role"])
                    for c in cooperations[row["id"]]
                ],
                "cities": ctx.refs("city", [c["city_id"] for c in cities[row["id"]]]),
                "themes": ctx.refs("theme", [t["theme_id"] for t in themes[row["id"]]]),
                "contact_points": contacts[row["id"]],
            }
        )
    return out


def _contact_points(ctx: Context, rows: Sequence[Row], cites: dict[str, list[Row]]) -> list[Dict]:
    return [
        _base("contact_point", row, cites[row["id"]], ctx)
        | {
            "kind": row["kind"],
            "value": row["value"],
            "label": row["label"],
            "is_personal": row["is_personal"],
            "person_name": row["person_name"],
            "organisation": ctx.ref("organisation", row["organisation_id"]),
            "practice": ctx.ref("practice", row["practice_id"]),
            "address": (
                {
                    "street": row["street_address"],
                    "postal_code": row["postal_code"],
                    "locality": row["locality"],
                    "country": row["country_code"],
                }
                if row["kind"] == "postal_address"
                else None
            ),
        }
        for row in rows
    ]


BUILDERS: dict[str, Callable[[Context, Sequence[Row], dict[str, list[Row]]], list[Dict]]] = {
    "theme": _themes,
    "country": _countries,
    "action_plan": _action_plans,
    "legal_basis": _legal_bases,
    "city": _cities,
    "organisation": _organisations,
    "cooperation": _cooperations,
    "practice": _practices,
    "contact_point": _contact_points,
}


def build(ctx: Context, entity: str, rows: Sequence[Row]) -> list[Dict]:
    """The v1 representation of `rows` (rows of `entity`'s table, in the order given)."""
    if entity == "source":
        return _sources(ctx, rows)
    cites = _citations(ctx, entity, [r["id"] for r in rows])
    return BUILDERS[entity](ctx, rows, cites)
