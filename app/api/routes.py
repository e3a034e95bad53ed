"""The endpoints of an API version: a list and a record for every collection, search, the
change feed, the export and meta. /v1 and /v2 are built by the same code (`build_router(api)`):
what differs between them is in their `Api` (app/api/v1/routes.py, app/api/v2/routes.py: path
prefix, wire schemas, languages)."""

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from app import db, representation, sync
from app import search as search_index
from app.api import csv_lists, graph, pagination
from app.api.caching import JSON, NDJSON, SVG, cacheable, streamed
from app.api.collections import COLLECTION_LIST, COMMON_FILTERS, Collection
from app.api.csv_lists import CSV
from app.api.examples import EXAMPLE_RECORDS, stored_examples
from app.api.problems import PROBLEM_JSON, ProblemError
from app.api.records import (
    COLLECTIONS,
    Context,
    build,
    published,
    table,
    versioned_href,
)
from app.api.v1 import schemas
from app.api.v2 import embedding
from app.migrate import head_revision
from app.models import ENTITIES
from app.settings import PACKAGE_VERSION, Settings

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_VALUES = 50  # values of one repeated filter
SINGLE_VALUED = {"limit", "cursor", "q", "updated_since", "format", "expand"}
LICENCE = {
    "name": "CC BY 4.0",
    "url": "https://creativecommons.org/licenses/by/4.0/",
    "attribution": (
        "Strong Cities Open Data API, curated from the sources each record cites: Strong Cities "
        "Network city profiles (Copenhagen, Viborg; © Strong Cities Network), “Who does what in "
        "Denmark?” and the PROVA project catalogue."
    ),
}

EntityType = Literal[
    "source",
    "theme",
    "country",
    "action_plan",
    "legal_basis",
    "city",
    "organisation",
    "cooperation",
    "practice",
    "contact_point",
]


@dataclass(frozen=True)
class Api:
    """One major version of the API."""

    prefix: str
    record_schemas: dict[str, type[BaseModel]]
    search_results: type[BaseModel]
    change_page: type[BaseModel]
    meta: type[BaseModel]
    multilingual: bool = False
    """v2: texts are language maps, narrowed by `lang` or Accept-Language (app.api.v2)."""
    refuses_since_past_end: bool = True
    """v1 (frozen): /changes refuses a `since` past the last change with 400; v2 answers it
    with an empty page (docs/SYNC.md)."""
    embeds: bool = False
    """v2: lists and records take `expand` (app/api/v2/embedding.py)."""
    evidence: bool = False
    """v2: the export's records and the change feed's upserts carry their evidence."""
    dependencies: tuple[Any, ...] = ()

    def context(self, request: Request, conn: sa.Connection) -> Context:
        settings: Settings = request.app.state.settings
        return Context(
            conn,
            personal_contacts=settings.publish_personal_contacts,
            api=self.prefix,
            languages=self.languages(request),
        )

    def languages(self, request: Request) -> list[str] | None:
        """The reader's languages, best first (v2: set by its negotiation); None: every one."""
        return getattr(request.state, "languages", None) if self.multilingual else None

    def parameters(self, names: set[str], entity: str | None = None) -> set[str]:
        """`names` and what this version adds: `lang`, and `expand` where `entity`'s
        references can be embedded."""
        out = names | {"lang"} if self.multilingual else names
        return out | {"expand"} if self.embeds_in(entity) else out

    def embeds_in(self, entity: str | None) -> bool:
        return self.embeds and entity in embedding.EMBEDDABLE

    def embed(self, request: Request, ctx: Context, records: list[dict[str, Any]]) -> None:
        """Embed the referenced records `expand` asks for (v2) into `records`."""
        if self.embeds:
            embedding.embed(ctx, records, getattr(request.state, "expand", ()))

    def headers(self, ctx: Context | None = None, languages: Iterable[str] = ()) -> dict[str, str]:
        """What a multilingual response adds: it varies on Accept-Language, and says which
        languages its texts are in (those `ctx` rendered, and `languages`)."""
        if not self.multilingual:
            return {}
        out = {"Vary": "Accept, Accept-Encoding, Accept-Language"}
        used = set(languages) | (ctx.languages_used if ctx is not None else set())
        if used:
            out["Content-Language"] = ", ".join(sorted(used))
        return out

    def expands(self, request: Request) -> bool:
        """Whether this request asks for embedded records (v2's `expand`)."""
        return self.embeds and bool(getattr(request.state, "expand", ()))


def _camel(words: str) -> str:
    return "".join(w.capitalize() for w in words.replace("-", " ").replace("_", " ").split())


