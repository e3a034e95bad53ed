"""/catalog: a DCAT-AP 3 catalogue of this API's data set, in JSON-LD, for open-data portals.

One catalogue, one dataset, its distributions (the v1 JSON API, the NDJSON export, CSV of every
v1 list, the HSDS profile) and the two data services behind them. Every URL is absolute, built
from the request's base URL; titles and dates come from the loaded data where the data has them.
"""

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from starlette.responses import Response

from app import i18n, sync
from app.api.caching import cacheable
from app.api.collections import COLLECTION_LIST
from app.api.problems import ProblemError
from app.api.routes import LICENCE, check_parameters, in_one_thread, preferred
from app.models import table
from app.settings import Settings

JSON_LD = "application/ld+json"
EU = "http://publications.europa.eu/resource/authority"
IANA = "http://www.iana.org/assignments/media-types"
CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
# ISO 3166-1 alpha-2 -> the EU country authority's code (alpha-3), for dct:spatial.
EU_COUNTRY = {"DK": "DNK"}
# EU data themes: justice and public safety (preventing violent extremism), and government
# and public sector (the national prevention model, its ministries and agencies).
DATA_THEMES = ["JUST", "GOVE"]
HSDS_SPECIFICATION = "https://github.com/openreferral/specification/tree/3.0"
DESCRIPTION = (
    "Open data on how cities prevent violent extremism: Strong Cities Network member-city "
    "profiles, the national prevention model around them (ministries, agencies, multi-agency "
    "cooperations such as SSP, PSP and KSP, Info-Houses), the practices and programmes that run "
    "in them, their contact points, and the source document of every fact."
)

router = APIRouter()


def _accepted_media_type(request: Request) -> str:
    """JSON-LD for clients that accept it (or anything); plain JSON clients get the same body
    labelled application/json; anything else is 406."""
    chosen = preferred(request, (JSON_LD, "application/json"))
    if chosen is None:
        raise ProblemError(406, f"The catalogue is JSON-LD: accept {JSON_LD} or application/json.")
    return chosen


def _typed(value: date | datetime) -> dict[str, str]:
    kind = "xsd:dateTime" if isinstance(value, datetime) else "xsd:date"
    return {"@value": value.isoformat(), "@type": kind}


def _temporal(conn: sa.Connection) -> tuple[date | None, date | None]:
    """The span of time the facts describe: the earliest and latest dates the data holds."""
    columns = [
        ("practice", "period_start"),
        ("practice", "period_end"),
        ("organisation", "established"),
        ("cooperation", "established"),
        ("city", "scn_member_since"),
        ("source", "last_modified"),
    ]
    dates: list[date] = []
    for entity, column in columns:
        c = table(entity).c[column]
        low, high = conn.execute(sa.select(sa.func.min(c), sa.func.max(c))).one()
        dates += [d for d in (low, high) if d is not None]
    year = table("action_plan").c.year
    low_year, high_year = conn.execute(sa.select(sa.func.min(year), sa.func.max(year))).one()
    if low_year is not None:
        dates += [date(low_year, 1, 1), date(high_year, 1, 1)]
    return (min(dates), max(dates)) if dates else (None, None)


def _distribution(
    base: str, key: str, title: str, description: str, access: str, **extra: Any
) -> dict[str, Any]:
    return {
        "@id": f"{base}/catalog#distribution-{key}",
        "@type": "dcat:Distribution",
        "dct:title": {"@value": title, "@language": "en"},
        "dct:description": {"@value": description, "@language": "en"},
        "dcat:accessURL": {"@id": f"{base}{access}"},
        "dct:license": {"@id": LICENCE["url"]},
        **extra,
    }


def _csv(base: str) -> list[dict[str, Any]]:
    return [
        _distribution(
            base,
            f"csv-{c.path}",
            f"{c.title} (CSV)",
            f"The list /v1/{c.path} as CSV (UTF-8, with a header row; nested values flattened "
            "as docs/API.md describes).",
            f"/v1/{c.path}?format=csv",
            **{
                "dcat:downloadURL": {"@id": f"{base}/v1/{c.path}?format=csv"},
                "dcat:mediaType": {"@id": f"{IANA}/text/csv"},
                "dct:format": {"@id": f"{EU}/file-type/CSV"},
                "dcat:accessService": {"@id": f"{base}/catalog#service-v1"},
            },
        )
        for c in COLLECTION_LIST
    ]


