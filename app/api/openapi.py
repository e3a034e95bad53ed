"""The contracts of v1 and v2, generated from their routes and completed with what FastAPI
leaves out: problem responses on every operation, 304, and the caching, paging, language and
retirement headers.

`scn openapi --api vN` writes them to openapi/vN.json; a test fails when a file and the served
contract differ.
"""

import copy
from functools import lru_cache
from typing import Any

from fastapi.openapi.utils import get_openapi
from starlette.routing import BaseRoute

from app.api.problems import PROBLEM_JSON
from app.api.routes import DEFAULT_LIMIT, MAX_LIMIT
from app.api.v1.routes import build_v1_router
from app.api.v1.schemas import Problem
from app.api.v2 import embedding
from app.api.v2 import schemas as v2_schemas
from app.api.v2.routes import build_v2_router
from app.api.versions import RETIREMENT_HEADERS

TITLE = "Strong Cities Open Data API"
V1_VERSION = "1.0.0"
V1_DESCRIPTION = f"""\
Open data on how cities prevent violent extremism: Strong Cities Network member cities, the
national prevention model around them (ministries, agencies, the SSP/PSP/KSP cooperations,
Info-Houses), their practices and programmes, contact points, and the source of every fact.

**Conventions.** Every collection is a list (`/v1/cities`) and a record (`/v1/cities/{{id}}`).
Ids never change. Lists are pages of {DEFAULT_LIMIT} records (`limit` up to {MAX_LIMIT}) in `id`
order; the next page is in `next_cursor`, `links.next` and the `Link` header. Filters combine with
AND; a repeated filter means OR; an unknown parameter is a 400 problem. Every record carries its
relationships as references (`id`, `type`, `name`, `href`) and its `sources`.

**CSV and the graph.** Every list answers in CSV too (`format=csv` or `Accept: text/csv`: every
matching record, flattened as docs/API.md says). `/v1/graph` gives the prevention model as nodes
and typed edges, and `/v1/graph.svg` draws it.

**Caching.** Every 200 has a strong `ETag` and `Last-Modified`; send `If-None-Match` to get 304.

**Errors** are RFC 9457 `application/problem+json`.

**Licence**: CC BY 4.0, with the attribution given by `/v1/meta`.
"""

V2_VERSION = "2.0.0"
V2_DESCRIPTION = (
    V1_DESCRIPTION.replace("/v1/", "/v2/")
    + """
**Languages.** Every translatable text (names, descriptions, summaries, lists of aims, ...) is a
language map: ISO 639-1 code -> text (`{"en": "Denmark", "fr": "Danemark"}`). Without `lang` or
`Accept-Language` a map holds every language the sources give. With `lang=fr` (or
`Accept-Language: fr`) it holds one: French where the text exists in French, else the next
language the reader accepts, else English, French, Danish in that order. `Content-Language`
lists the languages in the body; responses vary on `Accept-Language`. See docs/CHANGELOG.md for
everything that changed since v1, and docs/MIGRATING-v1-v2.md.

**Embedding.** Lists and records take `expand`, the reference fields whose records to embed
(`/v2/cities/viborg?expand=country,themes`): each of their references then carries `record`, the
referenced record as its `href` gives it, one level deep, in the same languages. Each
operation's `expand` declares the names its collection can embed; another is a 400 problem.

**Change feed.** A `since` past the last change gets an empty page whose `next_since` is the
last change (docs/SYNC.md).
"""
)
LANGUAGE_HEADERS = {
    "Content-Language": "The languages of the texts in this body (absent on /v2/export)",
    "Vary": "Accept, Accept-Encoding, Accept-Language (and Origin)",
}

ERRORS = {
    400: "Invalid or unknown parameter, or a cursor this API did not issue",
    404: "No such record is published",
    405: "Only GET, HEAD and OPTIONS are served",
    406: "The client does not accept JSON",
    414: "The URL is longer than 4096 bytes",
    500: "The server failed; nothing about the failure is exposed",
    503: "The database is unavailable or no data is loaded; see Retry-After",
}
CACHE_HEADERS = {
    "ETag": "Strong validator of the body; send it back in If-None-Match",
    "Cache-Control": "public, max-age=N: how long clients and CDNs may reuse the response",
    "Last-Modified": "When the data set last changed",
}


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _not_nullable(schema: dict[str, Any]) -> None:
    """An optional query parameter is absent, never null: `anyOf: [X, null]` becomes X.
    (Null cannot be written in a query string; the null branch only confuses clients.)"""
    branches = schema.get("anyOf")
    if branches and len(branches) == 2 and {"type": "null"} in branches:
        (kept,) = [b for b in branches if b != {"type": "null"}]
        del schema["anyOf"]
        schema.update(kept)


def finish(spec: dict[str, Any], extra_headers: dict[str, str] | None = None) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas["Problem"] = problem
    for name, schema in schemas.items():
        if name.startswith("Page_"):
            item = name.removeprefix("Page_").rstrip("_")
            schema["description"] = f"One page of {item} records, in id order."
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                _not_nullable(parameter["schema"])
            responses = operation["responses"]
            responses.pop("422", None)
            ok = responses["200"]
            headers = {name: _header(text) for name, text in CACHE_HEADERS.items()}
            unpaged = path.endswith(("/meta", "/graph", "/graph.svg"))
            if "{id}" not in path and not unpaged:
                headers["Link"] = _header('The next page: <URL>; rel="next" (absent on the last)')
            if "text/csv" in ok.get("content", {}):
                headers["Content-Disposition"] = _header(
                    'With CSV: attachment; filename="<collection>.csv"'
                )
            headers |= {name: _header(text) for name, text in (extra_headers or {}).items()}
            ok["headers"] = headers
            responses["304"] = {
                "description": "Not Modified: the client's copy (If-None-Match) is current",
                "headers": {name: _header(text) for name, text in CACHE_HEADERS.items()},
            }
            for status, text in ERRORS.items():
                if status == 404 and "{id}" not in path:
                    continue
                responses[str(status)] = _problem(text)
            responses["503"]["headers"] = {
                "Retry-After": _header("Seconds to wait before trying again")
            }
    return spec


def generated(
    title: str, version: str, description: str, routes: list[BaseRoute]
) -> dict[str, Any]:
    """FastAPI's contract of `routes`, before `finish`."""
    return get_openapi(
        title=title,
        version=version,
        description=description,
        routes=routes,
        license_info={
            "name": "Data: CC BY 4.0",
            "url": "https://creativecommons.org/licenses/by/4.0/",
        },
    )


@lru_cache
def v1_openapi() -> dict[str, Any]:
    spec = generated(TITLE, V1_VERSION, V1_DESCRIPTION, build_v1_router().routes)
    return finish(spec, RETIREMENT_HEADERS)


@lru_cache
def v2_openapi() -> dict[str, Any]:
    spec = generated(TITLE, V2_VERSION, V2_DESCRIPTION, build_v2_router().routes)
    spec = finish(spec, LANGUAGE_HEADERS)
    embedding.declare_embedded_records(
        spec, {entity: model.__name__ for entity, model in v2_schemas.RECORDS.items()}
    )
    return spec


CONTRACTS = {"v1": v1_openapi, "v2": v2_openapi}
