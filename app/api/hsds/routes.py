"""The /hsds endpoints: practices and organisations in the shape of HSDS 3.0 (Open Referral).

Parameters and the paging envelope are HSDS's own (`page`, `per_page`, `search`,
`modified_after`, `organization_id`, `taxonomy_term_id`; `total_items` ... `contents`). Pages are
numbered, as HSDS asks, so they are read with OFFSET; the data sets this profile serves are small
enough for that. Errors, caching and read-only HTTP are as in v1.
"""

import inspect
import math
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from app import search as search_index
from app import sync
from app.api.caching import cacheable
from app.api.collections import IsoDateTime
from app.api.hsds import records
from app.api.hsds.ids import RESOLVER, hsds_id
from app.api.problems import ProblemError
from app.api.routes import accepted, check_parameters, in_one_thread
from app.models import table
from app.settings import Settings

HSDS_VERSION = "3.0"
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500
MAX_PAGE = 1_000_000  # far beyond any data set; keeps OFFSET arithmetic in range
# Examples in the contract: real records of seeds/ (Viborg's hotline, PET, the hotline theme).
EXAMPLE_SERVICE = hsds_id("practice", "viborg-hotline")
EXAMPLE_ORGANIZATION = hsds_id("organisation", "pet")
EXAMPLE_TERM = hsds_id("theme", "support-hotline")

Page = Annotated[
    int,
    Query(ge=1, le=MAX_PAGE, description="Page number of paginated result (from 1)", examples=[1]),
]
PerPage = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_PER_PAGE,
        description=(
            f"Number of results requested in a single page (default {DEFAULT_PER_PAGE}, "
            f"at most {MAX_PER_PAGE})"
        ),
        examples=[DEFAULT_PER_PAGE],
    ),
]
Search = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=search_index.MAX_QUERY_LENGTH,
        description="Full text search in names and descriptions; every word must match",
        examples=["hotline"],
    ),
]
ServiceId = Annotated[
    str,
    Path(
        description="The id (UUID) of the service",
        examples=[EXAMPLE_SERVICE],
    ),
]
OrganizationId = Annotated[
    str,
    Path(
        description="The id (UUID) of the organization",
        examples=[EXAMPLE_ORGANIZATION],
    ),
]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _last_modified(conn: sa.Connection) -> datetime | None:
    loaded_at: datetime | None = sync.state(conn).get("loaded_at")
    return loaded_at


def _check_parameters(request: Request, allowed: set[str]) -> None:
    """As v1 (unknown parameters are refused), and each HSDS parameter is given at most once."""
    check_parameters(request, allowed)
    for name in sorted(allowed):
        if len(request.query_params.getlist(name)) > 1:
            raise ProblemError(
                400,
                f"Parameter {name} may be given once.",
                errors=[{"parameter": name, "in": "query", "message": "given more than once"}],
            )


def _resolve(conn: sa.Connection, value: str, kinds: tuple[str, ...]) -> tuple[str, str] | None:
    found = RESOLVER.lookup(conn, value)
    return found if found is not None and found[0] in kinds else None


def _page(
    request: Request,
    conn: sa.Connection,
    query: sa.Select[Any],
    t: sa.Table,
    page: int,
    per_page: int,
    build: Any,
) -> Response:
    """HSDS's paging envelope around one page of `query`'s rows, in v1 id order."""
    settings = _settings(request)
    total = conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    rows = (
        conn.execute(query.order_by(t.c.id).limit(per_page).offset((page - 1) * per_page))
        .mappings()
        .all()
    )
    ctx = records.HsdsContext(
        conn, personal_contacts=settings.publish_personal_contacts, base=_base(request)
    )
    total_pages = math.ceil(total / per_page)
    headers = {}
    if page < total_pages:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
        headers["Link"] = (
            f'<{request.url.path}?{urlencode([*params, ("page", page + 1)])}>; rel="next"'
        )
    body = {
        "total_items": total,
        "total_pages": total_pages,
        "page_number": page,
        "size": len(rows),
        "first_page": page == 1,
        "last_page": page >= total_pages,
        "empty": not rows,
        "contents": build(ctx, rows, full=False),
    }
    return cacheable(
        request,
        body,
        last_modified=_last_modified(conn),
        max_age=settings.cache_max_age,
        headers=headers,
    )


def _one(request: Request, conn: sa.Connection, entity: str, hsds_id: str, build: Any) -> Response:
    settings = _settings(request)
    found = _resolve(conn, hsds_id, (entity,))
    t = table(entity)
    rows = conn.execute(sa.select(t).where(t.c.id == found[1])).mappings().all() if found else []
    if not rows:
        kind = "service" if entity == "practice" else "organization"
        raise ProblemError(404, f"No {kind} with id {hsds_id!r} is published.")
    ctx = records.HsdsContext(
        conn, personal_contacts=settings.publish_personal_contacts, base=_base(request)
    )
    return cacheable(
        request,
        build(ctx, rows, full=True)[0],
        last_modified=_last_modified(conn),
        max_age=settings.cache_max_age,
    )


def _matching(conn: sa.Connection, entity: str, t: sa.Table, text: str) -> Any:
    if not search_index.words(text):
        return sa.false()  # only punctuation: matches nothing, as in v1
    return t.c.id.in_(search_index.matching_ids(conn, entity, text))


