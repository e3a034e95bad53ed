"""Practices as HSDS 3.0 services, organisations as HSDS organizations.

Only facts the data holds are published; a field with no fact is left out (HSDS fields are not
nullable). Where HSDS requires a field our sources do not give (a service's `status`, an
organization's or taxonomy term's `description`), the value is composed from fields we hold,
as docs/HSDS.md states for each. Every `id` is a stable UUID (app/api/hsds/ids.py).

`services(...)` and `organizations(...)` build a whole page at once: link rows and contact
points are fetched for all the page's records in one query each.
"""

import calendar
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

from app.api.hsds.ids import hsds_id
from app.api.records import COLLECTIONS, Context, Row, published
from app.models import table

Dict = dict[str, Any]

TAXONOMY_DESCRIPTIONS = {
    "practice_kind": "What sort of practice a service is: this API's vocabulary of practice kinds.",
    "organisation_kind": "What sort of body an organization is: this API's vocabulary.",
    "sector": "The sector an organization belongs to: public, private or civil society.",
    "level": "The level an organization works at: international, national, regional or local.",
    "source": "The documents this API's records are curated from; the value is the section.",
}


class HsdsContext(Context):
    """One request's database access, plus what HSDS needs: absolute URLs and today's date.
    HSDS has one text per field: rows are read as v1 shows them (English, else the source's
    language), through `localised`."""

    def __init__(self, connection: sa.Connection, *, personal_contacts: bool, base: str) -> None:
        super().__init__(connection, personal_contacts=personal_contacts)
        self.base = base.rstrip("/")
        self.today = datetime.now(UTC).date()

    def url(self, entity: str, record_id: str | None = None) -> str:
        path = f"{self.base}/v1/{COLLECTIONS[entity]}"
        return path if record_id is None else f"{path}/{quote(record_id, safe='')}"

    def rows(self, entity: str, ids: Sequence[str]) -> dict[str, Row]:
        t = table(entity)
        id_list = sorted(set(ids))
        if not id_list:
            return {}
        query = sa.select(t).where(t.c.id.in_(id_list))
        return {r["id"]: r for r in self.db.execute(query).mappings()}

    def texts(self, entity: str, ids: Sequence[str]) -> dict[str, Row]:
        """`rows`, with their texts as v1 shows them."""
        return {i: self.localised(entity, row) for i, row in self.rows(entity, ids).items()}

    def contact_points(self, owner: str, ids: Sequence[str]) -> dict[str, list[Row]]:
        """Published contact points of records (`owner`: practice_id or organisation_id)."""
        t = table("contact_point")
        out: dict[str, list[Row]] = defaultdict(list)
        if not ids:
            return out
        query = published(
            sa.select(t).where(t.c[owner].in_(sorted(set(ids)))).order_by(t.c.id),
            "contact_point",
            t,
            personal_contacts=self.personal_contacts,
        )
        for row in self.db.execute(query).mappings():
            out[row[owner]].append(self.localised("contact_point", row))
        return out

    def citations(self, entity: str, ids: Sequence[str]) -> dict[str, list[Row]]:
        t = table("citation")
        out: dict[str, list[Row]] = defaultdict(list)
        if not ids:
            return out
        query = (
            sa.select(t)
            .where(t.c.entity_type == entity, t.c.entity_id.in_(sorted(set(ids))))
            .order_by(t.c.entity_id, t.c.source_id)
        )
        for row in self.db.execute(query).mappings():
            out[row["entity_id"]].append(row)
        return out


def compact(fields: Dict) -> Dict:
    """HSDS fields are never null: a field without a value is left out."""
    return {k: v for k, v in fields.items() if v is not None}


def timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def words(code: str) -> str:
    return code.replace("_", " ")


def period_end(value: date, precision: str) -> date:
    """The last day of a partial date's period (2017 at year precision: 31 December 2017)."""
    if precision == "day":
        return value
    if precision == "month":
        return value.replace(day=calendar.monthrange(value.year, value.month)[1])
    years = 10 if precision == "decade" else 1
    return date(value.year + years - 1, 12, 31)


def service_status(row: Row, today: date) -> str:
    """HSDS requires a status; ours is given only where a source states it. A practice whose
    period has ended, or that is completed or planned, is `inactive`; otherwise `active`
    (published and not known to have ended)."""
    if row["status"] in ("completed", "planned"):
        return "inactive"
    end = row["period_end"]
    if end is not None and period_end(end, row["period_end_precision"]) < today:
        return "inactive"
    return "active"


def providers(roles: list[Row]) -> list[str]:
    """The organisations that provide a practice: its leads, or where it has none, its
    coordinators (Mhtconsult coordinates CoCoRa), by id."""
    for role in ("lead", "coordinator"):
        found = sorted(x["organisation_id"] for x in roles if x["role"] == role)
        if found:
            return found
    return []