def in_one_thread(endpoint: Callable[..., Response]) -> Callable[..., Awaitable[Response]]:
    """`endpoint`, a function that reads the database on `conn`, as a coroutine that runs it in
    one call to a worker thread, inside one read transaction (so every query of a response sees
    one snapshot). A dependency that opened the connection would cost two more hops to a thread
    (to open it, and to close it), each more than a primary-key read.

    Its database work is bounded: PostgreSQL stops a statement after `statement_timeout`, and
    SQLite's progress handler stops one once this request's deadline has passed."""
    signature = inspect.signature(endpoint)

    def with_connection(arguments: dict[str, Any]) -> Response:
        request: Request = arguments["request"]
        conn = db.read_transaction(request.app.state.engine)
        db.set_deadline(conn, request.app.state.settings.request_timeout)
        try:
            return endpoint(conn=conn, **arguments)
        finally:
            db.set_deadline(conn, None)
            conn.close()

    async def threaded(**arguments: Any) -> Response:
        return await run_in_threadpool(with_connection, arguments)

    threaded.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for name, p in signature.parameters.items() if name != "conn"]
    )
    threaded.__name__ = endpoint.__name__
    threaded.__doc__ = endpoint.__doc__
    return threaded


JSON_TYPES = (JSON, PROBLEM_JSON)
OFFERED: dict[str, tuple[str, ...]] = {}
"""Route path -> the media types it answers in, first preferred; a route not named answers JSON."""


def _accepted(accept: str | None) -> list[tuple[str, float]]:
    """The Accept header as (media range, quality) pairs; no header accepts anything."""
    if not accept:
        return [("*/*", 1.0)]
    ranges = []
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0
        ranges.append((media.strip().lower(), quality))
    return ranges


def _quality(media: str, ranges: list[tuple[str, float]]) -> float:
    family = media.split("/")[0] + "/*"
    for candidates in ((media,), (family,), ("*/*",)):
        qualities = [q for m, q in ranges if m in candidates]
        if qualities:
            return max(qualities)
    return 0.0


def preferred(request: Request, offered: tuple[str, ...]) -> str | None:
    """The offered media type the client prefers (ties: the first offered), or None."""
    accept = request.headers.get("accept")
    if accept is not None and len(accept) > CACHED_ACCEPT_LENGTH:
        return _preferred.__wrapped__(accept, offered)
    return _preferred(accept, offered)


CACHED_ACCEPT_LENGTH = 256
"""Longer Accept headers are parsed each time (the cache's memory stays small)."""


@functools.lru_cache(maxsize=1024)
def _preferred(accept: str | None, offered: tuple[str, ...]) -> str | None:
    # Kept per Accept header: clients send a handful of distinct ones, and parsing it on every
    # request cost as much as reading a record.
    ranges = _accepted(accept)
    best, best_quality = None, 0.0
    for media in offered:
        quality = max(
            _quality(m, ranges) for m in ([media, PROBLEM_JSON] if media == JSON else [media])
        )
        if quality > best_quality:
            best, best_quality = media, quality
    return best


def check_accept(request: Request) -> None:
    """406 unless the client accepts a media type the route answers in (JSON for most)."""
    route = request.scope.get("route")
    offered = OFFERED.get(getattr(route, "path", ""), (JSON,))
    if preferred(request, offered) is None:
        if offered == (JSON,):
            raise ProblemError(406, "This API answers in JSON only: accept application/json.")
        raise ProblemError(406, f"This endpoint answers in {' or '.join(offered)}: accept one.")


async def accepted(request: Request) -> None:
    """`check_accept` as a route dependency. Dependencies that do no I/O are coroutines: FastAPI
    runs a plain function in its thread pool, a hop that costs more than the check itself."""
    check_accept(request)


