"""Cacheable JSON: strong ETags from the body, conditional requests, Cache-Control.

The body is rendered once, hashed, and either sent or answered with 304. The ETag is the hash of
the exact bytes, so it changes exactly when the representation does.
"""

import contextlib
import functools
import gzip
import hashlib
import os
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import Request
from starlette.responses import Response, StreamingResponse

from app.db import close_read

JSON = "application/json"
NDJSON = "application/x-ndjson"
SVG = "image/svg+xml"
HEAD_REQUEST = "scn.head"
"""Set in the scope of a HEAD request, which the application answers as a GET (main.HttpPolicy
drops the body): a streamed body is then not made at all."""
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


@functools.lru_cache(maxsize=64)
def _http_date(moment: datetime) -> str:
    # One value per data set state, asked for by every response: formatted once.
    return format_datetime(moment, usegmt=True)


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
        headers["Last-Modified"] = _http_date(last_modified)
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
    body = payload if isinstance(payload, bytes) else render(payload)
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
    `payload` is rendered as JSON, unless it is the body's bytes already (SVG).

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


STREAM_CHUNK = 64 * 1024  # bytes: lines are sent in pieces of about this size


def _chunks(lines: Iterator[bytes]) -> Iterator[bytes]:
    """The lines joined into pieces of about STREAM_CHUNK bytes: each piece the server sends
    costs a hop from the worker thread to the event loop, too much to pay once per line."""
    pending: list[bytes] = []
    size = 0
    for line in lines:
        pending.append(line)
        size += len(line)
        if size >= STREAM_CHUNK:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


EXPORT_FILES_KEPT = 8  # rendered exports kept in the cache folder (newest first)
GZIP_SUFFIX = ".gz"  # a kept export's gzip form: the same name with this suffix


def _export_file(request: Request, identity: str, last_modified: datetime | None) -> Path | None:
    """Where the rendered body of this export is kept (EXPORT_CACHE_DIR), or None (no cache).

    Named by everything the body is a function of: `identity` (data set state, options, code),
    the database, and its load time (the records' timestamps), so no two bodies share a name."""
    folder = request.app.state.settings.export_cache_dir
    if not folder:
        return None
    key = hashlib.sha256(
        f"{identity}\n{request.app.state.settings.database_url}\n{last_modified}".encode()
    ).hexdigest()[:32]
    return Path(folder) / f"export-{key}.ndjson"


def _file_pieces(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while piece := file.read(STREAM_CHUNK):
            yield piece


def _kept(pieces: Iterator[bytes], path: Path) -> Iterator[bytes]:
    """Pass `pieces` on, writing them to `path`; the file appears (atomically) only once the
    whole body was sent, so a reader never streams half an export. Any disk error: no copy."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below)
            dir=path.parent, prefix=".partial-", delete=False
        )
    except OSError:
        yield from pieces
        return
    complete = False
    try:
        for piece in pieces:
            with contextlib.suppress(OSError):
                partial.write(piece)
            yield piece
        partial.close()
        os.replace(partial.name, path)
        complete = True
        _forget_old_exports(path.parent)
    except OSError:
        pass
    finally:
        if not complete:
            partial.close()
            with contextlib.suppress(OSError):
                os.unlink(partial.name)


def _forget_old_exports(folder: Path) -> None:
    """Keep the newest EXPORT_FILES_KEPT bodies, each with its gzip form where it has one."""
    files = sorted(folder.glob("export-*.ndjson"), key=lambda f: f.stat().st_mtime, reverse=True)
    for old in files[EXPORT_FILES_KEPT:]:
        with contextlib.suppress(OSError):
            old.unlink()
    for compressed in folder.glob(f"export-*.ndjson{GZIP_SUFFIX}"):
        if not compressed.with_name(compressed.name.removesuffix(GZIP_SUFFIX)).exists():
            with contextlib.suppress(OSError):
                compressed.unlink()


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
        close_read(connection)
        return Response(status_code=304, headers=common)
    if use_gzip:
        common["Content-Encoding"] = "gzip"
    if request.scope.get(HEAD_REQUEST):
        # The headers do not depend on the body: a HEAD is answered without reading it (the
        # server would make the whole body, a whole export, only for it to be dropped).
        close_read(connection)
        return StreamingResponse(iter(()), media_type=media_type, headers=common)

    # A rendered copy of this very body, if one was kept, is sent as it is (exports are long to
    # render and the data changes only on a load); else the body is rendered, and kept. Its
    # gzip form is kept too, once a client asked for it: every mirror does, and compressing a
    # million-record export (1.1 GB) cost the server 9 CPU-seconds for each one.
    kept = _export_file(request, identity, last_modified) if media_type == NDJSON else None
    kept_gzip = kept.with_name(kept.name + GZIP_SUFFIX) if kept is not None else None
    if use_gzip and kept_gzip is not None and kept_gzip.is_file():
        close_read(connection)
        return StreamingResponse(_file_pieces(kept_gzip), media_type=media_type, headers=common)
    pieces: Iterator[bytes]
    if kept is not None and kept.is_file():
        close_read(connection)
        pieces = _file_pieces(kept)
    else:
        pieces = _chunks(lines)
        if kept is not None:
            pieces = _kept(pieces, kept)

    def body() -> Iterator[bytes]:
        try:
            if not use_gzip:
                yield from pieces
                return
            compressed = _gzipped(pieces)
            yield from compressed if kept_gzip is None else _kept(compressed, kept_gzip)
        finally:
            close_read(connection)

    return StreamingResponse(body(), media_type=media_type, headers=common)


def _gzipped(pieces: Iterable[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: gzip framing
    for piece in pieces:
        chunk = compressor.compress(piece)
        if chunk:
            yield chunk
    yield compressor.flush()
