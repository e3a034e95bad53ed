"""A v2 record, as `/v2/export` and `/v2/changes` give it, back into the database rows it was
rendered from: the mirror's side of sync (app/mirror.py). The inverse of the builders in
app/api/records.py, checked by the mirror's round trips (tests/test_mirror.py)."""

from datetime import date
from decimal import Decimal
from typing import Any

from app.api.evidence import evidence_rows
from app.loader import PLAIN_FIELDS, EntityRows


def _id(ref: dict[str, Any] | None) -> str | None:
    return ref["id"] if ref else None


def _partial(prefix: str, value: dict[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {prefix: None, f"{prefix}_precision": None}
    return {prefix: date.fromisoformat(value["date"]), f"{prefix}_precision": value["precision"]}


def _decimal(value: float | int | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _pick(record: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: record[name] for name in names}


def record_rows(
    entity: str, r: dict[str, Any], evidence: list[dict[str, Any]] | None = None
) -> EntityRows:
    """The database rows of a v2 record (as /v2/<collection>/{id} or /v2/export give it, with
    every language)."""
    rid = r["id"]
    links: dict[str, list[dict[str, Any]]] = {}
    match entity:
        case "source":
            row = _pick(r, *PLAIN_FIELDS["source"])
            row |= _partial("last_modified", r["last_modified"])
        case "theme":
            row = _pick(r, *PLAIN_FIELDS["theme"])
        case "country":
            row = _pick(r, *PLAIN_FIELDS["country"])
            links["country_strategy_organisation"] = [
                {
                    "country_id": rid,
                    "organisation_id": s["id"],
                    "role": s["role"],
                    "note": s["note"],
                }
                for s in r["strategy_organisations"]
            ]
        case "action_plan":
            row = _pick(r, *PLAIN_FIELDS["action_plan"])
            row["country_id"] = _id(r["country"])
        case "legal_basis":
            row = _pick(r, *PLAIN_FIELDS["legal_basis"])
            row["country_id"] = _id(r["country"])
        case "city":
            row = _pick(r, *PLAIN_FIELDS["city"])
            ages = r["focus_ages"] or {}
            row |= {
                "country_id": _id(r["country"]),
                "focus_age_min": ages.get("min"),
                "focus_age_max": ages.get("max"),
            } | _partial("scn_member_since", r["scn_member_since"])
            links["city_leader"] = [
                {"city_id": rid, **_pick(x, "role", "person_name", "title")} for x in r["leaders"]
            ]
            links["city_theme"] = [{"city_id": rid, "theme_id": t["id"]} for t in r["themes"]]
        case "organisation":
            row = _pick(r, *PLAIN_FIELDS["organisation"])
            registration = r["registration"] or {}
            row |= {
                "country_id": _id(r["country"]),
                "city_id": _id(r["city"]),
                "parent_id": _id(r["parent"]),
                "registration_number": registration.get("number"),
                "registration_country": registration.get("country"),
            } | _partial("established", r["established"])
            links["organisation_relation"] = [
                {
                    "organisation_id": rid,
                    "kind": x["role"],
                    "related_organisation_id": x["id"],
                    "note": x["note"],
                }
                for x in r["relations"]
            ]
        case "cooperation":
            row = _pick(r, *PLAIN_FIELDS["cooperation"])
            row |= {
                "country_id": _id(r["country"]),
                "city_id": _id(r["city"]),
                "model_id": _id(r["model"]),
                "legal_basis_id": _id(r["legal_basis"]),
            } | _partial("established", r["established"])
            links["cooperation_member"] = [
                {
                    "cooperation_id": rid,
                    "organisation_id": _id(m["organisation"]),
                    "member_cooperation_id": _id(m["cooperation"]),
                    "sector": m["sector"],
                    "role": m["role"],
                    "note": m["note"],
                }
                for m in r["members"]
            ]
        case "practice":
            row, links = _practice_rows(r)
        case "contact_point":
            row = _pick(r, *PLAIN_FIELDS["contact_point"]) | {"is_personal": r["is_personal"]}
            address = r["address"] or {}
            row |= {
                "organisation_id": _id(r["organisation"]),
                "practice_id": _id(r["practice"]),
                "street_address": address.get("street"),
                "postal_code": address.get("postal_code"),
                "locality": address.get("locality"),
                "country_code": address.get("country"),
            }
        case _:
            raise ValueError(f"unknown entity {entity}")
    if entity != "source":
        links["citation"] = [
            {"entity_type": entity, "entity_id": rid, "source_id": s["id"], "section": s["section"]}
            for s in r["sources"]
        ]
    if evidence:  # as the loader stores it: no rows, no table entry
        links["evidence"] = evidence_rows(entity, rid, evidence)
    return EntityRows(row, links)


def _practice_rows(r: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    rid = r["id"]
    ages = r["ages"] or {}
    period = r["period"] or {}
    funding = r["funding"] or {}
    cost = r["cost"] or {}
    row = _pick(r, *PLAIN_FIELDS["practice"])
    row |= {
        "country_id": _id(r["country"]),
        "parent_id": _id(r["parent"]),
        "predecessor_id": _id(r["predecessor"]),
        "age_min": ages.get("min"),
        "age_max": ages.get("max"),
        "funding_kind": funding.get("kind"),
        "funding": funding.get("description"),
        "cost_amount": _decimal(cost.get("amount")),
        "cost_currency": cost.get("currency"),
        "cost_is_estimate": cost.get("estimate"),
    }
    row |= _partial("period_start", period.get("start"))
    row |= _partial("period_end", period.get("end"))
    links = {
        "practice_figure": [
            {
                "practice_id": rid,
                "key": f["key"],
                "label": f["label"],
                "value": _decimal(f["value"]),
                "value_max": _decimal(f["max"]),
                "unit": f["unit"],
                "per": f["per"],
                "approximate": f["approximate"],
            }
            for f in r["figures"]
        ],
        "practice_organisation": [
            {"practice_id": rid, "organisation_id": o["id"], "role": o["role"], "note": o["note"]}
            for o in r["organisations"]
        ],
        "practice_cooperation": [
            {"practice_id": rid, "cooperation_id": c["id"], "role": c["role"]}
            for c in r["cooperations"]
        ],
        "practice_city": [{"practice_id": rid, "city_id": c["id"]} for c in r["cities"]],
        "practice_theme": [{"practice_id": rid, "theme_id": t["id"]} for t in r["themes"]],
    }
    return row, links
