"""Records and list pages answered from their stored documents, one statement each.

The record endpoints (`/v1/{collection}/{id}`, `/v2/{collection}/{id}`) and the list pages
(`/v1/{collection}?country=dk&cursor=...`) are the API's most asked URLs, and their bodies are
stored documents (app/representation.py). This layer, in front of the router, answers their
plain forms on the event loop:
- a record with no query, or v2's `lang` alone (no `expand`);
- a list page whose parameters are `limit`, `cursor`, v2's `lang` and filters by an id or a
  vocabulary value, each given once (no `q`, `format`, `expand`, `updated_since`, CSV).
One statement, compiled once per shape of request (app.api.loop_reads), reads the documents and
the data set's load time, and `caching.respond` answers exactly as the endpoint would, 304s and
gzip included. Everything else goes on to the router, which also answers what this layer does
not: a 404, a 400 for a bad cursor or limit, a 406, a database that cannot be read, a read that
takes long, a record without a stored document, an empty page.

The endpoint stays the reference: tests/test_stored.py asks every URL both ways and compares
status, headers and bytes.
"""

import re
from enum import Enum
from typing import Any

import orjson
import sqlalchemy as sa
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app import i18n
from app.api import pagination
from app.api.caching import JSON, RENDERED, render_representation, respond
from app.api.loop_reads import UNREADABLE, LoopReads, Statement
from app.api.problems import ProblemError
from app.api.v1.collections import COLLECTION_LIST, Collection, Filter
from app.api.v1.csv_lists import CSV
from app.api.v1.records import COLLECTIONS, V1, V2, published
from app.api.v1.routes import DEFAULT_LIMIT, MAX_LIMIT, V1_API, page_links, preferred
from app.api.v2.routes import V2_API
from app.models import table
from app.representation import COLUMN, LANGUAGES, TABLE, as_bytes, joined, shown

ENTITY_OF = {collection: entity for entity, collection in COLLECTIONS.items()}
VERSIONS = {V1: V1_API, V2: V2_API}
LANG_ONLY = re.compile(rb"lang=([a-z]{2}|\*)")
LANG = re.compile(r"[a-z]{2}|\*")
LIMIT = re.compile(r"[1-9][0-9]{0,2}")
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
    """ASGI middleware in front of the router: plain record and list requests from stored
    documents."""

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
        if len(parts) == 3:
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
        statement = self.statements.get((api, entity))
        if statement is None:
            query = document_query(
                entity, api, personal_contacts=settings.publish_personal_contacts
            )
            statement = self.statements[(api, entity)] = Statement(query, reads.dialect)
        try:
            row = await reads.fetchone(statement, id=record_id)
        except UNREADABLE:
            return False
        if row is None or row[0] is None:
            return False
        document = shown(entity, record_id, as_bytes(row[0]), row[1], api, languages)
        rendered = render_representation(
            document.body,
            last_modified=row[2],
            max_age=settings.cache_max_age,
            headers=VERSIONS[api].headers(None, document.languages),
        )
        setattr(request.state, RENDERED, rendered)  # for the response cache to keep
        await respond(request, rendered)(scope, receive, send)
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
        given = request.query_params.multi_items()
        names = [name for name, _ in given]
        if len(set(names)) != len(names):
            return False  # a repeated parameter: several values, or the endpoint's 400
        parameters = dict(given)
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
                if not LIMIT.fullmatch(value) or int(value) > MAX_LIMIT:
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
        shape = (api, collection.entity, filters, after is not None)
        statement = self.statements.get(shape)
        if statement is None:
            query = page_query(
                collection, api, filters, after is not None, settings.publish_personal_contacts
            )
            statement = self.statements[shape] = Statement(query, reads.dialect)
        bound = {f"value_{name}": values[name] for name in filters}
        if after is not None:
            bound["after"] = after
        try:
            rows = await reads.fetchall(statement, limit=limit + 1, **bound)
        except UNREADABLE:
            return False
        if not rows or any(row[1] is None for row in rows):
            return False  # an empty page (its load time is not read), or a missing document
        languages = (
            i18n.reader_languages(parameters.get("lang"), request.headers.get("accept-language"))
            if api == V2
            else None
        )
        found = [
            shown(collection.entity, row[0], as_bytes(row[1]), row[2], api, languages)
            for row in rows
        ]
        page = found[:limit]
        next_cursor = (
            pagination.encode(settings.cursor_secret, scope_key, found[limit - 1].record_id)
            if len(found) > limit
            else None
        )
        links, headers = page_links(request, next_cursor)
        headers |= VERSIONS[api].headers(None, set().union(*(d.languages for d in page)))
        rendered = render_representation(
            {
                "data": [orjson.Fragment(d.body) for d in page],
                "next_cursor": next_cursor,
                "links": links,
            },
            last_modified=rows[0][3],
            max_age=settings.cache_max_age,
            headers=headers,
        )
        setattr(request.state, RENDERED, rendered)  # for the response cache to keep
        await respond(request, rendered)(scope, receive, send)
        self.answered += 1
        return True


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