def check_parameters(request: Request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise ProblemError(
            400,
            f"Unknown parameter: {', '.join(unknown)}. "
            f"This endpoint takes: {', '.join(sorted(allowed)) or 'no parameters'}.",
            errors=[
                {"parameter": u, "in": "query", "message": "unknown parameter"} for u in unknown
            ],
        )
    for name in allowed:
        if len(request.query_params.getlist(name)) > MAX_VALUES:
            raise ProblemError(
                400,
                f"Parameter {name} is repeated more than {MAX_VALUES} times.",
                errors=[{"parameter": name, "in": "query", "message": "too many values"}],
            )
    for name in SINGLE_VALUED & allowed:
        if len(request.query_params.getlist(name)) > 1:
            raise ProblemError(
                400,
                f"Parameter {name} may be given once.",
                errors=[{"parameter": name, "in": "query", "message": "given more than once"}],
            )


def _last_modified(conn: sa.Connection) -> datetime | None:
    loaded_at: datetime | None = sync.state(conn).get("loaded_at")
    return loaded_at


def page_links(request: Request, next_cursor: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    self_url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    links: dict[str, Any] = {"self": self_url, "next": None}
    headers: dict[str, str] = {}
    if next_cursor:
        links["next"] = f"{request.url.path}?{urlencode([*params, ('cursor', next_cursor)])}"
        headers["Link"] = f'<{links["next"]}>; rel="next"'
    return links, headers


class ListFormat(StrEnum):
    """The representation of a list: a JSON page, or every matching record as CSV."""

    JSON = "json"
    CSV = "csv"


CSV_BATCH = 500


def _list_endpoint(collection: Collection, api: Api) -> Callable[..., Response]:
    filters = [*collection.filters, *COMMON_FILTERS]
    allowed = {f.name for f in filters} | {"q", "limit", "cursor", "format"}

    def endpoint(request: Request, conn: sa.Connection, **params: Any) -> Response:
        check_parameters(request, api.parameters(allowed, collection.entity))
        settings: Settings = request.app.state.settings
        t = table(collection.entity)
        query = sa.select(t)
        applied: dict[str, Any] = {}
        for f in filters:
            values = params.get(f.name)
            if values is None or values == []:
                continue
            values = values if isinstance(values, list) else [values]
            query = query.where(f.condition(t, values))
            applied[f.name] = sorted(str(getattr(v, "value", v)) for v in values)
        text = params.get("q")
        if text is not None:
            # A query with no word in it (only punctuation) matches nothing.
            query = query.where(
                t.c.id.in_(search_index.matching_ids(conn, collection.entity, text))
                if search_index.words(text)
                else sa.false()
            )
            applied["q"] = search_index.words(text)
        query = published(
            query, collection.entity, t, personal_contacts=settings.publish_personal_contacts
        )
        scope = pagination.fingerprint(collection.path, applied)
        cursor = params.get("cursor")
        if cursor is not None:
            after = pagination.position(
                pagination.decode(settings.cursor_secret, scope, cursor), str
            )
            query = query.where(t.c.id > after)
        chosen = params.get("format")
        if chosen is None:
            wanted = preferred(request, (JSON, CSV))
        else:
            wanted = CSV if chosen == ListFormat.CSV else JSON
        if wanted == CSV:
            explicit_limit = params["limit"] if "limit" in request.query_params else None
            return _csv_list(request, api, collection, query, applied, cursor, explicit_limit)
        limit: int = params["limit"]
        page = query.order_by(t.c.id).limit(limit + 1)
        ctx = api.context(request, conn)
        data: list[Any]
        languages: set[str] = set()
        if api.expands(request):
            rows = conn.execute(page).mappings().all()
            ids = [row["id"] for row in rows]
            data = build(ctx, collection.entity, rows[:limit])
            api.embed(request, ctx, data)
        else:
            # The stored documents, joined into the page as they are (no parsing).
            found = representation.documents(
                conn, collection.entity, page, api.prefix, ctx.languages
            )
            ids = [d.record_id for d in found]
            data = [orjson.Fragment(d.body) for d in found[:limit]]
            languages = set().union(*(d.languages for d in found[:limit]))
        next_cursor = (
            pagination.encode(settings.cursor_secret, scope, ids[limit - 1])
            if len(ids) > limit
            else None
        )
        links, headers = page_links(request, next_cursor)
        headers |= api.headers(ctx, languages)
        return cacheable(
            request,
            {"data": data, "next_cursor": next_cursor, "links": links},
            last_modified=_last_modified(conn),
            max_age=settings.cache_max_age,
            headers=headers,
        )

    parameters = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        inspect.Parameter(
            "conn",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=sa.Connection,
        ),
    ]
    for f in filters:
        annotation = (
            f.type | None if f.name in SINGLE_VALUED else list[f.type] | None  # type: ignore[name-defined]
        )
        parameters.append(
            inspect.Parameter(
                f.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[
                    annotation,
                    Query(
                        description=f.description
                        + (
                            ""
                            if f.name in SINGLE_VALUED
                            else f"; repeat it to allow several (at most {MAX_VALUES})"
                        ),
                        examples=[f.example],
                        max_length=None if f.name in SINGLE_VALUED else MAX_VALUES,
                    ),
                ],
            )
        )
    parameters += _search_and_page_parameters()
    parameters.append(
        inspect.Parameter(
            "format",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[
                ListFormat | None,
                Query(
                    description=(
                        "`json` (default): one page; `csv`: every record that matches the "
                        "filters, as CSV (see docs/API.md for the flattening rules). Overrides "
                        "the Accept header (`Accept: text/csv` asks for CSV too)."
                    ),
                    examples=["csv"],
                ),
            ],
        )
    )
    endpoint.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return endpoint


def _csv_list(
    request: Request,
    api: "Api",
    collection: Collection,
    query: sa.Select[Any],
    applied: dict[str, Any],
    cursor: str | None,
    limit: int | None,
) -> Response:
    """Every record of `query` as CSV, streamed in batches from a read transaction of its own
    (so the rows and the ETag describe one state of the data)."""
    settings: Settings = request.app.state.settings
    t = table(collection.entity)
    conn = db.read_transaction(request.app.state.engine)
    try:
        state = sync.state(conn)
        last_modified = _last_modified(conn)
    except BaseException:
        conn.close()
        raise
    identity = pagination.fingerprint(
        "csv",
        {
            "collection": collection.path,
            "filters": applied,
            "cursor": cursor,
            "limit": limit,
            "data": [state["last_seq"], state["content_digest"]],
            "personal": settings.publish_personal_contacts,
            "code": PACKAGE_VERSION,
            "api": api.prefix,
            "languages": api.languages(request),
        },
    )

    def batches() -> Iterator[list[dict[str, Any]]]:
        ctx = api.context(request, conn)
        remaining = limit
        after: str | None = None
        while remaining is None or remaining > 0:
            size = CSV_BATCH if remaining is None else min(CSV_BATCH, remaining)
            page = query if after is None else query.where(t.c.id > after)
            # Each batch gets its own deadline: a long list is many short statements.
            db.set_deadline(conn, settings.request_timeout)
            rows = conn.execute(page.order_by(t.c.id).limit(size)).mappings().all()
            if not rows:
                return
            yield build(ctx, collection.entity, rows)
            after = rows[-1]["id"]
            if remaining is not None:
                remaining -= len(rows)

    return streamed(
        request,
        conn,
        csv_lists.lines(csv_lists.columns(api.record_schemas[collection.entity]), batches()),
        identity=identity,
        last_modified=last_modified,
        max_age=settings.cache_max_age,
        media_type=csv_lists.CSV_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{csv_lists.filename(collection.path)}"'
        }
        | api.headers(),
    )


