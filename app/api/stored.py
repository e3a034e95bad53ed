"""One record by id, answered from its stored document with one primary-key read.

The record endpoints (`/v1/{collection}/{id}`, `/v2/{collection}/{id}`) are the API's most asked
URLs, and their body is a stored document (app/representation.py). This layer, in front of the
router, answers the plain form of them (no query, or v2's `lang` alone; no `expand`) on the
event loop: one statement reads the document and the data set's load time (app.api.loop_reads),
and `caching.respond` answers exactly as the endpoint would, 304s and gzip included. Everything
else goes on to the router, which also answers what this layer does not: a 404, a 406, a
database that cannot be read, a record without a stored document.

The endpoint stays the reference: tests/test_stored.py asks every URL both ways and compares
status, headers and bytes.
"""

import re
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app import i18n
from app.api.caching import JSON, RENDERED, render_representation, respond
from app.api.loop_reads import UNREADABLE, LoopReads, Statement
from app.api.v1.records import COLLECTIONS, V1, V2, published
from app.api.v1.routes import V1_API, preferred
from app.api.v2.routes import V2_API
from app.models import table
from app.representation import COLUMN, LANGUAGES, TABLE, as_bytes, shown

ENTITY_OF = {collection: entity for entity, collection in COLLECTIONS.items()}
VERSIONS = {V1: V1_API, V2: V2_API}
LANG_ONLY = re.compile(rb"lang=([a-z]{2}|\*)")


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


class StoredRecords:
    """ASGI middleware in front of the router: plain record requests from stored documents."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.enabled = True  # tests turn it off to ask the endpoint itself
        self.statements: dict[tuple[str, str], Statement] = {}
        self.answered = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (self.enabled and scope["type"] == "http" and scope["method"] == "GET"):
            await self.app(scope, receive, send)
            return
        target = self._target(scope)
        if target is None or not await self._answer(scope, receive, send, *target):
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
