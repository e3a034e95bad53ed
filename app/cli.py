"""The `scn` command line: serve, db, load."""

from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer

from app import migrate
from app.db import create_engine
from app.loader import LoadError, load
from app.seed_reader import SeedError
from app.settings import get_settings

cli = typer.Typer(
    help="Strong Cities Open Data API: serve it, migrate its database, load its data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_cli = typer.Typer(help="Migrate the database schema (Alembic).", no_args_is_help=True)
cli.add_typer(db_cli, name="db")

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        "-d",
        help="Database URL; default: the DATABASE_URL setting (a SQLite file under var/).",
    ),
]


def _database_url(database: str | None) -> str:
    return database or get_settings().database_url


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"scn: {message}", err=True)
    raise typer.Exit(code)


def _safe_url(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface; default: HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Port; default: PORT or 8000")] = None,
) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "app.api.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
    )


@db_cli.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
    database: DatabaseOption = None,
) -> None:
    """Upgrade the schema to REVISION (default: head, the newest)."""
    url = _database_url(database)
    _run_migration(lambda: migrate.upgrade(url, revision), url)
    typer.echo(f"schema at revision {migrate.current_revision(url) or 'none'}")


@db_cli.command("downgrade")
def db_downgrade(
    revision: Annotated[
        str, typer.Argument(help="Target revision; -1 is one step down, 'base' empties the schema")
    ] = "-1",
    database: DatabaseOption = None,
) -> None:
    """Downgrade the schema to REVISION (default: one step; 'base' removes every table and data)."""
    url = _database_url(database)
    _run_migration(lambda: migrate.downgrade(url, revision), url)
    typer.echo(f"schema at revision {migrate.current_revision(url) or 'none (empty)'}")


@db_cli.command("current")
def db_current(database: DatabaseOption = None) -> None:
    """Print the database's schema revision and the revision this code needs."""
    url = _database_url(database)
    try:
        current = migrate.current_revision(url)
    except sa.exc.OperationalError as exc:
        _fail(f"cannot reach the database {_safe_url(url)}: {exc.orig}", 2)
    head = migrate.head_revision()
    state = "up to date" if current == head else "needs `scn db upgrade`"
    typer.echo(f"{current or 'none (empty database)'} (code needs {head}: {state})")


def _run_migration(action: object, url: str) -> None:
    from alembic.util import CommandError

    try:
        action()  # type: ignore[operator]
    except CommandError as exc:
        _fail(str(exc))
    except sa.exc.OperationalError as exc:
        _fail(f"cannot reach the database {_safe_url(url)}: {exc.orig}", 2)


@cli.command("load")
def load_command(
    path: Annotated[
        Path | None, typer.Argument(help="Folder of seed files; default: seeds/")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Validate the seed files, then make the database hold exactly them, logging each change."""
    settings = get_settings()
    folder = path or settings.seeds_dir
    url = _database_url(database)
    engine = create_engine(url)
    try:
        result = load(
            engine,
            folder,
            lock_timeout=settings.load_lock_timeout,
            on_wait=lambda: typer.echo("scn: another load is running; waiting for it", err=True),
        )
    except SeedError as exc:
        lines = "\n".join(f"  {p}" for p in exc.problems)
        _fail(f"the seeds were refused, the database is unchanged:\n{lines}")
    except LoadError as exc:
        _fail(str(exc))
    except sa.exc.OperationalError as exc:
        _fail(f"cannot write to the database {_safe_url(url)}: {exc.orig}", 2)
    finally:
        engine.dispose()
    if not result.changed:
        typer.echo(f"data set {result.dataset_version}: no change")
        return
    typer.echo(
        f"data set {result.dataset_version}: {result.created} created, {result.updated} updated, "
        f"{result.deleted} deleted (changes {result.first_seq}..{result.last_seq})"
    )


@cli.command("openapi")
def openapi_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; default: stdout")
    ] = None,
) -> None:
    """Write the v1 contract (the file committed as openapi/v1.json)."""
    import json

    from app.api.openapi import v1_openapi

    text = json.dumps(v1_openapi(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


def main() -> None:
    cli(prog_name="scn")


if __name__ == "__main__":
    main()