def fees_description(pays: bool | None) -> str | None:
    if pays is None:
        return None
    return "Participants pay a fee." if pays else "Participants pay no fee."


def organization_description(row: Row) -> str:
    """A source's description, or (HSDS requires one) the facts we hold about the body."""
    if row["description"]:
        return str(row["description"])
    facts = [words(row["kind"]).capitalize()]
    if row["level"]:
        facts.append(f"{row['level']} level")
    if row["sector"]:
        facts.append(f"{words(row['sector'])} sector")
    return ", ".join(facts) + "."


# --- taxonomy terms and attributes ------------------------------------------------------------


def _detail(ctx: HsdsContext, taxonomy: str, description: str, uri: str | None) -> Dict:
    return compact(
        {
            "id": hsds_id("taxonomy", taxonomy),
            "name": taxonomy,
            "description": description,
            "uri": uri,
        }
    )


def vocabulary_term(ctx: HsdsContext, taxonomy: str, code: str) -> Dict:
    name = words(code)
    return {
        "id": hsds_id(taxonomy, code),
        "code": code,
        "name": name,
        "description": f"{words(taxonomy).capitalize()}: {name}.",
        "taxonomy": taxonomy,
        "taxonomy_id": hsds_id("taxonomy", taxonomy),
        "taxonomy_detail": _detail(ctx, taxonomy, TAXONOMY_DESCRIPTIONS[taxonomy], None),
        "language": "en",
    }


def theme_term(ctx: HsdsContext, theme: Row) -> Dict:
    scheme = theme["scheme"]
    return compact(
        {
            "id": hsds_id("theme", theme["id"]),
            "code": theme["id"],
            "name": theme["label"],
            "description": theme["description"] or theme["label"],
            "taxonomy": scheme,
            "taxonomy_id": hsds_id("taxonomy", scheme),
            "taxonomy_detail": _detail(
                ctx,
                scheme,
                f"Themes of the keyword list {scheme}, as this API publishes them.",
                ctx.url("theme"),
            ),
            "language": theme["label_language"],
            "term_uri": ctx.url("theme", theme["id"]),
        }
    )


def source_term(ctx: HsdsContext, source: Row) -> Dict:
    return {
        "id": hsds_id("source", source["id"]),
        "code": source["id"],
        "name": source["title"],
        "description": source["description"] or source["title"],
        "taxonomy": "source",
        "taxonomy_id": hsds_id("taxonomy", "source"),
        "taxonomy_detail": _detail(
            ctx, "source", TAXONOMY_DESCRIPTIONS["source"], ctx.url("source")
        ),
        "language": source["language"],
        "term_uri": ctx.url("source", source["id"]),
    }


def attribute(
    owner: tuple[str, str], link_entity: str, link_type: str, term: Dict, value: str | None = None
) -> Dict:
    entity, record_id = owner
    return compact(
        {
            "id": hsds_id(entity, record_id, "attribute", link_type, term["code"]),
            "link_id": hsds_id(entity, record_id),
            "link_type": link_type,
            "link_entity": link_entity,
            "taxonomy_term_id": term["id"],
            "value": value,
            "taxonomy_term": term,
        }
    )


def source_attributes(
    ctx: HsdsContext, owner: tuple[str, str], link_entity: str, citations: list[Row]
) -> list[Dict]:
    sources = ctx.texts("source", [c["source_id"] for c in citations])
    return [
        attribute(
            owner, link_entity, "source", source_term(ctx, sources[c["source_id"]]), c["section"]
        )
        for c in citations
    ]


# --- contact points ---------------------------------------------------------------------------


def first_email(points: list[Row]) -> str | None:
    emails = [p["value"] for p in points if p["kind"] == "email"]
    return emails[0] if emails else None


def phones(points: list[Row], owner_field: str, owner_id: str) -> list[Dict]:
    """Phone numbers not tied to a named person (those are under `contacts`)."""
    return [
        compact(
            {
                "id": hsds_id("contact_point", p["id"]),
                owner_field: owner_id,
                "number": p["value"],
                "description": p["label"],
            }
        )
        for p in points
        if p["kind"] == "phone" and not p["person_name"]
    ]


def contacts(points: list[Row], owner_field: str, owner_id: str) -> list[Dict]:
    """E-mail addresses, and phone numbers of named people, as HSDS contacts."""
    out = []
    for p in points:
        if p["kind"] == "email":
            out.append(
                compact(
                    {
                        "id": hsds_id("contact_point", p["id"]),
                        owner_field: owner_id,
                        "name": p["person_name"],
                        "email": p["value"],
                    }
                )
            )
        elif p["kind"] == "phone" and p["person_name"]:
            contact_id = hsds_id("contact_point", p["id"])
            phone = {"id": hsds_id("contact_point", p["id"], "phone"), "number": p["value"]}
            out.append(
                {
                    "id": contact_id,
                    owner_field: owner_id,
                    "name": p["person_name"],
                    "phones": [{**phone, "contact_id": contact_id}],
                }
            )
    return out


