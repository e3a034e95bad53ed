"""An in-process cache of rendered responses, keyed by URL and by the data set's state.

The API's data changes only when a loader (or `scn mirror`), in another process, commits; every
such commit changes the `dataset_state` row (its last change number, load time, history start).
So a rendered representation stays right for as long as that row is unchanged. Each request reads
the row (one primary-key read), and a cached representation made under the same row answers it:
through `caching.respond`, the same function that answers on the uncached path, so bodies, ETags,
304s and gzip are the same bytes. On a miss the endpoint runs as usual and its representation is
kept only if the row was the same before and after it ran (no load committed in between).
Requests for a URL that is being rendered wait for that rendering rather than repeat it; if it
failed on the server's side (a 5xx: the 5 s timeout, a database outage), one of them tries
again while the others keep waiting, so a burst never runs one slow query side by side.

A representation is kept per URL and per value of the request headers that choose it (Host,
Accept, Accept-Language). Each worker process has its own cache, and every worker keys by the same
database row, so they agree; ETags are hashes of the bytes, equal on every worker and every
replica. The cache is an LRU bounded in bytes (RESPONSE_CACHE_MB; 0 turns it off). Error
responses are never cached, nor are the exports and CSV lists (streamed, with their own ETags).
"""

import asyncio
from collections import OrderedDict
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.caching import RENDERED, Rendered, respond
from app.api.loop_reads import UNREADABLE, LoopReads, Statement
from app.api.problems import ProblemError
from app.models import table

_STATE = table("dataset_state")
STATE_QUERY = sa.select(
    _STATE.c.dataset_version,
    _STATE.c.content_digest,
    _STATE.c.loaded_at,
    _STATE.c.last_seq,
    _STATE.c.history_start,
).where(_STATE.c.id == 1)
Key = tuple[Any, ...]
UNCACHED_PATHS = {"/v1/export", "/v2/export"}
SELECTING_HEADERS = (b"host", b"accept", b"accept-language")
"""Request headers that choose a representation: part of the key. Host (with the scheme): the
catalogue and the HSDS profile write absolute URLs; Accept: CSV or JSON; Accept-Language: v2's
language. Accept-Encoding is not: `respond` makes either coding from one rendering."""


class _Rendering:
    """A URL being rendered: set when its answer is sent (and kept, if it could be)."""

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.failed_on_server = False


class ResponseCache:
    """ASGI middleware in front of the router: answers repeated GETs from memory."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, accepts: Any) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.accepts = accepts  # the router's Accept check (raises ProblemError for 406)
        # (path, query, selecting headers) -> (data version, representation, bytes counted)
        self.entries: OrderedDict[Key, tuple[tuple[Any, ...], Rendered, int]] = OrderedDict()
        self.size = 0
        self._state: Statement | None = None  # STATE_QUERY, compiled on first use
        self.rendering: dict[Key, _Rendering] = {}  # URLs being rendered now
        self.hits = 0
        self.misses = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.max_bytes <= 0
            or scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["path"] in UNCACHED_PATHS
        ):
            await self.app(scope, receive, send)
            return
        try:
            version = await self._data_version(scope["app"])
        except UNREADABLE:
            await self.app(scope, receive, send)  # the endpoint answers the outage as usual
            return
        headers = dict(scope["headers"])
        key = (
            scope.get("scheme", "http"),
            scope["path"],
            scope.get("query_string", b""),
            *(headers.get(name, b"") for name in SELECTING_HEADERS),
        )
        if await self._answer_from_cache(key, version, scope, receive, send):
            return
        # One request per URL renders it; the others wait for its result instead of all doing
        # the same work at once (a burst of one slow search could time out every one of them).
        while (running := self.rendering.get(key)) is not None:
            await running.done.wait()
            if await self._answer_from_cache(key, version, scope, receive, send):
                return
            if not running.failed_on_server:
                # Answered but not kept (a 4xx, a load committed meanwhile): each answers alone.
                await self._render(key, version, scope, receive, send)
                return
            # Else the first waiter to wake renders it again and the others wait for that one:
            # sixteen tries at once of a query that timed out would time out together.
        turn = self.rendering[key] = _Rendering()
        try:
            turn.failed_on_server = await self._render(key, version, scope, receive, send) >= 500
        finally:
            del self.rendering[key]
            turn.done.set()

    async def _render(
        self,
        key: Key,
        version: tuple[Any, ...],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> int:
        """The endpoint answers; its representation is kept if no load committed meanwhile.
        Returns the answer's status."""
        self.misses += 1
        status = 500  # if the endpoint sends nothing (an exception past every handler)

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, send_noting_status)
        rendered: Rendered | None = scope.get("state", {}).get(RENDERED)
        if rendered is None or rendered.size > self.max_bytes // 4:
            return status
        try:
            still = await self._data_version(scope["app"])
        except UNREADABLE:
            return status
        if still == version:
            self._keep(key, version, rendered)
        return status

    async def _answer_from_cache(
        self,
        key: Key,
        version: tuple[Any, ...],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> bool:
        entry = self.entries.get(key)
        if entry is None or entry[0] != version:
            return False
        request = Request(scope, receive)
        try:
            self.accepts(request)
        except ProblemError:
            return False  # the router answers 406 as usual
        self.entries.move_to_end(key)
        self.hits += 1
        await respond(request, entry[1])(scope, receive, send)
        return True

    def _keep(self, key: Key, version: tuple[Any, ...], rendered: Rendered) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self.size -= old[2]
        # Counted with room for the gzip copy made on first use (a fraction of the body).
        counted = rendered.size + len(rendered.body) // 4
        self.entries[key] = (version, rendered, counted)
        self.size += counted
        while self.size > self.max_bytes and self.entries:
            _, (_, _, evicted) = self.entries.popitem(last=False)
            self.size -= evicted

    def clear(self) -> None:
        self.entries.clear()
        self.size = 0

    async def _data_version(self, app: Any) -> tuple[Any, ...]:
        reads: LoopReads = app.state.loop_reads
        if self._state is None:
            self._state = Statement(STATE_QUERY, reads.dialect)
        row = await reads.fetchone(self._state)
        return () if row is None else row
