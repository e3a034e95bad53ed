"""Records as v1 represents them, built from their own rows only.

A record holds its own fields, the relationships it owns (as references: id, type, href, and the
role where there is one) and its sources. Relationships owned by other records (an
organisation's children, a city's practices, the records citing a source) are links to filtered
collections (`links.children` = `/v1/organisations?parent=pet`). So a record's representation
changes exactly when its own data does: its `version`, its ETag and the change feed agree, and a
copy kept in sync by applying the feed is exact.

`build(ctx, entity, rows)` fetches the owned link rows for a whole page at once.

The same builders serve API v2 (`Context(..., api=V2)`): translatable texts stay language maps
(narrowed to the reader's language when one is asked for), references point under /v2, and the
fields v2 added or dropped are the only other differences (docs/CHANGELOG.md).
"""

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal
from functools import cache, lru_cache
from operator import itemgetter
from typing import Any, TypeVar
from urllib.parse import quote

import sqlalchemy as sa

from app import i18n
from app.models import table

Row = sa.RowMapping | dict[str, Any]
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

REVERSE_LINKS: dict[str, dict[str, tuple[str, str]]] = {
    "source": {COLLECTIONS[e]: (e, "source") for e in COLLECTIONS if e != "source"},
    "theme": {"cities": ("city", "theme"), "practices": ("practice", "theme")},
    "country": {
        "action_plans": ("action_plan", "country"),
        "legal_bases": ("legal_basis", "country"),
        "cities": ("city", "country"),
        "organisations": ("organisation", "country"),
        "cooperations": ("cooperation", "country"),
        "practices": ("practice", "country"),
    },
    "action_plan": {},
    "legal_basis": {"cooperations": ("cooperation", "legal_basis")},
    "city": {
        "organisations": ("organisation", "city"),
        "cooperations": ("cooperation", "city"),
        "practices": ("practice", "city"),
    },
    "organisation": {
        "children": ("organisation", "parent"),
        "related_from": ("organisation", "related_to"),
        "cooperations": ("cooperation", "organisation"),
        "practices": ("practice", "organisation"),
        "contact_points": ("contact_point", "organisation"),
    },
    "cooperation": {
        "local_instances": ("cooperation", "model"),
        "member_of": ("cooperation", "member_cooperation"),
        "practices": ("practice", "cooperation"),
    },
    "practice": {
        "sub_practices": ("practice", "parent"),
        "successors": ("practice", "predecessor"),
        "contact_points": ("contact_point", "practice"),
    },
    "contact_point": {},
}
"""Per entity: link name -> (entity listed, filter naming this record). Each becomes
`links.<name>` = the filtered collection of the records on the other side of a relationship."""


V1 = "/v1"
V2 = "/v2"

_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]+")  # what quote(safe="") leaves as it is


@lru_cache(maxsize=65536)
def quoted(record_id: str) -> str:
    """`record_id` for a URL path or query: quote()'s result, without its cost for plain ids
    (a large share of an export's time went to quoting every id of every reference)."""
    return record_id if _UNRESERVED.fullmatch(record_id) else quote(record_id, safe="")


def href(entity: str, record_id: str, api: str = V1) -> str:
    return f"{api}/{COLLECTIONS[entity]}/{quoted(record_id)}"


def partial_date(value: date | None, precision: str | None) -> Dict | None:
    if value is None:
        return None
    return {"date": value.isoformat(), "precision": precision}