def location(point: Row, organization_id: str | None) -> Dict:
    """A postal address as an HSDS location. Danish addresses have no state or province; HSDS
    requires the field, so it is empty."""
    location_id = hsds_id("contact_point", point["id"], "location")
    address = compact(
        {
            "id": hsds_id("contact_point", point["id"], "address"),
            "location_id": location_id,
            "address_1": point["street_address"] or point["value"],
            "city": point["locality"] or "",
            "state_province": "",
            "postal_code": point["postal_code"] or "",
            "country": point["country_code"] or "",
            "address_type": "postal",
        }
    )
    return compact(
        {
            "id": location_id,
            "location_type": "postal",
            "organization_id": organization_id,
            "name": point["label"] or point["value"],
            "addresses": [address],
        }
    )


# --- organizations ----------------------------------------------------------------------------


def organizations(ctx: HsdsContext, rows: Sequence[Row], *, full: bool) -> list[Dict]:
    rows = [ctx.localised("organisation", r) for r in rows]
    ids = [r["id"] for r in rows]
    points = ctx.contact_points("organisation_id", ids)
    out = []
    for r in rows:
        own_id = hsds_id("organisation", r["id"])
        established = r["established"]
        record = compact(
            {
                "id": own_id,
                "name": r["name"],
                "alternate_name": r["acronym"],
                "description": organization_description(r),
                "email": first_email(points[r["id"]]),
                "website": r["website"],
                "year_incorporated": established.year if established else None,
                "legal_status": r["legal_form"],
                "uri": ctx.url("organisation", r["id"]),
                "parent_organization_id": (
                    hsds_id("organisation", r["parent_id"]) if r["parent_id"] else None
                ),
            }
        )
        out.append(record)
    if full:
        _complete_organizations(ctx, rows, out, points)
    return out


def _complete_organizations(
    ctx: HsdsContext, rows: Sequence[Row], records: list[Dict], points: dict[str, list[Row]]
) -> None:
    ids = [r["id"] for r in rows]
    citations = ctx.citations("organisation", ids)
    involved = ctx.grouped("practice_organisation", "organisation_id", ids)
    practice_ids = sorted({x["practice_id"] for xs in involved.values() for x in xs})
    roles = ctx.grouped("practice_organisation", "practice_id", practice_ids)
    provided: dict[str, list[str]] = defaultdict(list)
    for practice_id in practice_ids:
        for organisation_id in providers(roles[practice_id]):
            provided[organisation_id].append(practice_id)
    practice_rows = ctx.rows("practice", practice_ids)
    service_of = dict(
        zip(
            practice_ids,
            services(ctx, [practice_rows[i] for i in practice_ids], full=False),
            strict=True,
        )
    )
    for r, record in zip(rows, records, strict=True):
        own_id = record["id"]
        owner = ("organisation", r["id"])
        attributes = [
            attribute(owner, "organization", name, vocabulary_term(ctx, name, r[column]))
            for name, column in (
                ("organisation_kind", "kind"),
                ("sector", "sector"),
                ("level", "level"),
            )
            if r[column]
        ]
        attributes += source_attributes(ctx, owner, "organization", citations[r["id"]])
        record.update(
            {
                "contacts": contacts(points[r["id"]], "organization_id", own_id),
                "phones": phones(points[r["id"]], "organization_id", own_id),
                "locations": [
                    location(p, own_id) for p in points[r["id"]] if p["kind"] == "postal_address"
                ],
                "organization_identifiers": (
                    [
                        {
                            "id": hsds_id("organisation", r["id"], "identifier"),
                            "organization_id": own_id,
                            "identifier_type": (
                                f"Registration number ({r['registration_country']})"
                            ),
                            "identifier": r["registration_number"],
                        }
                    ]
                    if r["registration_number"]
                    else []
                ),
                "attributes": attributes,
                "services": [service_of[i] for i in provided[r["id"]]],
            }
        )


# --- services ---------------------------------------------------------------------------------


