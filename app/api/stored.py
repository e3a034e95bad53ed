"""Records, list pages and change-feed pages answered from their stored documents, one
statement each.

The record endpoints (`/v1/{collection}/{id}`, `/v2/{collection}/{id}`), the list pages
(`/v1/{collection}?country=dk&cursor=...`) and the change feed are the API's most asked URLs,
and their bodies are stored documents (app/representation.py). This layer, in front of the
router, answers their plain forms without FastAPI or SQLAlchemy's statement building:
- a record with no query, or v2's `lang` alone (no `expand`);
- a list page whose parameters are `limit`, `cursor`, v2's `lang` and filters by an id or a
  vocabulary value, each given once (no `q`, `format`, `expand`, `updated_since`, CSV);
- a page of the change feed (`since`, `limit`, v2's `lang`).
One statement, compiled once per shape of request (app.api.loop_reads), reads the documents and
the data set's state, and `caching.respond` answers exactly as the endpoint would, 304s and
gzip included. A record is read on the event loop; a page, which touches many pages of the
database, in a worker thread on a pooled connection. Everything else goes on to the router,
which also answers what this layer does not: a 404, a 400 for a bad cursor or limit, a 406, a
database that cannot be read, a read that takes long, a record without a stored document, an
empty page.

The endpoint stays the reference: tests/test_stored.py asks every URL both ways and compares
status, headers and bytes.
"""

import re
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app import i18n, sync
from app.api import pagination
from app.api.caching import JSON, RENDERED, render_representation, respond
from app.api.collections import COLLECTION_LIST, Collection, Filter
from app.api.csv_lists import CSV
from app.api.evidence import evidence_item
from app.api.loop_reads import UNREADABLE, LoopReads, Statement
from app.api.problems import ProblemError
from app.api.records import COLLECTIONS, V1, V2, published
from app.api.routes import (
    CHANGES_DEFAULT_LIMIT,
    CHANGES_MAX_LIMIT,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    page_links,
    preferred,
)
from app.api.v1.routes import V1_API
from app.api.v2.routes import V2_API
from app.codec import unpack
from app.models import table
from app.representation import COLUMN, LANGUAGES, TABLE, joined, shown

ENTITY_OF = {collection: entity for entity, collection in COLLECTIONS.items()}
VERSIONS = {V1: V1_API, V2: V2_API}
LANG_ONLY = re.compile(rb"lang=([a-z]{2}|\*)")
LANG = re.compile(r"[a-z]{2}|\*")
LIMIT = re.compile(r"[1-9][0-9]{0,3}")
SINCE = re.compile(r"0|[1-9][0-9]{0,17}")  # below 2**63, the largest change number
LISTS = {c.path: c for c in COLLECTION_LIST}


def _plain_filters(collection: Collection) -> dict[str, Filter]:
    """The filters a page of `collection` can be read with by this layer: those by an id or a
    vocabulary value, whose condition takes one bound value."""
    return {
        f.name: f
        for f in collection.filters
        if f.type is str or (isinstance(f.type, type) and issubclass(f.type, Enum))
    }


PLAIN_FILTERS = {c.path: _plain_filters(c) for c in COLLECTION_LIST}


def document_query(entity: str, api: str, *, personal_contacts: bool) -> sa.Select[Any]:
    """The stored document of one published record of `entity` (parameter `id`), its
    languages, and the data set's load time: one row, or none."""
    t, r, state = table(entity), table(TABLE), table("dataset_state")
    return published(
        sa.select(r.c[COLUMN[api]], r.c[LANGUAGES], state.c.loaded_at)
        .select_from(t)
        .join(r, sa.and_(r.c.entity_type == entity, r.c.entity_id == t.c.id))
        .join(state, state.c.id == 1)
        .where(t.c.id == sa.bindparam("id")),
        entity,
        t,
        personal_contacts=personal_contacts,
    )