def number(value: Decimal | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def ref(entity: str, record_id: str | None, api: str = V1) -> Dict | None:
    if record_id is None:
        return None
    return {"id": record_id, "type": entity, "href": href(entity, record_id, api)}


def role_ref(
    entity: str, record_id: str, role: str, note: str | None = None, api: str = V1
) -> Dict:
    return {
        "id": record_id,
        "type": entity,
        "href": href(entity, record_id, api),
        "role": role,
        "note": note,
    }


def links(entity: str, record_id: str, api: str = V1) -> dict[str, str]:
    target = quoted(record_id)
    out = {"self": f"{api}/{COLLECTIONS[entity]}/{target}"}
    for name, (listed, filter_name) in REVERSE_LINKS[entity].items():
        out[name] = f"{api}/{COLLECTIONS[listed]}?{filter_name}={target}"
    return out


ShownRow = TypeVar("ShownRow", bound=Row)


def shown_order(link_table: str, rows: Iterable[ShownRow]) -> list[ShownRow]:
    """A record's rows of `link_table` in the order its record shows them, the same on every
    engine and collation (code points, as Python sorts): by the table's key, a practice's
    figures by theirs, a citation by its source; where the key is a row number (a city's
    leaders, a cooperation's members, a record's evidence), in the order they were written."""
    order = _shown_by(link_table)
    return sorted(rows, key=order) if order else list(rows)


@cache
def _shown_by(link_table: str) -> Callable[[Row], Any] | None:
    if link_table in _SHOWN_BY:
        return _SHOWN_BY[link_table]
    key = [c.name for c in table(link_table).primary_key.columns]
    return None if key == ["id"] else itemgetter(*key)  # a value, or a tuple: either sorts


_SHOWN_BY: dict[str, Callable[[Row], Any]] = {
    "citation": itemgetter("source_id"),  # one citation a source (a unique key)
    "practice_figure": itemgetter("key"),  # one figure a key (a unique key)
}


def published(
    query: sa.Select[Any], entity: str, t: sa.Table, *, personal_contacts: bool
) -> sa.Select[Any]:
    """`query` limited to what is published: contact points that identify a private person are
    withheld unless the operator publishes them (PUBLISH_PERSONAL_CONTACTS)."""
    if entity == "contact_point" and not personal_contacts:
        # `IS NOT true` (the column is never NULL), which no index serves: for `IS false` or
        # `= 0` SQLite chose the is_personal index and read every published contact point
        # (110,000 at a million records) instead of looking up the ids a query asks for.
        return query.where(t.c.is_personal.is_not(True))
    return query


class Context:
    """One request's database access (link rows fetched for a page of records at a time) and
    how it renders: which API version (`api`, its path prefix) and, for v2, which languages
    (`languages`: the reader's, best first; None for every language)."""

    def __init__(
        self,
        connection: sa.Connection | None,
        *,
        personal_contacts: bool,
        api: str = V1,
        languages: list[str] | None = None,
    ) -> None:
        self.connection = connection
        self.personal_contacts = personal_contacts
        self.api = api
        self.languages = languages
        self.languages_used: set[str] = set()
        self.link_rows: dict[tuple[str, ...], Any] = {}
        """Link rows already read, by query: contexts that render the same rows in several
        versions share it (app/representation.py), so each link table is read once."""

    @property
    def db(self) -> sa.Connection:
        """The connection rows are read on (a context made without one renders only rows it
        was given: app/representation.py `render_held`)."""
        if self.connection is None:
            raise LookupError("rendering needs rows it was not given and has no database")
        return self.connection

    def ref(self, entity: str, record_id: str | None) -> Dict | None:
        return ref(entity, record_id, self.api)

    def role_ref(self, entity: str, record_id: str, role: str, note: str | None = None) -> Dict:
        return role_ref(entity, record_id, role, note, self.api)

    def text(self, value: Any, *, is_list: bool = False) -> Any:
        """A stored language map as this API version shows it."""
        if self.api == V1:
            return i18n.primary(value)[1] or ([] if is_list else None)
        shown = value if self.languages is None or not value else i18n.narrow(value, self.languages)
        if shown:
            self.languages_used.update(shown)
        return shown

    def localised(self, entity: str, row: Row) -> Dict:
        out = dict(row)
        for name in i18n.TEXT_FIELDS.get(entity, ()):
            out[name] = self.text(row[name])
        for name in i18n.TEXT_LIST_FIELDS.get(entity, ()):
            out[name] = self.text(row[name], is_list=True)
        if entity == "theme" and self.api == V1:
            out["label_language"] = i18n.primary(row["label"])[0]
        return out

    def grouped(self, link_table: str, column: str, ids: Iterable[str]) -> dict[str, list[Row]]:
        """Rows of `link_table` whose `column` is one of `ids`, grouped by that column."""
        id_list = sorted(set(ids))
        key = (link_table, column, *id_list)
        if key in self.link_rows:
            return self.link_rows[key]
        t = table(link_table)
        out: dict[str, list[Row]] = defaultdict(list)
        if id_list:
            order = list(t.primary_key.columns)
            query = sa.select(t).where(t.c[column].in_(id_list)).order_by(*order)
            for row in self.db.execute(query).mappings():
                out[row[column]].append(row)
            for owner, found in out.items():
                out[owner] = shown_order(link_table, found)
        self.link_rows[key] = out
        return out

    def names(self, entity: str, ids: Iterable[str]) -> dict[str, Any]:
        """Names of records (for search hits, which are not records themselves)."""
        t = table(entity)
        id_list = sorted(set(ids))
        if not id_list:
            return {}
        query = published(
            sa.select(t.c.id, t.c[NAME_COLUMN[entity]]).where(t.c.id.in_(id_list)),
            entity,
            t,
            personal_contacts=self.personal_contacts,
        )
        translated = NAME_COLUMN[entity] in i18n.TEXT_FIELDS.get(entity, ())
        return {
            record_id: self.text(name) if translated else name
            for record_id, name in self.db.execute(query)
        }


def _base(entity: str, row: Row, citations: list[Row], api: str) -> Dict:
    return {
        "id": row["id"],
        "type": entity,
        "version": row["version"],
        "updated_at": row["updated_at"],
        "sources": [
            {
                "id": c["source_id"],
                "type": "source",
                "href": href("source", c["source_id"], api),
                "section": c["section"],
            }
            for c in citations
        ],
        "links": links(entity, row["id"], api),
    }


def _citations(ctx: Context, entity: str, ids: list[str]) -> dict[str, list[Row]]:
    key = ("citation", entity, *ids)
    if key in ctx.link_rows:
        return ctx.link_rows[key]
    t = table("citation")
    out: dict[str, list[Row]] = defaultdict(list)
    ctx.link_rows[key] = out
    if not ids:
        return out
    query = (
        sa.select(t)
        .where(t.c.entity_type == entity, t.c.entity_id.in_(ids))
        .order_by(t.c.entity_id, t.c.source_id)
    )
    for row in ctx.db.execute(query).mappings():
        out[row["entity_id"]].append(row)
    for owner, found in out.items():
        out[owner] = shown_order("citation", found)
    return out


def _age_range(low: int | None, high: int | None) -> Dict | None:
    return None if low is None or high is None else {"min": low, "max": high}


# --- one builder per entity: (ctx, page rows) -> per-row extra fields --------------------------

Builder = Callable[[Context, Sequence[Row]], list[Dict]]


def _source(ctx: Context, rows: Sequence[Row]) -> list[Dict]:
    return [
        {
            "title": r["title"],
            "publisher": r["publisher"],
            "kind": r["kind"],
            "language": r["language"],
            "url": r["url"],
            "document": r["document"],
            "last_modified": partial_date(r["last_modified"], r["last_modified_precision"]),
            "description": r["description"],
        }
        for r in rows
    ]


def _theme(ctx: Context, rows: Sequence[Row]) -> list[Dict]:
    # v2 drops label_language: the label's language map says it.
    return [
        {"label": r["label"]}
        | ({"label_language": r["label_language"]} if ctx.api == V1 else {})
        | {"scheme": r["scheme"], "description": r["description"]}
        for r in rows
    ]


def _country(ctx: Context, rows: Sequence[Row]) -> list[Dict]:
    strategy = ctx.grouped("country_strategy_organisation", "country_id", [r["id"] for r in rows])
    return [
        {
            "iso_code": r["iso_code"],
            "name": r["name"],
            "national_overview": r["national_overview"],
            "strategy_lead": r["strategy_lead"],
            "strategy_organisations": [
                ctx.role_ref("organisation", s["organisation_id"], s["role"], s["note"])
                for s in strategy[r["id"]]
            ],
            "municipality_count": r["municipality_count"],
            "police_district_count": r["police_district_count"],
            "region_count": r["region_count"],
        }
        for r in rows
    ]


def _action_plan(ctx: Context, rows: Sequence[Row]) -> list[Dict]:
    return [
        {
            "country": ctx.ref("country", r["country_id"]),
            "year": r["year"],
            "title": r["title"],
            "status": r["status"],
            "summary": r["summary"],
            "emphases": r["emphases"],
        }
        for r in rows
    ]


def _legal_basis(ctx: Context, rows: Sequence[Row]) -> list[Dict]:
    return [
        {
            "country": ctx.ref("country", r["country_id"]),
            "citation": r["citation"],
            "act": r["act"],
            "section": r["section"],
            "allows": r["allows"],
            "forbids": r["forbids"],
        }
        for r in rows
    ]


def _city(ctx: Context, rows: Sequence[Row]) -> list[Dict]:
    ids = [r["id"] for r in rows]
    leaders = ctx.grouped("city_leader", "city_id", ids)
    themes = ctx.grouped("city_theme", "city_id", ids)
    return [
        {
            "name": r["name"],
            "country": ctx.ref("country", r["country_id"]),
            "population": r["population"],
            "scn_member": r["scn_member"],
            "scn_member_since": partial_date(
                r["scn_member_since"], r["scn_member_since_precision"]
            ),
            "leaders": [
                {"role": x["role"], "person_name": x["person_name"], "title": x["title"]}
                for x in leaders[r["id"]]
            ],
            "background": r["background"],
            "local_overview": r["local_overview"],
            "policy_basis": r["policy_basis"],
            "tenets": r["tenets"],
            "motto": r["motto"],
            "focus_ages": _age_range(r["focus_age_min"], r["focus_age_max"]),
            "international_exchange_since": r["international_exchange_since"],
            "international_exchange_partners": r["international_exchange_partners"],
            "themes": [ctx.ref("theme", t["theme_id"]) for t in themes[r["id"]]],
        }
        for r in rows
    ]


def _organisation(ctx: Context, rows: Sequence[Row]) -> list[Dict]:
    relations = ctx.grouped("organisation_relation", "organisation_id", [r["id"] for r in rows])
    return [
        {
            "name": r["name"],
            "acronym": r["acronym"],
            "kind": r["kind"],
            "sector": r["sector"],
            "level": r["level"],
            "country": ctx.ref("country", r["country_id"]),
            "city": ctx.ref("city", r["city_id"]),
            "parent": ctx.ref("organisation", r["parent_id"]),
            "description": r["description"],
            "website": r["website"],
            "established": partial_date(r["established"], r["established_precision"]),
            "legal_form": r["legal_form"],
            "registration": (
                {"number": r["registration_number"], "country": r["registration_country"]}
                if r["registration_number"]
                else None
            ),
            "relations": [
                ctx.role_ref("organisation", x["related_organisation_id"], x["kind"], x["note"])
                for x in relations[r["id"]]
            ],
        }
        | (
            {"mission": r["mission"], "mission_keywords": r["mission_keywords"]}
            if ctx.api != V1
            else {}
        )
        for r in rows
    ]


def _cooperation(ctx: Context, rows: Sequence[Row]) -> list[Dict]:
    members = ctx.grouped("cooperation_member", "cooperation_id", [r["id"] for r in rows])
    return [
        {
            "name": r["name"],
            "acronym": r["acronym"],
            "kind": r["kind"],
            "scope": r["scope"],
            "country": ctx.ref("country", r["country_id"]),
            "city": ctx.ref("city", r["city_id"]),
            "model": ctx.ref("cooperation", r["model_id"]),
            "legal_basis": ctx.ref("legal_basis", r["legal_basis_id"]),
            "established": partial_date(r["established"], r["established_precision"]),
            "established_by_law": r["established_by_law"],
            "purpose": r["purpose"],
            "target_group": r["target_group"],
            "description": r["description"],
            "members": [
                {
                    "organisation": ctx.ref("organisation", m["organisation_id"]),
                    "cooperation": ctx.ref("cooperation", m["member_cooperation_id"]),
                    "sector": m["sector"],
                    "role": m["role"],
                    "note": m["note"],
                }
                for m in members[r["id"]]
            ],
        }
        for r in rows
    ]


def _practice(ctx: Context, rows: Sequence[Row]) -> list[Dict]:
    ids = [r["id"] for r in rows]
    figures = ctx.grouped("practice_figure", "practice_id", ids)
    organisations = ctx.grouped("practice_organisation", "practice_id", ids)
    cooperations = ctx.grouped("practice_cooperation", "practice_id", ids)
    cities = ctx.grouped("practice_city", "practice_id", ids)
    themes = ctx.grouped("practice_theme", "practice_id", ids)
    out = []
    for r in rows:
        start = partial_date(r["period_start"], r["period_start_precision"])
        end = partial_date(r["period_end"], r["period_end_precision"])
        out.append(
            {
                "name": r["name"],
                "acronym": r["acronym"],
                "kind": r["kind"],
                "status": r["status"],
                "country": ctx.ref("country", r["country_id"]),
                "parent": ctx.ref("practice", r["parent_id"]),
                "predecessor": ctx.ref("practice", r["predecessor_id"]),
                "summary": r["summary"],
                "aims": r["aims"],
                "target_groups": r["target_groups"],
                "methods": r["methods"],
                "ages": _age_range(r["age_min"], r["age_max"]),
                "period": {"start": start, "end": end} if start or end else None,
                "availability": r["availability"],
                "funding": (
                    {"kind": r["funding_kind"], "description": r["funding"]}
                    if r["funding_kind"] or r["funding"]
                    else None
                ),
                "cost": (
                    {
                        "amount": number(r["cost_amount"]),
                        "currency": r["cost_currency"],
                        "estimate": r["cost_is_estimate"],
                    }
                    if r["cost_amount"] is not None
                    else None
                ),
                "participants_pay_fee": r["participants_pay_fee"],
                "website": r["website"],
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
                    for f in figures[r["id"]]  # shown by key (shown_order)
                ],
                "organisations": [
                    ctx.role_ref("organisation", o["organisation_id"], o["role"], o["note"])
                    for o in organisations[r["id"]]
                ],
                "cooperations": [
                    ctx.role_ref("cooperation", c["cooperation_id"], c["role"])
                    for c in cooperations[r["id"]]
                ],
                "cities": [ctx.ref("city", c["city_id"]) for c in cities[r["id"]]],
                "themes": [ctx.ref("theme", t["theme_id"]) for t in themes[r["id"]]],
            }
        )
    return out


