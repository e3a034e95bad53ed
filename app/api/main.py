"""The FastAPI application: versions, probes, docs, and the HTTP rules every response follows."""

import dataclasses
import itertools
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import fastapi_offline
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import heap
from app.api import catalog, problems
from app.api.caching import HEAD_REQUEST, cacheable
from app.api.hsds import routes as hsds
from app.api.hsds.openapi import hsds_openapi
from app.api.loop_reads import LoopReads
from app.api.openapi import CONTRACTS
from app.api.records import V1
from app.api.response_cache import ResponseCache
from app.api.routes import check_accept
from app.api.stored import StoredDocuments
from app.api.v1.routes import build_v1_router
from app.api.v2.routes import build_v2_router
from app.api.versions import MIGRATION_GUIDE_PATH, V1_RETIREMENT, VERSIONS
from app.db import PoolLimits, create_engine, is_timeout, replica_status
from app.logs import log_request
from app.migrate import head_revision
from app.settings import PROJECT_ROOT, Settings, get_settings

DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
JSON_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'"
)
DOCS_PAGES = ("/docs", "/redoc", "/v2/docs", "/v2/redoc", "/hsds/docs")
MAX_URL_LENGTH = 4096
REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")


class HttpPolicy:
    """Read-only HTTP: HEAD is GET without a body, OPTIONS lists the methods, overlong URLs are
    refused, every response carries the security headers and a request id, and every request
    is logged once. Other methods reach the router, which answers 405."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        method = scope["method"]
        headers = {k.lower(): v for k, v in scope["headers"]}
        request_id = _request_id(headers.get(b"x-request-id"))
        is_preflight = (
            method == "OPTIONS"
            and b"origin" in headers
            and b"access-control-request-method" in headers
        )
        docs_page = scope["path"] in DOCS_PAGES
        retiring = scope["path"] == V1 or scope["path"].startswith(V1 + "/")
        status: int | None = None  # set when the response starts

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    (b"cross-origin-resource-policy", b"cross-origin"),
                    (b"content-security-policy", (DOCS_CSP if docs_page else JSON_CSP).encode()),
                    (b"x-request-id", request_id.encode()),
                ]
                if retiring:
                    extra += [(k.lower().encode(), v.encode()) for k, v in V1_RETIREMENT.items()]
                message["headers"] = _one_vary([*message.get("headers", []), *extra])
            elif message["type"] == "http.response.body" and method == "HEAD":
                message = {**message, "body": b""}
            await send(message)

        try:
            target_length = len(scope.get("raw_path") or b"") + len(scope.get("query_string", b""))
            requested = headers.get(b"access-control-request-method", b"").decode("latin-1")
            if target_length > MAX_URL_LENGTH:
                response = problems.problem_response(
                    None, 414, f"The URL is longer than {MAX_URL_LENGTH} bytes."
                )
                await response(scope, receive, send_with_headers)
            elif method == "OPTIONS" and not is_preflight:
                response = Response(status_code=204, headers={"Allow": problems.ALLOWED_METHODS})
                await response(scope, receive, send_with_headers)
            elif is_preflight and requested not in ("GET", "HEAD", "OPTIONS"):
                response = problems.problem_response(
                    None,
                    400,
                    f"Cross-origin {requested[:20]!r} is not allowed: this API is read-only "
                    f"({problems.ALLOWED_METHODS}).",
                    headers={"Allow": problems.ALLOWED_METHODS},
                )
                await response(scope, receive, send_with_headers)
            else:
                inner = (
                    {**scope, "method": "GET", HEAD_REQUEST: True} if method == "HEAD" else scope
                )
                await self.app(inner, receive, send_with_headers)
        except Exception as exc:
            # Unexpected: logged with its traceback, answered with a bare 500 problem. Handled
            # here, inside this middleware, so even a 500 has the security headers and an id.
            problems.logger.error(
                "unhandled error on %s %s (request %s)",
                method,
                scope["path"],
                request_id,
                exc_info=exc,
            )
            if status is not None:
                raise
            response = problems.problem_response(
                None, 500, "The server failed to answer; the error is logged."
            )
            await response(scope, receive, send_with_headers)
        finally:
            log_request(
                {
                    "request_id": request_id,
                    "method": method,
                    "path": scope["path"][:MAX_URL_LENGTH],
                    "status": status or 500,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                }
            )


def _one_vary(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """One Vary header, each name once: the layers (routes, gzip, CORS) each add theirs, and a
    shared cache such as nginx keeps variants apart only if every variant of a URL carries the
    same Vary (an identity answer had Accept-Encoding twice, a gzipped one once)."""
    names: dict[bytes, bytes] = {}
    others = []
    for key, value in headers:
        if key.lower() == b"vary":
            for name in value.split(b","):
                if name.strip():
                    names.setdefault(name.strip().lower(), name.strip())
        else:
            others.append((key, value))
    if not names:
        return headers
    return [*others, (b"vary", b", ".join(names.values()))]


_ID_PREFIX = uuid.uuid4().hex[:16]  # this process's; a counter numbers its requests
_request_numbers = itertools.count(1)


def _request_id(given: bytes | None) -> str:
    """The client's X-Request-ID if it is a plain token (it is echoed in a header), else new:
    unique without a system call per request (uuid4 reads the OS's random source)."""
    if given and REQUEST_ID.fullmatch(given):
        return given.decode()
    return f"{_ID_PREFIX}{next(_request_numbers):016x}"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    expected_revision = head_revision()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        heap.settle()  # the app is set up: what it holds lives as long as the process
        yield
        await app.state.loop_reads.close()
        app.state.engine.dispose()

    app = FastAPI(
        title="Strong Cities Open Data API",
        lifespan=lifespan,
        # The API exports no OpenTelemetry data; left on, FastAPI asks the global providers
        # whether to trace, on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # A trailing slash is not redirected (the redirect would name the client's Host): 404.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.engine = create_engine(
        settings.database_url,
        read_only=True,
        statement_timeout=settings.request_timeout,
        pool=_pool_limits(settings),
        sqlite_mmap_mb=settings.sqlite_mmap_mb,
    )
    app.state.loop_reads = LoopReads(
        app.state.engine,
        request_timeout=settings.request_timeout,
        sqlite_mmap_mb=settings.sqlite_mmap_mb,
        pool=_pool_limits(settings),
    )

    app.add_exception_handler(problems.ProblemError, problems.on_problem)
    app.add_exception_handler(StarletteHTTPException, problems.on_http_exception)
    app.add_exception_handler(RequestValidationError, problems.on_validation_error)
    app.add_exception_handler(sa.exc.OperationalError, _database_unavailable)
    app.add_exception_handler(sa.exc.InterfaceError, _database_unavailable)
    app.add_exception_handler(sa.exc.DatabaseError, _database_error)
    app.add_exception_handler(sa.exc.DataError, _value_refused)
    app.add_exception_handler(sa.exc.TimeoutError, problems.on_pool_timeout)

    app.include_router(build_v1_router())
    app.include_router(build_v2_router())
    app.include_router(hsds.build_router())
    app.include_router(catalog.router)
    app.mount("/static/docs", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    @app.get("/", include_in_schema=False)
    def root(request: Request) -> Response:
        return cacheable(
            request,
            {
                "name": "Strong Cities Open Data API",
                "versions": VERSIONS,
                "links": {
                    "health": "/healthz",
                    "ready": "/readyz",
                    "docs": "/v2/docs",
                    "migration_guide": MIGRATION_GUIDE_PATH,
                    "hsds": "/hsds/",
                    "catalog": "/catalog",
                },
            },
            last_modified=None,
            max_age=settings.cache_max_age,
        )

    for version, contract in CONTRACTS.items():
        _serve_contract_and_docs(app, version, contract, settings)

    @app.get(MIGRATION_GUIDE_PATH, include_in_schema=False)
    def migration_guide(request: Request) -> Response:
        text = (PROJECT_ROOT / "docs" / "MIGRATING-v1-v2.md").read_bytes()
        return Response(text, media_type="text/markdown; charset=utf-8")

    @app.get("/hsds/openapi.json", include_in_schema=False)
    def openapi_hsds(request: Request) -> Response:
        return cacheable(
            request, hsds_openapi(), last_modified=None, max_age=settings.cache_max_age
        )

    @app.get("/hsds/docs", include_in_schema=False)
    def hsds_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/hsds/openapi.json",
            title="Strong Cities Open Data API: HSDS 3.0 profile",
            swagger_js_url="/static/docs/swagger-ui-bundle.js",
            swagger_css_url="/static/docs/swagger-ui.css",
            swagger_favicon_url="/static/docs/favicon.png",
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        engine: sa.Engine = app.state.engine
        try:
            with engine.connect() as connection:
                current = connection.execute(
                    sa.text("SELECT version_num FROM alembic_version")
                ).scalar()
                if current != expected_revision:
                    return _not_ready(
                        f"The database is at schema revision {current or 'none'}; this server "
                        f"needs {expected_revision}. Run `scn db upgrade`."
                    )
                loaded = connection.execute(sa.text("SELECT last_seq FROM dataset_state")).scalar()
                replica = replica_status(connection)
        except sa.exc.DBAPIError as exc:
            problems.logger.warning("not ready: %s", str(exc.orig).strip())
            return _not_ready("The database does not answer, or holds no schema.")
        if loaded is None:
            return _not_ready("No data set is loaded. Run `scn load`.")
        state: dict[str, Any] = {
            "schema_revision": current,
            "last_seq": loaded,
            "role": "primary" if replica is None else "replica",
        }
        if replica is not None:
            state["replica"] = dataclasses.asdict(replica)
            limit = settings.max_replica_lag
            if limit is not None and (replica.lag_seconds is None or replica.lag_seconds > limit):
                behind = (
                    "an unknown time"
                    if replica.lag_seconds is None
                    else f"{replica.lag_seconds:g} s"
                )
                return _not_ready(
                    f"This replica is {behind} behind its primary; MAX_REPLICA_LAG is {limit:g} s.",
                    **state,
                )
        return JSONResponse({"status": "ready", **state})

    # Outermost last: HttpPolicy sees every request first, CORS answers preflights; the response
    # cache sits right in front of the router, so hits get the same headers from the layers above,
    # and behind it the stored records answer plain record requests before the router.
    app.add_middleware(StoredDocuments)
    app.add_middleware(
        ResponseCache, max_bytes=settings.response_cache_mb * 1024 * 1024, accepts=check_accept
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "HEAD", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=[
            "ETag",
            "Link",
            "Last-Modified",
            "Retry-After",
            "Content-Language",
            "Deprecation",
            "Sunset",
        ],
        max_age=86400,
    )
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(HttpPolicy)
    return app


def _serve_contract_and_docs(
    app: FastAPI, version: str, contract: Callable[[], dict[str, Any]], settings: Settings
) -> None:
    """/vN/openapi.json, and its Swagger UI and ReDoc pages (v1's at /docs and /redoc, where
    they were first published), with assets served locally."""
    openapi_url = f"/{version}/openapi.json"
    prefix = "" if version == "v1" else f"/{version}"
    title = f"Strong Cities Open Data API {version}"

    def openapi(request: Request) -> Response:
        return cacheable(request, contract(), last_modified=None, max_age=settings.cache_max_age)

    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url="/static/docs/swagger-ui-bundle.js",
            swagger_css_url="/static/docs/swagger-ui.css",
            swagger_favicon_url="/static/docs/favicon.png",
        )

    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=title,
            redoc_js_url="/static/docs/redoc.standalone.js",
            redoc_favicon_url="/static/docs/favicon.png",
            with_google_fonts=False,
        )

    app.add_api_route(openapi_url, openapi, methods=["GET"], include_in_schema=False)
    app.add_api_route(f"{prefix}/docs", swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route(f"{prefix}/redoc", redoc, methods=["GET"], include_in_schema=False)


def _not_ready(detail: str, **state: Any) -> Response:
    return problems.problem_response(None, 503, detail, headers={"Retry-After": "5"}, **state)


def _pool_limits(settings: Settings) -> PoolLimits:
    return PoolLimits(settings.db_pool_size, settings.db_max_overflow, settings.db_pool_timeout)


async def _database_unavailable(request: Request, exc: Any) -> Response:
    if is_timeout(exc):
        timeout = request.app.state.settings.request_timeout
        detail = f"The request needed more than {timeout:g} s of database work and was stopped."
    else:
        detail = "The database is unavailable; try again shortly."
    return problems.problem_response(request, 503, detail, headers={"Retry-After": "5"})


async def _value_refused(request: Request, exc: Any) -> Response:
    # Safety net: the database refused a value from the request (out of range, bad bytes).
    return problems.problem_response(
        request, 400, "A parameter holds a value the database cannot compare."
    )


async def _database_error(request: Request, exc: Any) -> Response:
    """A database that cannot be read (a damaged or foreign file) is unavailable, like one that
    is down; an error in this code's SQL (ProgrammingError, IntegrityError) stays a 500."""
    if type(exc) is sa.exc.DatabaseError or isinstance(exc, sa.exc.InternalError):
        return await _database_unavailable(request, exc)
    return await problems.on_unexpected_error(request, exc)
