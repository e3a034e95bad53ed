"""Cacheable JSON: strong ETags from the body, conditional requests, Cache-Control.

The body is rendered once, hashed, and either sent or answered with 304. The ETag is the hash of
the exact bytes, so it changes exactly when the representation does.
"""

import hashlib
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

JSON = "application/json"


def render(payload: Any) -> bytes:
    return orjson.dumps(payload)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [c.strip() for c in header.split(",")]
    return "*" in candidates or any(c.removeprefix("W/") == etag for c in candidates)


def _not_modified_since(header: str, last_modified: datetime) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        return False
    return last_modified.replace(microsecond=0) <= since


def cacheable(
    request: Request,
    payload: Any,
    *,
    last_modified: datetime | None,
    max_age: int,
    headers: dict[str, str] | None = None,
    media_type: str = JSON,
) -> Response:
    """A 200 with ETag, Last-Modified and Cache-Control, or a 304 if the client has it."""
    body = render(payload)
    etag = etag_of(body)
    common = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={max_age}",
        "Vary": "Accept, Accept-Encoding",
        **(headers or {}),
    }
    if last_modified is not None:
        common["Last-Modified"] = format_datetime(last_modified, usegmt=True)
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        if _etag_matches(if_none_match, etag):
            return Response(status_code=304, headers=common)
    elif last_modified is not None:
        since = request.headers.get("if-modified-since")
        if since and _not_modified_since(since, last_modified):
            return Response(status_code=304, headers=common)
    return Response(body, media_type=media_type, headers=common)