def api_root(request: Request) -> Response:
    """HSDS version, profile and contract URLs."""
    check_parameters(request, set())
    base = _base(request)
    return cacheable(
        request,
        {
            "version": HSDS_VERSION,
            "profile": f"{base}/hsds/docs",
            "openapi_url": f"{base}/hsds/openapi.json",
        },
        last_modified=None,
        max_age=_settings(request).cache_max_age,
    )


def list_services(
    request: Request,
    conn: sa.Connection,
    page: Page = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
    search: Search = None,
    modified_after: Annotated[
        IsoDateTime | None,
        Query(
            description=(
                "Return all results modified on or after this datetime (ISO 8601; "
                "without a zone, UTC)"
            ),
            examples=["2026-01-01T00:00:00Z"],
        ),
    ] = None,
    organization_id: Annotated[
        str | None,
        Query(
            max_length=64,
            description=(
                "Only services this organization (its id, a UUID) provides: leads, or "
                "coordinates where no organization leads"
            ),
            examples=[EXAMPLE_ORGANIZATION],
        ),
    ] = None,
    taxonomy_term_id: Annotated[
        str | None,
        Query(
            max_length=64,
            description=(
                "Only services with this taxonomy term (a UUID): a theme, a practice kind or a "
                "source"
            ),
            examples=[EXAMPLE_TERM],
        ),
    ] = None,
) -> Response:
    """A page of practices as HSDS services (list form)."""
    _check_parameters(
        request,
        {"page", "per_page", "search", "modified_after", "organization_id", "taxonomy_term_id"},
    )
    t = table("practice")
    query = sa.select(t)
    if search is not None:
        query = query.where(_matching(conn, "practice", t, search))
    if modified_after is not None:
        query = query.where(t.c.updated_at >= modified_after)
    if organization_id is not None:
        query = query.where(_provided_by(conn, t, organization_id))
    if taxonomy_term_id is not None:
        query = query.where(_has_term(conn, t, taxonomy_term_id))
    return _page(request, conn, query, t, page, per_page, records.services)


def _provided_by(conn: sa.Connection, t: sa.Table, organization_id: str) -> Any:
    """The organisation provides the practice: it leads it, or coordinates one without a lead
    (as records.providers decides)."""
    found = _resolve(conn, organization_id, ("organisation",))
    if found is None:
        return sa.false()
    link = table("practice_organisation")

    def role(name: str) -> sa.Select[Any]:
        return sa.select(link.c.practice_id).where(
            link.c.organisation_id == found[1], link.c.role == name
        )

    has_lead = sa.select(link.c.practice_id).where(link.c.role == "lead")
    return sa.or_(
        t.c.id.in_(role("lead")),
        sa.and_(t.c.id.in_(role("coordinator")), t.c.id.not_in(has_lead)),
    )


def _has_term(conn: sa.Connection, t: sa.Table, term_id: str) -> Any:
    """The practice carries the term: one of its themes, its kind, or a source it cites."""
    found = _resolve(conn, term_id, ("theme", "practice_kind", "source"))
    if found is None:
        return sa.false()
    kind, code = found
    if kind == "practice_kind":
        return t.c.kind == code
    if kind == "theme":
        link = table("practice_theme")
        return t.c.id.in_(sa.select(link.c.practice_id).where(link.c.theme_id == code))
    citation = table("citation")
    return t.c.id.in_(
        sa.select(citation.c.entity_id).where(
            citation.c.entity_type == "practice", citation.c.source_id == code
        )
    )


def get_service(request: Request, conn: sa.Connection, id: ServiceId) -> Response:
    """One practice as an HSDS service, with its related data."""
    check_parameters(request, set())
    return _one(request, conn, "practice", id, records.services)


def list_organizations(
    request: Request,
    conn: sa.Connection,
    page: Page = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
    search: Search = None,
) -> Response:
    """A page of organisations as HSDS organizations (list form)."""
    _check_parameters(request, {"page", "per_page", "search"})
    t = table("organisation")
    query = sa.select(t)
    if search is not None:
        query = query.where(_matching(conn, "organisation", t, search))
    return _page(request, conn, query, t, page, per_page, records.organizations)


def get_organization(request: Request, conn: sa.Connection, id: OrganizationId) -> Response:
    """One organisation as an HSDS organization, with its contacts and the services it leads."""
    check_parameters(request, set())
    return _one(request, conn, "organisation", id, records.organizations)


def _json(schema: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
    }


def build_router() -> APIRouter:
    router = APIRouter(prefix="/hsds", dependencies=[Depends(accepted)], tags=["HSDS"])
    routes: list[tuple[str, Any, str, str, str]] = [
        ("/", api_root, "getAPIMetaInformation", "HsdsRoot", "About this API and HSDS"),
        (
            "/services",
            list_services,
            "getPaginatedListOfServices",
            "ServicePage",
            "Paginated listing of services",
        ),
        (
            "/services/{id}",
            get_service,
            "getFullyNestedServiceById",
            "Service",
            "A service with all related data",
        ),
        (
            "/organizations",
            list_organizations,
            "getPaginatedListOfOrganizations",
            "OrganizationPage",
            "Paginated list of basic organization information",
        ),
        (
            "/organizations/{id}",
            get_organization,
            "getOrganizationById",
            "Organization",
            "An organization with its related data",
        ),
    ]
    for path, endpoint, operation_id, schema, summary in routes:
        router.add_api_route(
            path,
            in_one_thread(endpoint)
            if "conn" in inspect.signature(endpoint).parameters
            else endpoint,
            methods=["GET"],
            operation_id=operation_id,
            summary=summary,
            response_class=Response,
            responses=_json(schema, summary),
        )
    return router