class StoredDocuments:
    """ASGI middleware in front of the router: plain record, list and change-feed requests from
    stored documents."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.enabled = True  # tests turn it off to ask the endpoint itself
        self.statements: dict[tuple[Any, ...], Statement] = {}
        """Compiled once per shape of request (version, entity, filters, cursor or not)."""
        self.answered = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (self.enabled and scope["type"] == "http" and scope["method"] == "GET"):
            await self.app(scope, receive, send)
            return
        parts = scope["path"].split("/")
        if len(parts) == 3 and parts[2] == "changes":
            answered = await self._answer_changes(scope, receive, send, parts)
        elif len(parts) == 3:
            answered = await self._answer_list(scope, receive, send, parts)
        else:
            target = self._target(scope)
            answered = target is not None and await self._answer(scope, receive, send, *target)
        if not answered:
            await self.app(scope, receive, send)

    def _target(self, scope: Scope) -> tuple[str, str, str, list[str] | None] | None:
        """(api, entity, id, languages) of a plain record request, else None."""
        parts = scope["path"].split("/")
        if len(parts) != 4 or parts[0] or not parts[3] or "\x00" in parts[3]:
            return None
        api, entity = "/" + parts[1], ENTITY_OF.get(parts[2])
        if entity is None or api not in (V1, V2):
            return None
        query: bytes = scope.get("query_string", b"")
        if api == V1:
            return (api, entity, parts[3], None) if not query else None
        lang = LANG_ONLY.fullmatch(query) if query else None
        if query and lang is None:
            return None
        # The first Accept-Language header, as the endpoint reads it.
        header = next((v for k, v in scope["headers"] if k == b"accept-language"), None)
        languages = i18n.reader_languages(
            lang.group(1).decode() if lang else None,
            header.decode("latin-1") if header is not None else None,
        )
        return api, entity, parts[3], languages

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        api: str,
        entity: str,
        record_id: str,
        languages: list[str] | None,
    ) -> bool:
        """Answer from the stored document; False (nothing sent) when the router should."""
        request = Request(scope, receive)
        if preferred(request, (JSON,)) is None:
            return False
        app = scope["app"]
        settings = app.state.settings
        reads: LoopReads = app.state.loop_reads
        statement = self._statement(
            (api, entity),
            reads,
            lambda: document_query(
                entity, api, personal_contacts=settings.publish_personal_contacts
            ),
        )
        try:
            row = await reads.fetchone(statement, id=record_id)
        except UNREADABLE:
            return False
        if row is None or row[0] is None:
            return False
        document = shown(entity, record_id, unpack(row[0]), row[1], api, languages)
        return await self._send(
            request,
            send,
            document.body,
            last_modified=row[2],
            headers=VERSIONS[api].headers(None, document.languages),
        )

    def _statement(
        self, shape: tuple[Any, ...], reads: LoopReads, query: Callable[[], sa.Select[Any]]
    ) -> Statement:
        """The statement of this shape of request, compiled on its first use."""
        statement = self.statements.get(shape)
        if statement is None:
            statement = self.statements[shape] = Statement(query(), reads.dialect)
        return statement

    async def _send(
        self,
        request: Request,
        send: Send,
        payload: Any,
        *,
        last_modified: datetime | None,
        headers: dict[str, str],
    ) -> bool:
        """Answer with `payload` as the endpoint would (`caching.cacheable`)."""
        rendered = render_representation(
            payload,
            last_modified=last_modified,
            max_age=request.app.state.settings.cache_max_age,
            headers=headers,
        )
        setattr(request.state, RENDERED, rendered)  # for the response cache to keep
        await respond(request, rendered)(request.scope, request.receive, send)
        self.answered += 1
        return True

    # --- list pages ---------------------------------------------------------------------------

    async def _answer_list(
        self, scope: Scope, receive: Receive, send: Send, parts: list[str]
    ) -> bool:
        """Answer a plain list page; False (nothing sent) when the router should."""
        api, collection = "/" + parts[1], LISTS.get(parts[2])
        if parts[0] or collection is None or api not in (V1, V2):
            return False
        request = Request(scope, receive)
        parameters = _given_once(request)
        if parameters is None:
            return False
        plain = PLAIN_FILTERS[collection.path]
        values: dict[str, str] = {}
        for name, value in parameters.items():
            if name in plain:
                if not _plain_value(plain[name], value):
                    return False
                values[name] = value
            elif name == "lang" and api == V2:
                if not LANG.fullmatch(value):
                    return False
            elif name == "limit":
                if not _within(LIMIT, value, MAX_LIMIT):
                    return False
            elif name != "cursor":
                return False
        if preferred(request, (JSON, CSV)) != JSON:
            return False
        app = scope["app"]
        settings = app.state.settings
        filters = tuple(sorted(values))
        scope_key = pagination.fingerprint(
            collection.path, {name: [values[name]] for name in filters}
        )
        cursor = parameters.get("cursor")
        after = None
        if cursor is not None:
            try:
                after = pagination.position(
                    pagination.decode(settings.cursor_secret, scope_key, cursor), str
                )
            except ProblemError:
                return False
        limit = int(parameters.get("limit", DEFAULT_LIMIT))
        reads: LoopReads = app.state.loop_reads
        statement = self._statement(
            (api, collection.entity, filters, after is not None),
            reads,
            lambda: page_query(
                collection, api, filters, after is not None, settings.publish_personal_contacts
            ),
        )
        bound = {f"value_{name}": values[name] for name in filters}
        if after is not None:
            bound["after"] = after
        try:
            rows = await reads.fetchall_page(statement, limit=limit + 1, **bound)
        except UNREADABLE:
            return False
        if not rows or any(row[1] is None for row in rows):
            return False  # an empty page (its load time is not read), or a missing document
        languages = _reader_languages(request, parameters, api)
        found = [
            shown(collection.entity, row[0], unpack(row[1]), row[2], api, languages) for row in rows
        ]
        page = found[:limit]
        next_cursor = (
            pagination.encode(settings.cursor_secret, scope_key, found[limit - 1].record_id)
            if len(found) > limit
            else None
        )
        links, headers = page_links(request, next_cursor)
        headers |= VERSIONS[api].headers(None, set().union(*(d.languages for d in page)))
        return await self._send(
            request,
            send,
            {
                "data": [orjson.Fragment(d.body) for d in page],
                "next_cursor": next_cursor,
                "links": links,
            },
            last_modified=rows[0][3],
            headers=headers,
        )

    # --- the change feed ------------------------------------------------------------------------

    async def _answer_changes(
        self, scope: Scope, receive: Receive, send: Send, parts: list[str]
    ) -> bool:
        """Answer a page of the change feed; False (nothing sent) when the router should."""
        api = "/" + parts[1]
        if parts[0] or api not in (V1, V2):
            return False
        request = Request(scope, receive)
        parameters = _given_once(request)
        allowed = {"since", "limit", "lang"} if api == V2 else {"since", "limit"}
        if parameters is None or not set(parameters) <= allowed:
            return False
        since_text = parameters.get("since", "0")
        limit_text = parameters.get("limit", str(CHANGES_DEFAULT_LIMIT))
        if not (
            SINCE.fullmatch(since_text)
            and _within(LIMIT, limit_text, CHANGES_MAX_LIMIT)
            and LANG.fullmatch(parameters.get("lang", "*"))
        ):
            return False
        if preferred(request, (JSON,)) is None:
            return False
        since, limit = int(since_text), int(limit_text)
        app = scope["app"]
        settings = app.state.settings
        reads: LoopReads = app.state.loop_reads
        version = VERSIONS[api]
        statement = self._statement(
            (api, "changes"),
            reads,
            lambda: sync.feed_page_query(
                api, settings.publish_personal_contacts, with_evidence=version.evidence
            ),
        )
        try:
            rows = await reads.fetchall_page(statement, since=since, limit=limit)
        except UNREADABLE:
            return False
        # No change after `since` (an empty page, a `since` past the end, an empty database),
        # history that is gone (410), a missing document: the endpoint's answers.
        if not rows or since < FeedRow(*rows[0][:FEED_COLUMNS]).history_start:
            return False
        changes, quotes = _feed_rows(rows, version.evidence, api)
        if any(c.op == "upsert" and c.body is None and c.published for c in changes):
            return False
        languages = _reader_languages(request, parameters, api)
        first = changes[0]
        items = sync.page_items(changes, api, languages, {}, quotes)
        page = sync.page(since, first.last_seq, first.history_start, items, limit)
        page["links"] = sync.page_links(api, since, limit, page["next_since"])
        return await self._send(
            request,
            send,
            page,
            last_modified=first.loaded_at,
            headers=version.headers(),
        )


class FeedRow(NamedTuple):
    """A change of a page of the feed, as `sync.feed_page_query` reads it."""

    seq: int
    entity_type: str
    entity_id: str
    op: str
    version: int
    changed_at: datetime
    body: Any
    languages: str | None
    published: bool
    last_seq: int
    history_start: int
    loaded_at: datetime | None


FEED_COLUMNS = len(FeedRow._fields)


def _feed_rows(
    rows: list[tuple[Any, ...]], with_evidence: bool, api: str
) -> tuple[list[FeedRow], dict[tuple[str, str], list[dict[str, Any]]] | None]:
    """The changes of a page (`rows` of `sync.feed_page_query`), and with evidence each
    upserted record's items (a record has one change in a page: the page holds no change that
    a later one supersedes)."""
    if not with_evidence:
        return [FeedRow(*row) for row in rows], None
    changes: list[FeedRow] = []
    quotes: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        change = FeedRow(*row[:FEED_COLUMNS])
        if not changes or changes[-1].seq != change.seq:
            changes.append(change)
        items = quotes.setdefault((change.entity_type, change.entity_id), [])
        if row[-1] is not None:  # the evidence's id: this row has an item
            evidence = dict(zip(sync.EVIDENCE_COLUMNS, row[FEED_COLUMNS:-1], strict=True))
            items.append(evidence_item(evidence, api))
    return changes, quotes


def _given_once(request: Request) -> dict[str, str] | None:
    """The query's parameters, or None if one is repeated (several values, or the endpoint's
    400)."""
    given = request.query_params.multi_items()
    parameters = dict(given)
    return parameters if len(parameters) == len(given) else None


def _reader_languages(request: Request, parameters: dict[str, str], api: str) -> list[str] | None:
    """v2's reader languages (`lang`, else Accept-Language); None for v1, or every language."""
    if api != V2:
        return None
    return i18n.reader_languages(parameters.get("lang"), request.headers.get("accept-language"))