def _search_and_page_parameters() -> list[inspect.Parameter]:
    keyword = inspect.Parameter.KEYWORD_ONLY
    return [
        inspect.Parameter(
            "q",
            keyword,
            default=None,
            annotation=Annotated[
                str | None,
                Query(
                    min_length=1,
                    max_length=search_index.MAX_QUERY_LENGTH,
                    description="Full-text search in names and descriptions; every word must match",
                    examples=["hotline"],
                ),
            ],
        ),
        inspect.Parameter(
            "limit",
            keyword,
            default=DEFAULT_LIMIT,
            annotation=Annotated[
                int,
                Query(
                    ge=1,
                    le=MAX_LIMIT,
                    description=f"Records per page (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})",
                    examples=[50],
                ),
            ],
        ),
        inspect.Parameter(
            "cursor",
            keyword,
            default=None,
            annotation=Annotated[
                str | None,
                Query(
                    max_length=pagination.MAX_CURSOR_LENGTH,
                    description=pagination.CURSOR_DESCRIPTION,
                    # Declared, not validated by FastAPI: pagination.decode refuses every cursor
                    # it did not issue with one message, whatever its form.
                    json_schema_extra={"pattern": pagination.CURSOR_PATTERN},
                ),
            ],
        ),
    ]


def _record_endpoint(collection: Collection, api: Api) -> Callable[..., Response]:
    singular = collection.entity.replace("_", " ")

    def endpoint(
        request: Request,
        conn: sa.Connection,
        id: Annotated[
            str,
            Path(description=f"The {singular}'s id", examples=[_example_id(collection)]),
        ],
    ) -> Response:
        check_parameters(request, api.parameters(set(), collection.entity))
        settings: Settings = request.app.state.settings
        t = table(collection.entity)
        query = published(
            sa.select(t).where(t.c.id == id),
            collection.entity,
            t,
            personal_contacts=settings.publish_personal_contacts,
        )
        ctx = api.context(request, conn)
        body: Any = None
        languages: set[str] = set()
        # No id holds a NUL character (and PostgreSQL refuses one in a query).
        if "\x00" in id:
            pass
        elif api.expands(request):
            records = build(ctx, collection.entity, conn.execute(query).mappings().all())
            api.embed(request, ctx, records)
            body = records[0] if records else None
        else:
            for document in representation.documents(
                conn, collection.entity, query, api.prefix, ctx.languages
            ):
                body, languages = document.body, document.languages
        if body is None:
            raise ProblemError(404, f"No {singular} with id {id!r} is published.")
        return cacheable(
            request,
            body,
            last_modified=_last_modified(conn),
            max_age=settings.cache_max_age,
            headers=api.headers(ctx, languages),
        )

    return endpoint


def _example_id(collection: Collection) -> str:
    return EXAMPLE_RECORDS[collection.entity]


def _csv_example(collection: Collection, api: "Api") -> dict[str, Any]:
    header = csv_lists.columns(api.record_schemas[collection.entity])
    example = stored_examples(api.prefix).get(collection.entity)
    rows = [example] if example else []
    text = b"".join(csv_lists.lines(header, iter([rows]))).decode()
    return {"schema": {"type": "string"}, "example": text}