def _contact_point(ctx: Context, rows: Sequence[Row]) -> list[Dict]:
    return [
        {
            "kind": r["kind"],
            "value": r["value"],
            "label": r["label"],
            "is_personal": r["is_personal"],
            "person_name": r["person_name"],
            "organisation": ctx.ref("organisation", r["organisation_id"]),
            "practice": ctx.ref("practice", r["practice_id"]),
            "address": (
                {
                    "street": r["street_address"],
                    "postal_code": r["postal_code"],
                    "locality": r["locality"],
                    "country": r["country_code"],
                }
                if r["kind"] == "postal_address"
                else None
            ),
        }
        for r in rows
    ]


BUILDERS: dict[str, Builder] = {
    "source": _source,
    "theme": _theme,
    "country": _country,
    "action_plan": _action_plan,
    "legal_basis": _legal_basis,
    "city": _city,
    "organisation": _organisation,
    "cooperation": _cooperation,
    "practice": _practice,
    "contact_point": _contact_point,
}


def build(ctx: Context, entity: str, rows: Sequence[Row]) -> list[Dict]:
    """The representation of `rows` (rows of `entity`'s table, in the order given) in the API
    version and languages of `ctx`."""
    cites = _citations(ctx, entity, [r["id"] for r in rows]) if entity != "source" else {}
    localised = [ctx.localised(entity, r) for r in rows]
    fields = BUILDERS[entity](ctx, localised)
    return [
        _base(entity, row, cites.get(row["id"], []), ctx.api) | extra
        for row, extra in zip(rows, fields, strict=True)
    ]


def versioned_href(api: str, entity: str, record_id: str) -> str:
    return href(entity, record_id, api)
