"""The /v2 router: the endpoints of app/api/routes.py with v2's schemas and languages.

Language: `lang` (one ISO 639-1 code, or `*`) wins over Accept-Language; without either, every
text comes as its whole language map. With a language, each map holds one entry: that language
if the text has it, else the next language the reader accepts, else English, French, Danish, in
that order (app.i18n). The response says which languages it holds in Content-Language, and
varies on Accept-Language.
"""

from collections.abc import Callable
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Header, Path, Query, Request
from starlette.responses import Response

from app import i18n
from app.api.caching import cacheable
from app.api.collections import COLLECTION_LIST, Collection
from app.api.evidence import evidence_of
from app.api.examples import EXAMPLE_RECORDS
from app.api.problems import ProblemError
from app.api.records import V2, published, table, versioned_href
from app.api.routes import Api, build_router, check_parameters, in_one_thread
from app.api.routes import _camel as camel
from app.api.routes import _last_modified as last_modified
from app.api.v2 import schemas
from app.settings import Settings


async def negotiate_language(
    request: Request,
    lang: Annotated[
        str | None,
        Query(
            pattern=r"^([a-z]{2}|\*)$",
            description=(
                "The language of texts: an ISO 639-1 code (`fr`), or `*` for every language. "
                "Overrides Accept-Language. Texts missing in it fall back to English, then "
                "French, then Danish."
            ),
            examples=["fr"],
        ),
    ] = None,
    accept_language: Annotated[
        str | None,
        Header(
            description=(
                "Preferred languages (RFC 9110), used when `lang` is absent; without either, "
                "every text comes in every language"
            ),
            examples=["fr-FR, fr;q=0.9, en;q=0.5"],
        ),
    ] = None,
) -> None:
    request.state.languages = i18n.reader_languages(lang, accept_language)


V2_API = Api(
    prefix=V2,
    record_schemas=schemas.RECORDS,
    search_results=schemas.SearchResults,
    change_page=schemas.ChangePage,
    meta=schemas.Meta,
    multilingual=True,
    refuses_since_past_end=False,
    embeds=True,
    dependencies=(negotiate_language,),
    evidence=True,
)


def _evidence_endpoint(collection: Collection) -> Callable[..., Response]:
    singular = collection.entity.replace("_", " ")

    def endpoint(
        request: Request,
        conn: sa.Connection,
        id: Annotated[
            str,
            Path(description=f"The {singular}'s id", examples=[EXAMPLE_RECORDS[collection.entity]]),
        ],
    ) -> Response:
        check_parameters(request, V2_API.parameters(set()))
        settings: Settings = request.app.state.settings
        t = table(collection.entity)
        query = published(
            sa.select(t.c.id).where(t.c.id == id),
            collection.entity,
            t,
            personal_contacts=settings.publish_personal_contacts,
        )
        # No id holds a NUL character (and PostgreSQL refuses one in a query).
        if "\x00" in id or conn.execute(query).first() is None:
            raise ProblemError(404, f"No {singular} with id {id!r} is published.")
        items = evidence_of(conn, collection.entity, [id], V2).get(id, [])
        body = {
            "id": id,
            "type": collection.entity,
            "href": versioned_href(V2, collection.entity, id),
            "evidence": items,
        }
        return cacheable(
            request,
            body,
            last_modified=last_modified(conn),
            max_age=settings.cache_max_age,
            headers=V2_API.headers(),
        )

    return endpoint


def build_v2_router() -> APIRouter:
    router = build_router(V2_API)
    for collection in COLLECTION_LIST:
        router.add_api_route(
            f"/{collection.path}/{{id}}/evidence",
            in_one_thread(_evidence_endpoint(collection)),
            methods=["GET"],
            operation_id=f"get{camel(collection.entity)}Evidence",
            summary=f"The quotes behind one {collection.entity.replace('_', ' ')}'s values",
            description=(
                "For each structured value of the record (a number, a date, a leader, a "
                "relationship, ...): the field path, the verbatim quote that states it, its "
                "source, the source's text in the repository, the section, and the quote's "
                'character offsets in that text. See docs/DATA.md, "Evidence".'
            ),
            response_model=schemas.Evidence,
            tags=[collection.title],
        )
    return router
