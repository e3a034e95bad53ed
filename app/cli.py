"""The `scn` command line: serve, db, load, synth, export, graph, mirror, history, openapi."""

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer

from app import heap, migrate
from app.db import create_engine, read_transaction
from app.settings import get_settings

cli = typer.Typer(
    help="Strong Cities Open Data API: serve it, migrate its database, load its data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_cli = typer.Typer(
    help="Migrate the database schema (Alembic) and check what it stores.", no_args_is_help=True
)
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
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (each with its own connections)")
    ] = 1,
) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    from app.logs import LOG_CONFIG

    settings = get_settings()
    uvicorn.run(
        "app.api.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        log_config=LOG_CONFIG,
        workers=workers,
        # On SIGTERM: stop accepting, let requests in flight finish (up to this many seconds).
        timeout_graceful_shutdown=30,
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


SHOWN_DRIFTS = 20


@db_cli.command("check")
def db_check(database: DatabaseOption = None) -> None:
    """Render every record again from its rows and compare it with its stored representations
    (the JSON the API serves). Exit 1 if any differs or is missing."""
    from app import representation, sync

    url = _database_url(database)
    head = migrate.head_revision()
    try:
        current = migrate.current_revision(url)
        if current != head:
            _fail(f"the database is at revision {current or 'none'}: run `scn db upgrade` first")
        engine = create_engine(url, read_only=True)
        with contextlib.closing(read_transaction(engine)) as connection:
            drifts = 0
            for drift in representation.check(connection):
                drifts += 1
                if drifts <= SHOWN_DRIFTS:
                    typer.echo(f"scn db check: {drift}", err=True)
            checked = sync.export_count(connection, None, personal_contacts=True)
    except sa.exc.OperationalError as exc:
        _fail(f"cannot reach the database {_safe_url(url)}: {exc.orig}", 2)
    if drifts:
        more = f" ({drifts - SHOWN_DRIFTS} more not shown)" if drifts > SHOWN_DRIFTS else ""
        _fail(f"{drifts} stored representations differ from their records{more}")
    typer.echo(f"{checked} records: every stored representation matches its rows")


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
    from app.loader import LoadError, load
    from app.progress import Tracker
    from app.seed_reader import SeedError

    settings = get_settings()
    folder = path or settings.seeds_dir
    url = _database_url(database)
    engine = create_engine(url)
    heap.settle()
    try:
        result = load(
            engine,
            folder,
            lock_timeout=settings.load_lock_timeout,
            on_wait=lambda: typer.echo("scn: another load is running; waiting for it", err=True),
            tracker=Tracker("scn load"),
        )
    except SeedError as exc:
        lines = "\n".join(f"  {p}" for p in exc.problems)
        _fail(f"the seeds were refused, the database is unchanged:\n{lines}")
    except LoadError as exc:
        _fail(str(exc))
    except sa.exc.OperationalError as exc:
        _fail(f"cannot write to the database {_safe_url(url)}: {exc.orig}", 2)
    except sa.exc.DBAPIError as exc:
        _fail(f"the database refused the load, nothing was written: {exc.orig}", 2)
    finally:
        engine.dispose()
    if not result.changed:
        typer.echo(f"data set {result.dataset_version}: no change")
        return
    typer.echo(
        f"data set {result.dataset_version}: {result.created} created, {result.updated} updated, "
        f"{result.deleted} deleted (changes {result.first_seq}..{result.last_seq})"
    )


@cli.command("synth")
def synth_command(
    records: Annotated[
        int, typer.Option("--records", "-n", min=10, help="How many records to make")
    ] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same data")] = 1,
    force: Annotated[
        bool, typer.Option("--force", help="Delete the data set the database holds first")
    ] = False,
    database: DatabaseOption = None,
) -> None:
    """Write a synthetic data set of RECORDS made-up records (for benchmarks), with history.

    Refuses a database that already holds a data set unless --force is given. On SQLite its one
    transaction goes through a rollback journal (each new page written once), unless another
    process has the file open: start servers on the file after it ends."""
    import time

    from app.loader import LoadError
    from app.progress import Tracker
    from app.synth import SynthError, synthesise

    url = _database_url(database)
    engine = create_engine(url)
    heap.settle()
    started = time.monotonic()
    try:
        result = synthesise(engine, records, seed=seed, force=force, tracker=Tracker("scn synth"))
    except (SynthError, LoadError) as exc:
        _fail(str(exc))
    except sa.exc.OperationalError as exc:
        _fail(f"cannot write to the database {_safe_url(url)}: {exc.orig}", 2)
    finally:
        engine.dispose()
    typer.echo(
        f"data set {result.dataset_version}: {sum(result.records.values())} synthetic records, "
        f"{result.changes} changes, in {time.monotonic() - started:.0f} s"
    )


@cli.command("openapi")
def openapi_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; default: stdout")
    ] = None,
    api: Annotated[
        str,
        typer.Option(
            "--api",
            "--contract",
            help="Which contract: v1, v2 (openapi/<api>.json) or hsds (the HSDS 3.0 profile)",
        ),
    ] = "v1",
) -> None:
    """Write a contract (the file committed as openapi/<api>.json)."""
    import json

    from app.api.hsds.openapi import hsds_openapi
    from app.api.openapi import CONTRACTS

    contracts = {**CONTRACTS, "hsds": hsds_openapi}
    if api not in contracts:
        _fail(f"unknown contract {api!r}; one of: {', '.join(contracts)}")
    text = json.dumps(contracts[api](), indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@cli.command("export")
def export_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; default: stdout")
    ] = None,
    entity_type: Annotated[
        list[str] | None,
        typer.Option("--type", "-t", help="Only this entity type (repeat for several)"),
    ] = None,
    database: DatabaseOption = None,
    api: Annotated[
        str, typer.Option("--api", help="As which API version shows them: v2 (default) or v1")
    ] = "v2",
) -> None:
    """Write every current record as NDJSON (the same lines as /v2/export, or /v1/export with
    --api v1), from one snapshot."""
    from app.api.records import COLLECTIONS
    from app.progress import Tracker
    from app.sync import export_count, export_pieces

    if api not in ("v1", "v2"):
        _fail(f"unknown API version {api!r}; one of: v1, v2")
    unknown = sorted(set(entity_type or []) - set(COLLECTIONS))
    if unknown:
        _fail(f"unknown type {', '.join(unknown)}; one of: {', '.join(COLLECTIONS)}")
    types = [t for t in COLLECTIONS if t in set(entity_type)] if entity_type else None
    settings = get_settings()
    url = _database_url(database)
    engine = create_engine(url)
    heap.settle()
    try:
        with contextlib.closing(read_transaction(engine)) as connection:
            personal = settings.publish_personal_contacts
            total = export_count(connection, types, personal_contacts=personal)
            pieces = export_pieces(
                connection,
                types,
                personal_contacts=personal,
                api=f"/{api}",
                with_evidence=api == "v2",  # as /v2/export: each record with its quotes
            )
            with Tracker("scn export").step("writing", total=total) as step:
                header = next(pieces)
                out = sys.stdout.buffer if output is None else output.open("wb")
                try:
                    out.write(header)
                    for piece in pieces:
                        out.write(piece)
                        step.advance(piece.count(b"\n"))
                    out.flush()
                finally:
                    if output is not None:
                        out.close()
    except sa.exc.OperationalError as exc:
        _fail(f"cannot read the database {_safe_url(url)}: {exc.orig}", 2)
    finally:
        engine.dispose()