def build_router(api: "Api") -> APIRouter:
    router = APIRouter(
        prefix=api.prefix, dependencies=[Depends(accepted), *map(Depends, api.dependencies)]
    )
    for collection in COLLECTION_LIST:
        name = _camel(collection.path)
        singular = _camel(collection.entity)
        expand = (
            [Depends(embedding.parameter(collection.entity, collection.path))]
            if api.embeds_in(collection.entity)
            else []
        )
        router.add_api_route(
            f"/{collection.path}",
            in_one_thread(_list_endpoint(collection, api)),
            methods=["GET"],
            operation_id=f"list{name}",
            summary=f"List {collection.title.lower()}",
            description=(
                f"{collection.title}, {DEFAULT_LIMIT} per page by default, in `id` order. "
                "Filters combine with AND; a repeated filter means OR."
            ),
            response_model=schemas.Page[api.record_schemas[collection.entity]],  # type: ignore[name-defined]
            responses={200: {"content": {CSV: _csv_example(collection, api)}}},
            tags=[collection.title],
            dependencies=expand,
        )
        OFFERED[f"{api.prefix}/{collection.path}"] = (JSON, CSV)
        router.add_api_route(
            f"/{collection.path}/{{id}}",
            in_one_thread(_record_endpoint(collection, api)),
            methods=["GET"],
            operation_id=f"get{singular}",
            summary=f"Get one {collection.entity.replace('_', ' ')}",
            response_model=api.record_schemas[collection.entity],
            tags=[collection.title],
            dependencies=expand,
        )
    router.add_api_route(
        "/search",
        in_one_thread(_search_endpoint(api)),
        methods=["GET"],
        operation_id="search",
        summary="Search every entity",
        description="Full-text search over names and descriptions of every entity, best first.",
        response_model=api.search_results,
        tags=["Search"],
    )
    router.add_api_route(
        "/changes",
        in_one_thread(_changes_endpoint(api)),
        methods=["GET"],
        operation_id="listChanges",
        summary="Changes after a sequence number",
        description=(
            "The change feed for keeping a copy in sync: the changes after `since`, oldest "
            "first, deletes as tombstones. Of each record only its latest change is listed, "
            "with the record as it is now. Apply them in order, store `next_since` with the data, "
            "and ask again. History is kept from `history_start`; an older `since` gets 410: "
            f"take a new snapshot from {api.prefix}/export. See docs/SYNC.md."
        ),
        response_model=api.change_page,
        tags=["Sync"],
    )
    router.add_api_route(
        "/export",
        _export_endpoint(api),
        methods=["GET"],
        operation_id="exportRecords",
        summary="Every current record, as NDJSON",
        description=(
            "A consistent snapshot, streamed: the first line is a header "
            "(`type`: `header`, `dataset_version`, `schema_revision`, `last_seq`, ...), then one "
            f"record per line, as {api.prefix}/<collection>/{{id}} gives it, by entity then "
            "id. The snapshot plus the changes after its `last_seq` equals the current data."
            + (
                f" Each record line also has `evidence`: the quotes {api.prefix}/<collection>/"
                "{id}/evidence gives, so a copy can serve them too."
                if api.evidence
                else ""
            )
        ),
        response_class=Response,
        responses={
            200: {
                "content": {NDJSON: {"schema": {"type": "string"}}},
                "description": "NDJSON lines",
            }
        },
        tags=["Sync"],
    )
    graph_json, graph_svg = _graph_endpoints(api)
    router.add_api_route(
        "/graph",
        in_one_thread(graph_json),
        methods=["GET"],
        operation_id="getGraph",
        summary="The prevention model as a graph",
        description=GRAPH_DESCRIPTION,
        response_model=schemas.Graph,
        tags=["Graph"],
    )
    router.add_api_route(
        "/graph.svg",
        in_one_thread(graph_svg),
        methods=["GET"],
        operation_id="getGraphPicture",
        summary="The prevention model, drawn",
        description=(
            "The graph that /v1/graph gives for the same parameters, drawn by Graphviz as SVG: "
            "organisations are blue boxes, cooperations orange hexagons, practices green notes, "
            "cities red houses; every node links to its record. At most "
            f"{graph.MAX_DRAWN_NODES} nodes are drawn (more: 400)."
        ),
        response_class=Response,
        responses={
            200: {
                "content": {SVG: {"schema": {"type": "string"}}},
                "description": "An SVG picture",
            }
        },
        tags=["Graph"],
    )
    OFFERED[f"{api.prefix}/graph.svg"] = (SVG,)
    router.add_api_route(
        "/meta",
        in_one_thread(_meta_endpoint(api)),
        methods=["GET"],
        operation_id="getMeta",
        summary="About the data set",
        response_model=api.meta,
        tags=["Meta"],
    )
    return router


