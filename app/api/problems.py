"""RFC 9457 problem details: the one shape of every error this API returns."""

import logging
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

logger = logging.getLogger("app.api")

PROBLEM_JSON = "application/problem+json"
ALLOWED_METHODS = "GET, HEAD, OPTIONS"


class ProblemError(Exception):
    """Raise anywhere in a request to answer with a problem."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    request: Request | None,
    status: int,
    detail: str | None,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if request is not None:
        body["instance"] = request.url.path
    body.update(extra)
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


BUSY_RETRY_AFTER_S = 1


def server_busy(request: Request | None) -> Response:
    """Every database connection of this worker's pool is in use, and none came free within
    DB_POOL_TIMEOUT: the client should come back shortly (or be sent to another server)."""
    return problem_response(
        request,
        503,
        "Every database connection of this server is busy; try again shortly.",
        headers={"Retry-After": str(BUSY_RETRY_AFTER_S)},
    )


async def on_pool_timeout(request: Request, exc: Exception) -> Response:
    return server_busy(request)


async def on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(request, exc.status, exc.detail, headers=exc.headers, **exc.extra)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    detail = exc.detail if exc.detail != HTTPStatus(exc.status_code).phrase else None
    if exc.status_code == 405:
        headers["Allow"] = ALLOWED_METHODS
        detail = f"{request.method} is not allowed: this API is read-only ({ALLOWED_METHODS})."
    elif exc.status_code == 404 and detail is None:
        detail = f"Nothing is published at {request.url.path}."
    return problem_response(request, exc.status_code, detail, headers=headers)


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        location = [str(p) for p in error["loc"]]
        where = location[0] if location else "request"
        name = ".".join(location[1:2]) or where
        errors.append({"parameter": name, "in": where, "message": error["msg"]})
    names = ", ".join(sorted({e["parameter"] for e in errors}))
    return problem_response(
        request, 400, f"Invalid parameter: {names}. See `errors`.", errors=errors
    )


async def on_unexpected_error(request: Request, exc: Exception) -> Response:
    # The traceback goes to the server's log, never to the client.
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, 500, "The server failed to answer; the error is logged.")