@cli.command("graph")
def graph_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; default: stdout")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Write the graph as /v1/graph gives it, not SVG")
    ] = False,
    database: DatabaseOption = None,
) -> None:
    """Draw the whole prevention model as SVG (what /v1/graph.svg serves; docs/img/model.svg)."""
    import json

    from app.api import graph

    url = _database_url(database)
    engine = create_engine(url)
    try:
        with contextlib.closing(read_transaction(engine)) as connection:
            model = graph.build_graph(connection, graph.Query())
    except graph.GraphTooBig as too_big:
        _fail(str(too_big))
    except sa.exc.OperationalError as exc:
        _fail(f"cannot read the database {_safe_url(url)}: {exc.orig}", 2)
    finally:
        engine.dispose()
    if as_json:
        body = (json.dumps(model, indent=2, ensure_ascii=False) + "\n").encode()
    else:
        try:
            body = graph.render_svg(model)
        except (graph.DrawingFailed, graph.GraphTooBig) as failed:
            _fail(str(failed))
    if output is None:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    else:
        output.write_bytes(body)


@cli.command("mirror")
def mirror_command(
    source: Annotated[str, typer.Option("--source", help="Base URL of the API to copy")],
    database: Annotated[
        str, typer.Option("--database", "-d", help="Database URL of the copy (made if new)")
    ],
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep running, syncing every --interval seconds")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=1, help="Seconds between syncs with --follow")
    ] = 60.0,
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=1000, help="Changes asked for per request")
    ] = 500,
) -> None:
    """Copy a publisher's API into a local database and keep it in sync (see docs/SYNC.md)."""
    import signal

    from app.loader import LoadError
    from app.mirror import Mirror, MirrorError
    from app.references import DanglingReferences

    stop = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    mirror = Mirror(source, database, batch=batch)
    heap.settle()
    try:
        if follow:
            signal.signal(signal.SIGTERM, request_stop)
            signal.signal(signal.SIGINT, request_stop)
            mirror.follow(interval, lambda: stop)
        else:
            typer.echo(mirror.run_once().summary())
    except MirrorError as exc:
        _fail(str(exc))
    except LoadError as exc:
        _fail(str(exc))
    except sa.exc.IntegrityError as exc:
        _fail(f"the source's records do not fit the database {_safe_url(database)}: {exc.orig}")
    except DanglingReferences as exc:
        _fail(f"the source's snapshot is not whole, nothing was written: {exc}")
    except sa.exc.OperationalError as exc:
        _fail(f"cannot write to the database {_safe_url(database)}: {exc.orig}", 2)
    finally:
        mirror.close()


history_cli = typer.Typer(help="The change history kept for /v1/changes.", no_args_is_help=True)
cli.add_typer(history_cli, name="history")


@history_cli.command("prune")
def history_prune(
    keep: Annotated[int, typer.Option("--keep", min=0, help="How many latest changes to keep")],
    database: DatabaseOption = None,
) -> None:
    """Forget all but the last KEEP changes; clients further behind must take a new snapshot."""
    from app.loader import LoadError, prune_history

    url = _database_url(database)
    engine = create_engine(url)
    try:
        start, removed = prune_history(engine, keep)
    except LoadError as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
    typer.echo(f"history now starts after change {start} ({removed} changes removed)")


def main() -> None:
    cli(prog_name="scn")


if __name__ == "__main__":
    main()