# --- the prevention model as a graph ------------------------------------------------------

GRAPH_PARAMETERS = {"type", "edge", "organisation", "cooperation", "practice", "city"} | {
    "depth",
    "country",
}
EDGE_HELP = "\n".join(
    f"- `{edge.value}`: {graph.EDGE_DESCRIPTIONS[edge]}" for edge in graph.EdgeType
)
GRAPH_DESCRIPTION = (
    "Nodes are organisations, cooperations, practices and cities; an edge reads "
    '"source <type> target" and comes from a relationship a record owns (the `edge` parameter '
    "lists every type). Without a neighbourhood parameter it is the whole model; with "
    "`organisation`, `cooperation`, `practice` or `city` it is the nodes within `depth` edges of "
    "those records (either direction, over the edge types asked for) and the edges among them. "
    "`type` and `country` then choose which of those nodes are shown. A graph of more than "
    f'{graph.MAX_NODES} nodes is refused (400): narrow it. See docs/API.md, "The model as a '
    'graph".'
)


def _focus(description: str, example: str) -> Any:
    return Query(
        description=f"The neighbourhood of this {description} (its id); repeat it for several",
        examples=[example],
        max_length=MAX_VALUES,
    )


async def graph_query(
    request: Request,
    type: Annotated[
        list[graph.NodeType] | None,
        Query(
            description="Only nodes of these types (default: all four); repeat it for several",
            examples=["practice"],
            max_length=MAX_VALUES,
        ),
    ] = None,
    edge: Annotated[
        list[graph.EdgeType] | None,
        Query(
            description="Only edges of these types (default: all); repeat it for several. "
            'The types, each read "source <type> target":\n\n' + EDGE_HELP,
            examples=["member_of"],
            max_length=MAX_VALUES,
        ),
    ] = None,
    organisation: Annotated[list[str] | None, _focus("organisation", "pet")] = None,
    cooperation: Annotated[list[str] | None, _focus("cooperation", "ssp")] = None,
    practice: Annotated[list[str] | None, _focus("practice", "cocora")] = None,
    city: Annotated[list[str] | None, _focus("city", "viborg")] = None,
    depth: Annotated[
        int,
        Query(
            ge=1,
            le=graph.MAX_DEPTH,
            description=(
                f"How many edges away from the neighbourhood's records nodes may be (1 to "
                f"{graph.MAX_DEPTH}, default 1); without a neighbourhood parameter it has no effect"
            ),
            examples=[2],
        ),
    ] = 1,
    country: Annotated[
        list[str] | None,
        Query(
            description="Only nodes of this country (its id); repeat it for several",
            examples=["dk"],
            max_length=MAX_VALUES,
        ),
    ] = None,
) -> graph.Query:
    focus = {
        (node_type, record_id)
        for node_type, ids in (
            (graph.NodeType.ORGANISATION, organisation),
            (graph.NodeType.COOPERATION, cooperation),
            (graph.NodeType.PRACTICE, practice),
            (graph.NodeType.CITY, city),
        )
        for record_id in ids or ()
    }
    return graph.Query(
        types=set(type or graph.NodeType),
        edges=set(edge or graph.EdgeType),
        focus=focus,
        depth=depth,
        countries=set(country or ()),
    )


GraphQuery = Annotated[graph.Query, Depends(graph_query)]


def _graph(conn: sa.Connection, query: graph.Query, api: str) -> dict[str, Any]:
    try:
        return graph.build_graph(conn, query, api)
    except graph.GraphTooBig as too_big:
        raise ProblemError(400, str(too_big)) from None


def _graph_endpoints(api: "Api") -> tuple[Callable[..., Response], Callable[..., Response]]:
    def graph_json(request: Request, conn: sa.Connection, query: GraphQuery) -> Response:
        check_parameters(request, api.parameters(GRAPH_PARAMETERS))
        settings: Settings = request.app.state.settings
        model = _graph(conn, query, api.prefix)
        search = f"?{request.url.query}" if request.url.query else ""
        model["links"] = {
            "self": f"{api.prefix}/graph{search}",
            "svg": f"{api.prefix}/graph.svg{search}",
        }
        return cacheable(
            request,
            model,
            last_modified=_last_modified(conn),
            max_age=settings.cache_max_age,
            headers=api.headers(),
        )

    def graph_svg(request: Request, conn: sa.Connection, query: GraphQuery) -> Response:
        check_parameters(request, api.parameters(GRAPH_PARAMETERS))
        settings: Settings = request.app.state.settings
        model = _graph(conn, query, api.prefix)
        last_modified = _last_modified(conn)
        try:
            picture = graph.render_svg(model)
        except graph.GraphTooBig as too_big:
            raise ProblemError(400, str(too_big)) from None
        except graph.DrawingFailed as failed:
            raise ProblemError(503, str(failed), headers={"Retry-After": "60"}) from None
        return cacheable(
            request,
            picture,
            last_modified=last_modified,
            max_age=settings.cache_max_age,
            media_type=SVG,
            headers=api.headers(),
        )

    return graph_json, graph_svg


