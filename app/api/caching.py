"""Cacheable JSON: strong ETags from the body, conditional requests, Cache-Control.

The body is rendered once, hashed, and either sent or answered with 304. The ETag is the hash of
the exact bytes, so it changes exactly when the representation does.
"""

import gzip
import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import Request
from starlette.responses import Response, StreamingResponse

JSON = "application/json"
NDJSON = "application/x-ndjson"
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


RENDERED = "rendered"  # key in the request's state: the representation `cacheable` answered with


@dataclass
class Rendered:
    """A representation, rendered once: what every answer for its URL (200 in either content
    coding, or 304) is made from, so a cached copy answers exactly as the endpoint would."""

    body: bytes
    etag: str
    last_modified: datetime | None
    max_age: int
    headers: dict[str, str]
    media_type: str
    gzipped: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"")

    def gzip_body(self) -> bytes:
        if self.gzipped is None:
            self.gzipped = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self.gzipped


def render_representation(
    payload: Any,
    *,
    last_modified: datetime | None,
    max_age: int,
    headers: dict[str, str] | None = None,
    media_type: str = JSON,
) -> Rendered:
    body = render(payload)
    return Rendered(body, etag_of(body), last_modified, max_age, headers or {}, media_type)


def respond(request: Request, rendered: Rendered) -> Response:
    """A 200 with ETag, Last-Modified and Cache-Control, or a 304 if the client has it."""
    use_gzip = len(rendered.body) >= GZIP_MINIMUM and _accepts_gzip(request)
    common, etags = _validators(rendered.etag, use_gzip, rendered.max_age, rendered.last_modified)
    common.update(rendered.headers)
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        if _etag_matches(if_none_match, etags):
            return Response(status_code=304, headers=common)
    elif rendered.last_modified is not None:
        since = request.headers.get("if-modified-since")
        if since and _not_modified_since(since, rendered.last_modified):
            return Response(status_code=304, headers=common)
    if use_gzip:
        common["Content-Encoding"] = "gzip"
        return Response(rendered.gzip_body(), media_type=rendered.media_type, headers=common)
    return Response(rendered.body, media_type=rendered.media_type, headers=common)


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

    The representation is left in the request's state, for the response cache to keep."""
    rendered = render_representation(
        payload,
        last_modified=last_modified,
        max_age=max_age,
        headers=headers,
        media_type=media_type,
    )
    setattr(request.state, RENDERED, rendered)
    return respond(request, rendered)


def streamed_ndjson(
    request: Request,
    connection: sa.Connection,
    lines: Iterator[bytes],
    *,
    identity: str,
    last_modified: datetime | None,
    max_age: int,
) -> Response:
    """Stream `lines` (read on `connection`, closed at the end) with caching headers.

    The body is not known before it is sent, so the ETag comes from `identity`: a digest of
    everything the body is a function of (data set state, options, code version).
    """
    use_gzip = _accepts_gzip(request)
    headers, etags = _validators(f'"{identity}"', use_gzip, max_age, last_modified)
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and _etag_matches(if_none_match, etags):
        connection.close()
        return Response(status_code=304, headers=headers)

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
        headers["Content-Encoding"] = "gzip"
    return StreamingResponse(body(), media_type=NDJSON, headers=headers)
