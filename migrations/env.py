"""Alembic environment: migrations target the SQLModel metadata of app.models.

The URL comes from the config attribute `database_url` (set by app.migrate) or DATABASE_URL.
Batch mode is on so that later revisions can alter tables on SQLite, which cannot ALTER much.
"""

from collections.abc import Collection, Mapping
from typing import Any, Literal

from alembic import context
from alembic.runtime.migration import MigrationContext, MigrationInfo
from sqlalchemy import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from app.db import create_engine
from app.models import UtcDateTime  # importing app.models registers every table
from app.settings import get_settings

config = context.config
target_metadata = SQLModel.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Write the project's column types as plain SQLAlchemy ones, so a revision never imports
    app code (which changes after the revision is written)."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """The search index is engine-specific DDL (revision 0002), not a model: leave it be."""
    return not (type_ == "table" and name is not None and name.startswith("search_index"))


def run_pending_reference_checks(
    ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]
) -> None:
    """After each revision, on PostgreSQL: run the foreign-key checks its writes queued, then
    defer them again, as every foreign key is (app/models.py). Every revision runs in one
    transaction, and PostgreSQL refuses to alter or index a table with checks pending: a row
    updated twice (by 0012's downgrade, then 0011's) made 0009's downgrade fail with "pending
    trigger events"."""
    connection = ctx.connection
    if connection is not None and connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET CONSTRAINTS ALL IMMEDIATE")
        connection.exec_driver_sql("SET CONSTRAINTS ALL DEFERRED")


def database_url() -> str:
    url = config.attributes.get("database_url") or get_settings().database_url
    return str(url)


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
        render_item=render_item,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(database_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: Connection) -> None:
    # SQLite alters a table by copying it (batch mode), which a checked foreign key would stop
    # half-way; the check is off while the schema changes, and run on everything before commit.
    sqlite = connection.dialect.name == "sqlite" and not connection.in_transaction()
    if sqlite:
        connection.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")  # type: ignore[union-attr]
    try:
        _migrate(connection, check_foreign_keys=sqlite)
    finally:
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys = ON")  # type: ignore[union-attr]


def _migrate(connection: Connection, *, check_foreign_keys: bool) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=render_item,
        include_object=include_object,
        on_version_apply=run_pending_reference_checks,
    )
    with context.begin_transaction():
        before = context.get_context().get_current_revision()
        context.run_migrations()
        # Only after a change of schema: a check of every row of a million-record database
        # took 3 s, on every upgrade that found nothing to do (each `scn mirror` run).
        changed = context.get_context().get_current_revision() != before
        if check_foreign_keys and changed:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