CHANGES_DEFAULT_LIMIT = 500
CHANGES_MAX_LIMIT = 1000


SINCE_PAST_THE_END = {
    True: (
        "A `since` after the publisher's last change (`last_seq` of /meta) is refused with 400: "
        "the client holds a change number this server never gave."
    ),
    False: (
        "A `since` after the publisher's last change gets an empty page whose `next_since` is "
        "that last change (`last_seq`): nothing newer is known here, as when a replica is "
        "behind the one that gave the number; store `next_since` and ask again later. Change "
        "numbers are 64-bit: a larger `since` gets 400."
    ),
}
MAX_SEQ = 2**63 - 1


def _changes_endpoint(api: Api) -> Callable[..., Response]:
    def changes(
        request: Request,
        conn: sa.Connection,
        since: Annotated[
            int,
            Query(
                ge=0,
                # v1 refuses any since past the last change, so it never needed the bound.
                le=None if api.refuses_since_past_end else MAX_SEQ,
                description=(
                    "The last change number the client has applied (0: from the start; a "
                    "`next_since` or an export's `last_seq` after that). One older than "
                    "`history_start` gets 410. " + SINCE_PAST_THE_END[api.refuses_since_past_end]
                ),
                examples=[0],
            ),
        ] = 0,
        limit: Annotated[
            int,
            Query(
                ge=1,
                le=CHANGES_MAX_LIMIT,
                description=(
                    f"Changes per page (default {CHANGES_DEFAULT_LIMIT}, "
                    f"at most {CHANGES_MAX_LIMIT})"
                ),
            ),
        ] = CHANGES_DEFAULT_LIMIT,
    ) -> Response:
        check_parameters(request, api.parameters({"since", "limit"}))
        settings: Settings = request.app.state.settings
        ctx = api.context(request, conn)
        try:
            page = sync.changes(
                conn,
                since,
                limit,
                personal_contacts=settings.publish_personal_contacts,
                api=api.prefix,
                languages=ctx.languages,
                refuse_future=api.refuses_since_past_end,
                with_evidence=api.evidence,
            )
        except sync.HistoryGone as gone:
            raise ProblemError(
                410,
                f"Changes after {gone.since} are no longer kept (history starts at "
                f"{gone.history_start}). Take a new snapshot from {api.prefix}/export, then "
                "ask for the changes after its last_seq.",
                history_start=gone.history_start,
                snapshot=f"{api.prefix}/export",
            ) from None
        except sync.SinceInFuture as future:
            raise ProblemError(
                400,
                f"since={future.since} is after the last change ({future.last_seq}).",
                errors=[{"parameter": "since", "in": "query", "message": "after the last change"}],
            ) from None
        page["links"] = sync.page_links(api.prefix, since, limit, page["next_since"])
        return cacheable(
            request,
            page,
            last_modified=_last_modified(conn),
            max_age=settings.cache_max_age,
            headers=api.headers(ctx),
        )

    return changes


def _export_endpoint(api: Api) -> Callable[..., Response]:
    def export(
        request: Request,
        type: Annotated[
            list[EntityType] | None,
            Query(
                description="Only records of these entity types; repeat it for several",
                examples=["city"],
            ),
        ] = None,
    ) -> Response:
        """Every current record as NDJSON, streamed: a header line, then one record per line."""
        check_parameters(request, api.parameters({"type"}))
        languages = api.languages(request)
        settings: Settings = request.app.state.settings
        types: list[str] | None = [t for t in ENTITIES if t in set(type)] if type else None
        conn = db.read_transaction(request.app.state.engine)
        try:
            header = sync.export_header(conn, types, api.prefix)
            last_modified = _last_modified(conn)
        except BaseException:
            conn.close()
            raise
        # The export is a function of the data set state, the options and this code's version.
        identity = pagination.fingerprint(
            "export",
            {
                "header": header,
                "personal": settings.publish_personal_contacts,
                **({"languages": languages} if languages else {}),
                "code": PACKAGE_VERSION,
            },
        )
        return streamed(
            request,
            conn,
            sync.export_pieces(
                conn,
                types,
                personal_contacts=settings.publish_personal_contacts,
                batch_timeout=settings.request_timeout,
                api=api.prefix,
                languages=languages,
                with_evidence=api.evidence,
            ),
            identity=identity,
            last_modified=last_modified,
            max_age=settings.cache_max_age,
            headers=api.headers(),
            media_type=NDJSON,
        )

    return export


