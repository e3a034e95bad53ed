"""`scn db ...`: Alembic driven from code, so it works from any directory.

Alembic is imported by the functions that use it: the API server only needs the head revision
(HEAD_REVISION), and importing Alembic was a tenth of its start."""

from typing import TYPE_CHECKING

import sqlalchemy as sa

from app.db import create_engine
from app.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from alembic.config import Config

HEAD_REVISION = "0013"
"""The newest revision in migrations/versions: the one this code expects the database to be at
(tests/test_migrations.py checks that it is Alembic's head)."""


def alembic_config(database_url: str) -> "Config":
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    if revision == "head" and current_revision(database_url) == HEAD_REVISION:
        return  # nothing to do, known without Alembic (its start is half a second)
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str:
    """The revision this code expects the database to be at."""
    return HEAD_REVISION


def current_revision(database_url: str) -> str | None:
    """The revision the database is at; None for an empty database. Read without Alembic,
    whose import costs half a second: every `scn mirror` run asks."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


def check(database_url: str) -> None:
    """Raise if the models and the migrated database differ (`alembic check`)."""
    from alembic import command

    command.check(alembic_config(database_url))
