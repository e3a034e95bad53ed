"""The /v1 router (frozen, deprecated): the endpoints of app/api/routes.py with v1's wire
schemas, every text in one language, paths under /v1."""

from fastapi import APIRouter

from app.api.records import V1
from app.api.routes import Api, build_router
from app.api.v1 import schemas

V1_API = Api(
    prefix=V1,
    record_schemas=dict(schemas.RECORDS),
    search_results=schemas.SearchResults,
    change_page=schemas.ChangePage,
    meta=schemas.Meta,
)


def build_v1_router() -> APIRouter:
    return build_router(V1_API)