def _search_endpoint(api: Api) -> Callable[..., Response]:
    def search(
        request: Request,
        conn: sa.Connection,
        q: Annotated[
            str,
            Query(
                min_length=1,
                max_length=search_index.MAX_QUERY_LENGTH,
                description="Words to find; every word must match (no query syntax)",
                examples=["hotline"],
            ),
        ],
        type: Annotated[
            list[EntityType] | None,
            Query(
                description="Only these entity types; repeat it to allow several",
                examples=["practice"],
                max_length=MAX_VALUES,
            ),
        ] = None,
        limit: Annotated[
            int,
            Query(ge=1, le=MAX_LIMIT, description=f"Hits per page (default {DEFAULT_LIMIT})"),
        ] = DEFAULT_LIMIT,
        cursor: Annotated[
            str | None,
            Query(
                max_length=pagination.MAX_CURSOR_LENGTH,
                description=pagination.CURSOR_DESCRIPTION,
                json_schema_extra={"pattern": pagination.CURSOR_PATTERN},
            ),
        ] = None,
    ) -> Response:
        check_parameters(request, api.parameters({"q", "type", "limit", "cursor"}))
        settings: Settings = request.app.state.settings
        words = search_index.words(q)
        types: list[str] | None = sorted(set(type)) if type else None
        scope = pagination.fingerprint("search", {"q": words, "type": types})
        after = None
        if cursor is not None:
            rank, entity_type, entity_id = pagination.position(
                pagination.decode(settings.cursor_secret, scope, cursor), float | int, str, str
            )
            after = (float(rank), entity_type, entity_id)
        hits = (
            search_index.search(conn, q, types=types, limit=limit + 1, after=after) if words else []
        )
        next_cursor = None
        if len(hits) > limit:
            last = hits[limit - 1]
            next_cursor = pagination.encode(
                settings.cursor_secret,
                scope,
                [last["rank"], last["entity_type"], last["entity_id"]],
            )
        ctx = api.context(request, conn)
        by_type: dict[str, list[str]] = {}
        for hit in hits[:limit]:
            by_type.setdefault(hit["entity_type"], []).append(hit["entity_id"])
        names = {(e, i): n for e, ids in by_type.items() for i, n in ctx.names(e, ids).items()}
        data = [
            {
                "id": hit["entity_id"],
                "type": hit["entity_type"],
                "name": names[(hit["entity_type"], hit["entity_id"])],
                "href": versioned_href(api.prefix, hit["entity_type"], hit["entity_id"]),
                "rank": round(float(hit["rank"]), 6),
                "snippet": hit["snippet"] or None,
            }
            for hit in hits[:limit]
            if (hit["entity_type"], hit["entity_id"]) in names
        ]
        links, headers = page_links(request, next_cursor)
        return cacheable(
            request,
            {"query": " ".join(words), "data": data, "next_cursor": next_cursor, "links": links},
            last_modified=_last_modified(conn),
            max_age=settings.cache_max_age,
            headers=headers | api.headers(ctx),
        )

    return search


_COUNTS: dict[tuple[int, bool], dict[str, int]] = {}


def _counts(conn: sa.Connection, last_seq: int, personal: bool) -> dict[str, int]:
    """Record counts, computed once per data set state (counting a million rows is not free)."""
    key = (last_seq, personal)
    if key not in _COUNTS:
        counts = {}
        for entity in ENTITIES:
            t = table(entity)
            query = published(
                sa.select(sa.func.count()).select_from(t), entity, t, personal_contacts=personal
            )
            counts[COLLECTIONS[entity]] = int(conn.execute(query).scalar_one())
        _COUNTS.clear()
        _COUNTS[key] = counts
    return _COUNTS[key]


def _meta_endpoint(api: Api) -> Callable[..., Response]:
    def meta(request: Request, conn: sa.Connection) -> Response:
        check_parameters(request, api.parameters(set()))
        settings: Settings = request.app.state.settings
        state = sync.state(conn)
        if state["dataset_version"] is None:
            raise ProblemError(503, "No data set is loaded yet.", headers={"Retry-After": "30"})
        contact = {"email": settings.contact_email, "url": settings.contact_url}
        return cacheable(
            request,
            {
                "dataset_version": state["dataset_version"],
                "content_digest": state["content_digest"],
                "schema_revision": head_revision(),
                "last_seq": state["last_seq"],
                "history_start": state["history_start"],
                "loaded_at": state["loaded_at"],
                "record_counts": _counts(
                    conn, state["last_seq"], settings.publish_personal_contacts
                ),
                "licence": LICENCE,
                "contact": contact,
                "links": {
                    "self": f"{api.prefix}/meta",
                    "sources": f"{api.prefix}/sources",
                    "openapi": f"{api.prefix}/openapi.json",
                },
            },
            last_modified=state["loaded_at"],
            max_age=settings.cache_max_age,
            headers=api.headers(),
        )

    return meta
