"""The FastAPI application: for now the process and readiness probes.

`/healthz` says the process answers; `/readyz` says the database answers and is at the schema
revision this code was written for, so a load balancer only sends traffic to a usable server.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from app.db import create_engine
from app.migrate import head_revision
from app.settings import Settings, get_settings

PROBLEM_JSON = "application/problem+json"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    expected_revision = head_revision()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = create_engine(settings.database_url)
        yield
        app.state.engine.dispose()

    app = FastAPI(title="Strong Cities Open Data API", lifespan=lifespan)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    def readyz() -> JSONResponse:
        engine: sa.Engine = app.state.engine
        try:
            with engine.connect() as connection:
                current = connection.execute(
                    sa.text("SELECT version_num FROM alembic_version")
                ).scalar()
                if current != expected_revision:
                    return _not_ready(
                        f"The database is at schema revision {current or 'none'}; this server "
                        f"needs {expected_revision}. Run `scn db upgrade`."
                    )
                loaded = connection.execute(sa.text("SELECT last_seq FROM dataset_state")).scalar()
        except sa.exc.DBAPIError:
            return _not_ready("The database does not answer, or holds no schema.")
        if loaded is None:
            return _not_ready("No data set is loaded. Run `scn load`.")
        return JSONResponse({"status": "ready", "schema_revision": current, "last_seq": loaded})

    return app


def _not_ready(detail: str) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": detail,
    }
    return JSONResponse(body, status_code=503, media_type=PROBLEM_JSON)