def catalogue(conn: sa.Connection, settings: Settings, base: str) -> dict[str, Any]:
    state = sync.state(conn)
    # Names are language maps (app.i18n): the title uses the one v1 shows (English first);
    # every language of a theme label becomes a language-tagged keyword.
    countries = [
        (iso, i18n.primary(name)[1])
        for iso, name in conn.execute(
            sa.select(table("country").c.iso_code, table("country").c.name).order_by("iso_code")
        )
    ]
    theme = table("theme")
    themes = [
        (text, language)
        for (label,) in conn.execute(sa.select(theme.c.label).order_by(theme.c.id))
        for language, text in sorted(label.items())
    ]
    first_load = conn.execute(sa.select(sa.func.min(table("dataset_load").c.loaded_at))).scalar()
    start, end = _temporal(conn)
    names = ", ".join(name for _, name in countries)
    catalog_id, dataset_id = f"{base}/catalog", f"{base}/catalog#dataset"
    publisher_id = f"{base}/catalog#publisher"

    dataset: dict[str, Any] = {
        "@id": dataset_id,
        "@type": "dcat:Dataset",
        "dct:title": {
            "@value": "Strong Cities Open Data" + (f": {names}" if names else ""),
            "@language": "en",
        },
        "dct:description": {"@value": DESCRIPTION, "@language": "en"},
        "dct:identifier": dataset_id,
        "dct:publisher": {"@id": publisher_id},
        "dct:license": {"@id": LICENCE["url"]},
        "dct:rights": {"@type": "dct:RightsStatement", "rdfs:label": LICENCE["attribution"]},
        "dct:language": {"@id": f"{EU}/language/ENG"},
        "dcat:theme": [{"@id": f"{EU}/data-theme/{code}"} for code in DATA_THEMES],
        "dcat:keyword": [{"@value": label, "@language": lang} for label, lang in themes],
        "dct:spatial": [
            {"@id": f"{EU}/country/{EU_COUNTRY[iso]}"}
            if iso in EU_COUNTRY
            else {"@type": "dct:Location", "rdfs:label": name}
            for iso, name in countries
        ],
        "dcat:landingPage": {"@id": f"{base}/docs"},
    }
    if start is not None and end is not None:
        dataset["dct:temporal"] = {
            "@type": "dct:PeriodOfTime",
            "dcat:startDate": _typed(start),
            "dcat:endDate": _typed(end),
        }
    if state.get("loaded_at") is not None:
        dataset["dct:modified"] = _typed(state["loaded_at"])
    if first_load is not None:
        dataset["dct:issued"] = _typed(first_load)
    if state.get("dataset_version"):
        dataset["dcat:version"] = state["dataset_version"]
    contact: dict[str, Any] = {"@id": f"{base}/catalog#contact", "@type": "vcard:Kind"}
    if settings.contact_email:
        contact["vcard:hasEmail"] = {"@id": f"mailto:{settings.contact_email}"}
    if settings.contact_url:
        contact["vcard:hasURL"] = {"@id": settings.contact_url}
    if len(contact) > 2:
        contact["vcard:fn"] = "Strong Cities Open Data API"
        dataset["dcat:contactPoint"] = contact

    v1_service = {
        "@id": f"{base}/catalog#service-v1",
        "@type": "dcat:DataService",
        "dct:title": {"@value": "Strong Cities Open Data API v1", "@language": "en"},
        "dcat:endpointURL": {"@id": f"{base}/v1"},
        "dcat:endpointDescription": {"@id": f"{base}/v1/openapi.json"},
        "dcat:servesDataset": {"@id": dataset_id},
        "dct:license": {"@id": LICENCE["url"]},
        "dcat:landingPage": {"@id": f"{base}/docs"},
    }
    hsds_service = {
        "@id": f"{base}/catalog#service-hsds",
        "@type": "dcat:DataService",
        "dct:title": {"@value": "HSDS 3.0 profile", "@language": "en"},
        "dcat:endpointURL": {"@id": f"{base}/hsds/"},
        "dcat:endpointDescription": {"@id": f"{base}/hsds/openapi.json"},
        "dct:conformsTo": {"@id": HSDS_SPECIFICATION},
        "dcat:servesDataset": {"@id": dataset_id},
        "dct:license": {"@id": LICENCE["url"]},
    }
    distributions = [
        _distribution(
            base,
            "json",
            "JSON API (v1)",
            "Every collection and record as JSON, with filters, search, keyset paging and the "
            "change feed; /v1/meta links to the rest, /v1/openapi.json is the contract.",
            "/v1/meta",
            **{
                "dcat:mediaType": {"@id": f"{IANA}/application/json"},
                "dct:format": {"@id": f"{EU}/file-type/JSON"},
                "dcat:accessService": {"@id": v1_service["@id"]},
                "dct:conformsTo": {"@id": f"{base}/v1/openapi.json"},
            },
        ),
        _distribution(
            base,
            "ndjson",
            "Full export (NDJSON)",
            "Every current record in one download: a header line, then one JSON record per line "
            "(newline-delimited JSON), consistent with the change number in the header.",
            "/v1/export",
            **{
                "dcat:downloadURL": {"@id": f"{base}/v1/export"},
                "dct:format": {"@id": f"{EU}/file-type/JSON"},
                "dcat:accessService": {"@id": v1_service["@id"]},
            },
        ),
        _distribution(
            base,
            "hsds",
            "HSDS 3.0 profile (JSON)",
            "Practices as services and organisations as organizations in the Open Referral Human "
            "Services Data Specification 3.0.",
            "/hsds/",
            **{
                "dcat:mediaType": {"@id": f"{IANA}/application/json"},
                "dct:format": {"@id": f"{EU}/file-type/JSON"},
                "dct:conformsTo": {"@id": HSDS_SPECIFICATION},
                "dcat:accessService": {"@id": hsds_service["@id"]},
            },
        ),
        *_csv(base),
    ]
    dataset["dcat:distribution"] = [{"@id": d["@id"]} for d in distributions]
    publisher = {
        "@id": publisher_id,
        "@type": "foaf:Agent",
        "foaf:name": "Strong Cities Open Data API",
        "foaf:homepage": {"@id": f"{base}/"},
    }
    catalog: dict[str, Any] = {
        "@id": catalog_id,
        "@type": "dcat:Catalog",
        "dct:title": {"@value": "Strong Cities Open Data API", "@language": "en"},
        "dct:description": {
            "@value": "The data sets this API publishes, their distributions and services.",
            "@language": "en",
        },
        "dct:publisher": {"@id": publisher_id},
        "foaf:homepage": {"@id": f"{base}/"},
        "dct:license": {"@id": LICENCE["url"]},
        "dct:language": {"@id": f"{EU}/language/ENG"},
        "dcat:themeTaxonomy": {"@id": f"{EU}/data-theme"},
        "dcat:dataset": {"@id": dataset_id},
        "dcat:service": [{"@id": v1_service["@id"]}, {"@id": hsds_service["@id"]}],
    }
    if "dct:modified" in dataset:
        catalog["dct:modified"] = dataset["dct:modified"]
    if "dct:spatial" in dataset:
        catalog["dct:spatial"] = dataset["dct:spatial"]
    return {
        "@context": CONTEXT,
        "@graph": [catalog, dataset, *distributions, v1_service, hsds_service, publisher],
    }


def catalog_endpoint(request: Request, conn: sa.Connection) -> Response:
    check_parameters(request, set())
    media_type = _accepted_media_type(request)
    settings: Settings = request.app.state.settings
    state = sync.state(conn)
    return cacheable(
        request,
        catalogue(conn, settings, str(request.base_url).rstrip("/")),
        last_modified=state.get("loaded_at"),
        max_age=settings.cache_max_age,
        media_type=media_type,
    )


router.add_api_route(
    "/catalog", in_one_thread(catalog_endpoint), methods=["GET"], include_in_schema=False
)