def services(ctx: HsdsContext, rows: Sequence[Row], *, full: bool) -> list[Dict]:
    rows = [ctx.localised("practice", r) for r in rows]
    ids = [r["id"] for r in rows]
    roles = ctx.grouped("practice_organisation", "practice_id", ids)
    points = ctx.contact_points("practice_id", ids)
    out = []
    for r in rows:
        leads = providers(roles[r["id"]])
        ages_known = r["age_min"] is not None
        record = compact(
            {
                "id": hsds_id("practice", r["id"]),
                "organization_id": hsds_id("organisation", leads[0]) if leads else None,
                "program_id": hsds_id("practice", r["parent_id"], "program")
                if r["parent_id"]
                else None,
                "name": r["name"],
                "alternate_name": r["acronym"],
                "description": r["summary"],
                "url": r["website"],
                "email": first_email(points[r["id"]]),
                "status": service_status(r, ctx.today),
                "fees_description": fees_description(r["participants_pay_fee"]),
                "eligibility_description": "; ".join(r["target_groups"]) or None,
                "minimum_age": r["age_min"] if ages_known else None,
                "maximum_age": r["age_max"] if ages_known else None,
                "last_modified": timestamp(r["updated_at"]),
            }
        )
        out.append(record)
    if full:
        _complete_services(ctx, rows, out, roles, points)
    return out


def _complete_services(
    ctx: HsdsContext,
    rows: Sequence[Row],
    records: list[Dict],
    roles: dict[str, list[Row]],
    points: dict[str, list[Row]],
) -> None:
    ids = [r["id"] for r in rows]
    themes = ctx.grouped("practice_theme", "practice_id", ids)
    cities = ctx.grouped("practice_city", "practice_id", ids)
    citations = ctx.citations("practice", ids)
    theme_rows = ctx.texts("theme", [t["theme_id"] for ts in themes.values() for t in ts])
    city_rows = ctx.texts("city", [c["city_id"] for cs in cities.values() for c in cs])
    parent_rows = ctx.texts("practice", [r["parent_id"] for r in rows if r["parent_id"]])
    lead_ids = sorted({x["organisation_id"] for xs in roles.values() for x in xs})
    org_rows = ctx.rows("organisation", lead_ids)
    org_texts = {i: ctx.localised("organisation", row) for i, row in org_rows.items()}
    organization_of = dict(
        zip(
            lead_ids,
            organizations(ctx, [org_rows[i] for i in lead_ids], full=False),
            strict=True,
        )
    )
    for r, record in zip(rows, records, strict=True):
        own_id = record["id"]
        owner = ("practice", r["id"])
        attributes = [
            attribute(
                owner, "service", "practice_kind", vocabulary_term(ctx, "practice_kind", r["kind"])
            )
        ]
        attributes += [
            attribute(owner, "service", "theme", theme_term(ctx, theme_rows[t["theme_id"]]))
            for t in themes[r["id"]]
        ]
        attributes += source_attributes(ctx, owner, "service", citations[r["id"]])
        funders = [x for x in roles[r["id"]] if x["role"] == "funder"]
        funding = [
            {
                "id": hsds_id("practice", r["id"], "funding", "organisation", x["organisation_id"]),
                "service_id": own_id,
                "source": org_texts[x["organisation_id"]]["name"],
            }
            for x in funders
        ]
        if r["funding"] or r["funding_kind"]:
            funding.insert(
                0,
                {
                    "id": hsds_id("practice", r["id"], "funding"),
                    "service_id": own_id,
                    "source": r["funding"] or words(r["funding_kind"]),
                },
            )
        parent = parent_rows[r["parent_id"]] if r["parent_id"] else None
        extra: Dict = {
            "phones": phones(points[r["id"]], "service_id", own_id),
            "contacts": contacts(points[r["id"]], "service_id", own_id),
            "schedules": (
                [
                    {
                        "id": hsds_id("practice", r["id"], "schedule"),
                        "service_id": own_id,
                        "description": r["availability"],
                    }
                ]
                if r["availability"]
                else []
            ),
            "service_areas": [
                {
                    "id": hsds_id("practice", r["id"], "service_area", c["city_id"]),
                    "service_id": own_id,
                    "name": city_rows[c["city_id"]]["name"],
                    "uri": ctx.url("city", c["city_id"]),
                }
                for c in cities[r["id"]]
            ],
            "service_at_locations": [
                {
                    "id": hsds_id("practice", r["id"], "service_at_location", p["id"]),
                    "service_id": own_id,
                    "location_id": hsds_id("contact_point", p["id"], "location"),
                    "location": location(
                        p,
                        hsds_id("organisation", p["organisation_id"])
                        if p["organisation_id"]
                        else None,
                    ),
                }
                for p in points[r["id"]]
                if p["kind"] == "postal_address"
            ],
            "funding": funding,
            "attributes": attributes,
        }
        if "organization_id" in record:
            extra["organization"] = organization_of[providers(roles[r["id"]])[0]]
        if parent is not None:
            # HSDS requires a program description: the parent's summary, else its name.
            extra["program"] = compact(
                {
                    "id": record["program_id"],
                    "name": parent["name"],
                    "alternate_name": parent["acronym"],
                    "description": parent["summary"] or parent["name"],
                }
            )
        record.update(extra)
