"""The /v2 router: v1's endpoints (app/api/v1/routes.py) with v2's schemas and languages.

Language: `lang` (one ISO 639-1 code, or `*`) wins over Accept-Language; without either, every
text comes as its whole language map. With a language, each map holds one entry: that language
if the text has it, else the next language the reader accepts, else English, French, Danish, in
that order (app.i18n). The response says which languages it holds in Content-Language, and
varies on Accept-Language.
"""

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request

from app import i18n
from app.api.v1.records import V2
from app.api.v1.routes import Api, build_router
from app.api.v2 import schemas


def negotiate_language(
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
    if lang is not None:
        request.state.languages = None if lang == "*" else [lang]
    elif accept_language:
        request.state.languages = i18n.parse_accept_language(accept_language) or None
    else:
        request.state.languages = None


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
)


def build_v2_router() -> APIRouter:
    return build_router(V2_API)