def _within(pattern: re.Pattern[str], value: str, most: int) -> bool:
    """`value` is a number as `pattern` writes it, at most `most`."""
    return bool(pattern.fullmatch(value)) and int(value) <= most


def _plain_value(f: Filter, value: str) -> bool:
    """Whether this layer can read `value` of filter `f` (else the endpoint judges it)."""
    if not value or "\x00" in value:
        return False
    return f.type is str or value in {member.value for member in f.type}


def page_query(
    collection: Collection,
    api: str,
    filters: tuple[str, ...],
    has_cursor: bool,
    personal_contacts: bool,
) -> sa.Select[Any]:
    """A page of `collection` (parameters `limit`, `after` if `has_cursor`, and `value_<name>`
    for each filter of `filters`), as the list endpoint selects it: each record's id, its
    stored document for `api` and its languages, and the data set's load time."""
    entity = collection.entity
    t, state = table(entity), table("dataset_state")
    query = sa.select(t)
    plain = PLAIN_FILTERS[collection.path]
    for name in filters:
        query = query.where(plain[name].condition(t, [sa.bindparam(f"value_{name}")]))
    query = published(query, entity, t, personal_contacts=personal_contacts)
    if has_cursor:
        query = query.where(t.c.id > sa.bindparam("after"))
    page = joined(query.order_by(t.c.id).limit(sa.bindparam("limit")), entity, api)
    loaded_at = sa.select(state.c.loaded_at).where(state.c.id == 1).scalar_subquery()
    return page.add_columns(loaded_at)
