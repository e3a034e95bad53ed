"""Cacheable JSON: strong ETags from the body, conditional requests, Cache-Control.

The body is rendered once, hashed, and either sent or answered with 304. The ETag is the hash of
the exact bytes, so it changes exactly when the representation does.
"""

import gzip
import hashlib
import zlib
from collections.abc import Iterator
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import Request
from starlette.responses import Response, StreamingResponse

JSON = "application/json"
NDJSON = "application/x-ndjson"
SVG = "image/svg+xml"
GZIP_MINIMUM = 1024  # bytes: below this, compressing costs more than it saves


def render(payload: Any) -> bytes:
    return orjson.dumps(payload)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _etag_matches(header: str, etags: set[str]) -> bool:
    candidates = [c.strip() for c in header.split(",")]
    return "*" in candidates or any(c.removeprefix("W/") in etags for c in candidates)


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _not_modified_since(header: str, last_modified: datetime) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    if since.tzinfo is None:
        return False
    return last_modified.replace(microsecond=0) <= since


def _validators(
    identity_etag: str, use_gzip: bool, max_age: int, last_modified: datetime | None
) -> tuple[dict[str, str], set[str]]:
    """The caching headers of a response, and the ETags a client may hold for its URL.

    Each content coding is its own representation, so it gets its own strong ETag; a client
    holding either variant's ETag is answered 304 with the variant it would now receive."""
    gzipped_etag = identity_etag[:-1] + '-gzip"'
    headers = {
        "ETag": gzipped_etag if use_gzip else identity_etag,
        "Cache-Control": f"public, max-age={max_age}",
        "Vary": "Accept, Accept-Encoding",
    }
    if last_modified is not None:
        headers["Last-Modified"] = format_datetime(last_modified, usegmt=True)
    return headers, {identity_etag, gzipped_etag}


def cacheable(
    request: Request,
    payload: Any,
    *,
    last_modified: datetime | None,
    max_age: int,
    headers: dict[str, str] | None = None,
    media_type: str = JSON,
) -> Response:
    """A 200 with ETag, Last-Modified and Cache-Control, or a 304 if the client has it.
    `payload` is rendered as JSON, unless it is the body's bytes already (SVG)."""
    body = payload if isinstance(payload, bytes) else render(payload)
    use_gzip = len(body) >= GZIP_MINIMUM and _accepts_gzip(request)
    common, etags = _validators(etag_of(body), use_gzip, max_age, last_modified)
    common.update(headers or {})
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        if _etag_matches(if_none_match, etags):
            return Response(status_code=304, headers=common)
    elif last_modified is not None:
        since = request.headers.get("if-modified-since")
        if since and _not_modified_since(since, last_modified):
            return Response(status_code=304, headers=common)
    if use_gzip:
        body = gzip.compress(body, compresslevel=6, mtime=0)
        common["Content-Encoding"] = "gzip"
    return Response(body, media_type=media_type, headers=common)


def streamed(
    request: Request,
    connection: sa.Connection,
    lines: Iterator[bytes],
    *,
    identity: str,
    last_modified: datetime | None,
    max_age: int,
    media_type: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """Stream `lines` (read on `connection`, closed at the end) with caching headers.

    The body is not known before it is sent, so the ETag comes from `identity`: a digest of
    everything the body is a function of (data set state, options, code version).
    """
    use_gzip = _accepts_gzip(request)
    common, etags = _validators(f'"{identity}"', use_gzip, max_age, last_modified)
    common.update(headers or {})
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and _etag_matches(if_none_match, etags):
        connection.close()
        return Response(status_code=304, headers=common)

    def body() -> Iterator[bytes]:
        try:
            if not use_gzip:
                yield from lines
                return
            compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: gzip framing
            for line in lines:
                chunk = compressor.compress(line)
                if chunk:
                    yield chunk
            yield compressor.flush()
        finally:
            connection.close()

    if use_gzip:
        common["Content-Encoding"] = "gzip"
    return StreamingResponse(body(), media_type=media_type, headers=common)
