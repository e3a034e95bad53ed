"""`scn mirror` against a real source server: convergence through random edits, a crash in the
middle of a batch, a 410 and re-snapshot; retries on network errors. SQLite and PostgreSQL
targets."""

import io
import os
import random
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from app import codec, migrate, representation, search
from app import mirror as mirror_module
from app.api.main import create_app
from app.db import create_engine
from app.loader import CRASH_AFTER_ENV, RecordWriter, digest_of, load, prune_history
from app.mirror import Mirror, MirrorError, Retry
from app.models import ENTITIES, table
from app.settings import Settings
from app.sync import export_pieces
from tests.conftest import PostgresServer
from tests.helpers import (
    drifts,
    edit_record,
    lines_of,
    link_rows,
    read_seed_file,
    remove_record,
    write_seed_file,
)
from tests.live import free_port, live_server
from tests.seed_edits import random_edit
from tests.test_cli import SCN


def local_export(url: str) -> list[bytes]:
    """`scn export` of a database, without its header line."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            return lines_of(export_pieces(connection, None, personal_contacts=False))[1:]
    finally:
        engine.dispose()


def served_export(base: str) -> list[bytes]:
    response = httpx.get(f"{base}/v1/export", headers={"Accept-Encoding": "identity"}, timeout=60)
    return [line + b"\n" for line in response.content.splitlines()][1:]


def mirror_cli(base: str, target: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCN, "mirror", "--source", base, "--database", target, "--batch", "7"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
        check=False,
    )


def held_digest(url: str) -> str:
    """The digest a database says it holds (`/v1/meta`)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            state = connection.execute(sa.text("SELECT content_digest FROM dataset_state"))
            return str(state.scalar_one())
    finally:
        engine.dispose()


def content_hashes(url: str) -> dict[tuple[str, str], str]:
    """Every record's content hash: a copy's equal its publisher's, record for record."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                (entity, record_id): content_hash
                for entity in ENTITIES
                for record_id, content_hash in connection.execute(
                    sa.select(table(entity).c.id, table(entity).c.content_hash)
                )
            }
    finally:
        engine.dispose()


def cursor(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(sa.text("SELECT last_seq FROM mirror_state")).scalar_one()
            )
    finally:
        engine.dispose()


@pytest.mark.slow
def test_a_mirror_converges_through_edits_a_crash_and_a_410(
    source_url: str, target_url: str, seeds: Path
) -> None:
    rng = random.Random(20261121)
    source = create_engine(source_url)
    try:
        load(source, seeds)
        with live_server(source_url) as base:
            first = mirror_cli(base, target_url)
            assert first.returncode == 0, first.stderr
            assert local_export(target_url) == served_export(base)
            assert drifts(target_url) == []
            records = len(served_export(base))
            # Not a terminal: no bar, a line when the snapshot ends, then the run's summary.
            assert re.fullmatch(
                rf"snapshot: {records:,} records, 0 changes applied, [\d.]+ s, [\d,]+ "
                rf"records/s; at change {cursor(target_url)}\n",
                first.stdout,
            ), first.stdout
            assert f"scn mirror: snapshot: {records:,} records in " in first.stderr
            assert "\x1b" not in first.stderr

            for step in range(1, 9):
                done = [random_edit(rng, seeds, step * 10 + i) for i in range(rng.randint(1, 4))]
                if step == 3:
                    edit_record(seeds, "cities.yaml", "viborg", lambda r: r.update(population=3))
                if step == 4:  # only reordered: a change, as the record shows its members so
                    edit_record(seeds, "cooperations.yaml", "ssp", lambda r: r["members"].reverse())
                load(source, seeds)

                if step == 3:
                    # Die in the middle of the batch: the mirror keeps its previous state.
                    before, at = local_export(target_url), cursor(target_url)
                    crashed = mirror_cli(base, target_url, **{CRASH_AFTER_ENV: "1"})
                    assert crashed.returncode == -9, crashed.stderr  # killed by SIGKILL
                    assert (local_export(target_url), cursor(target_url)) == (before, at)
                if step == 6:
                    prune_history(source, keep=0)  # the mirror's cursor is now too old

                result = mirror_cli(base, target_url)
                assert result.returncode == 0, f"after {done}: {result.stderr}"
                if step != 6:
                    assert re.fullmatch(
                        r"changes: [\d,]+ records, [1-9][\d,]* changes applied, [\d.]+ s, "
                        rf"[\d,]+ records/s; at change {cursor(target_url)}\n",
                        result.stdout,
                    ), result.stdout
                if step == 6:
                    assert "taking a new snapshot" in result.stderr
                assert local_export(target_url) == served_export(base), f"after {done}"
                assert drifts(target_url) == [], f"after {done}"
                copied = content_hashes(target_url)  # personal contact points are withheld
                assert copied.items() <= content_hashes(source_url).items(), f"after {done}"
                # The catch-up moved the digest by what changed: it is that of every hash.
                assert held_digest(target_url) == digest_of(
                    (entity, record_id, content_hash)
                    for (entity, record_id), content_hash in copied.items()
                ), f"after {done}"

            engine = create_engine(target_url)
            with engine.connect() as connection:
                snapshots = connection.execute(sa.text("SELECT snapshots FROM mirror_state"))
                assert snapshots.scalar_one() == 2
            engine.dispose()
    finally:
        source.dispose()


class FlakyFront:
    """A real server in front of the API that answers the first requests with 503."""

    def __init__(self, app: ASGIApp, failures: int) -> None:
        self.app = app
        self.failures = failures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.failures > 0:
            self.failures -= 1
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"retry-after", b"0"), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


@pytest.fixture
def flaky_source(loaded_database_url: str) -> Iterator[str]:
    app = FlakyFront(create_app(Settings(database_url=loaded_database_url)), failures=3)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_the_mirror_retries_a_source_that_fails_then_recovers(
    flaky_source: str, tmp_path: Path
) -> None:
    progress = io.StringIO()
    mirror = Mirror(
        flaky_source,
        f"sqlite:///{tmp_path / 'm.sqlite3'}",
        retry=Retry(attempts=5, first_delay=0.01),
        progress=progress,
    )
    try:
        result = mirror.run_once()
    finally:
        mirror.close()
    assert result.mode == "snapshot" and result.applied > 100
    assert progress.getvalue().count("retrying in") == 3


def test_the_mirror_gives_up_clearly_when_the_source_is_unreachable(tmp_path: Path) -> None:
    progress = io.StringIO()
    mirror = Mirror(
        f"http://127.0.0.1:{free_port()}",
        f"sqlite:///{tmp_path / 'm.sqlite3'}",
        retry=Retry(attempts=2, first_delay=0.01),
        progress=progress,
    )
    try:
        with pytest.raises(MirrorError, match="gave up after 2 attempts: network error"):
            mirror.run_once()
    finally:
        mirror.close()
    assert migrate.current_revision(f"sqlite:///{tmp_path / 'm.sqlite3'}") is not None


def test_a_mirror_refuses_another_source(loaded_database_url: str, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    with live_server(loaded_database_url) as base:
        assert mirror_cli(base, target).returncode == 0
        other = mirror_cli(base.replace("127.0.0.1", "localhost"), target)
    assert other.returncode == 1
    assert "a mirror follows one source" in other.stderr


@contextmanager
def large_run_mirror(
    source_url: str,
    target_url: str,
    seeds: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    write_batch: int | None = None,
) -> Iterator[tuple[sa.Engine, str, Mirror]]:
    """A source loaded with `seeds` and served (its engine and base URL), and a mirror of it
    that works as it does on a large run from the first record or change on (preparing in
    other processes; a catch-up reading apart while a thread writes), its snapshot taken. Every
    piece sent to the preparing processes is one record, a page of changes two, and a batch of
    the writer `write_batch` records (default: as the mirror has it)."""
    monkeypatch.setattr(mirror_module, "PREPARE_BATCH", 1)
    if write_batch is not None:
        monkeypatch.setattr(mirror_module, "RecordWriter", partial(RecordWriter, batch=write_batch))
    source = create_engine(source_url)
    try:
        load(source, seeds)
        with live_server(source_url) as base:
            mirror = Mirror(base, target_url, batch=2, prepare_apart_from=0, progress=io.StringIO())
            try:
                assert mirror.run_once().mode == "snapshot"
                yield source, base, mirror
            finally:
                mirror.close()
    finally:
        source.dispose()


def test_a_large_snapshot_and_catch_up_prepared_in_other_processes_equal_the_source(
    source_url: str, target_url: str, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From PREPARE_APART_FROM records or changes on, the mirror parses, maps, hashes, indexes
    and renders them in other processes while it writes (here from the first): the copy is the
    same, its stored documents are the source's, and `scn db check` finds nothing. The pieces
    of several pages are prepared at once, and each is written with its page, in order."""
    with large_run_mirror(source_url, target_url, seeds, monkeypatch) as (source, base, mirror):
        assert local_export(target_url) == served_export(base)
        assert drifts(target_url) == []
        assert stored_documents(target_url) == stored_documents(source_url, published=True)

        edit_record(seeds, "cities.yaml", "viborg", lambda r: r.update(population=3))
        edit_record(seeds, "practices.yaml", "vink", lambda r: r.update(acronym="V"))
        remove_record(seeds, "contact_points.yaml", "mhtconsult-email")
        load(source, seeds)
        caught_up = mirror.run_once()
        assert (caught_up.mode, caught_up.applied) == ("changes", 3)
        assert local_export(target_url) == served_export(base)
    assert drifts(target_url) == []
    assert stored_documents(target_url) == stored_documents(source_url, published=True)


def test_a_record_changed_again_during_a_catch_up_that_reads_apart_is_copied_as_it_ends(
    source_url: str, target_url: str, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large catch-up reads what it holds of each record apart from its transaction, as it
    was before the catch-up, while it writes (each record is listed once up to the first
    page's last change). A record the publisher changes again once the first page is read
    comes back on a later page, after the mirror wrote its first change: from then on, stored
    rows are read in the transaction. Here the practice's themes go from one to another and
    back, batch by batch: read apart, its second version would look unchanged in the themes
    and keep the first one's."""
    before = _themes_in_seeds(seeds, "vink")
    with large_run_mirror(source_url, target_url, seeds, monkeypatch, write_batch=1) as (
        source,
        base,
        mirror,
    ):
        edit_record(seeds, "practices.yaml", "vink", lambda r: r.update(themes=["integration"]))
        edit_record(seeds, "cities.yaml", "viborg", lambda r: r.update(population=3))
        edit_record(seeds, "contact_points.yaml", "mhtconsult-email", _no_practice)
        load(source, seeds)
        first_pages: list[list[str]] = []
        fetch = mirror._get

        def changed_again_after_the_first_page(path: str, params: Any = None) -> Any:
            page = fetch(path, params)
            if path == "/v2/changes" and not first_pages:
                first_pages.append([item["id"] for item in page["data"]])
                edit_record(seeds, "practices.yaml", "vink", lambda r: r.update(themes=before))
                load(source, seeds)
            return page

        monkeypatch.setattr(mirror, "_get", changed_again_after_the_first_page)
        caught_up = mirror.run_once()
        assert "vink" in first_pages[0]
        assert (caught_up.mode, caught_up.applied) == ("changes", 4)
        assert local_export(target_url) == served_export(base)
    assert _themes(target_url, "vink") == before
    assert drifts(target_url) == []
    copied = content_hashes(target_url)  # personal contact points are withheld
    assert copied.items() <= content_hashes(source_url).items()
    # Each change moved the digest from what the copy held of its record at that moment.
    assert held_digest(target_url) == digest_of(
        (entity, record_id, content_hash) for (entity, record_id), content_hash in copied.items()
    )


def test_a_write_that_fails_while_the_next_batch_is_read_fails_the_catch_up_and_keeps_nothing(
    source_url: str, target_url: str, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large catch-up writes each batch in a thread of its own while it reads the next: a
    write that fails there fails the run, and the copy is left as it was (one transaction)."""
    threads: list[str] = []
    with large_run_mirror(source_url, target_url, seeds, monkeypatch, write_batch=1) as (
        source,
        _,
        mirror,
    ):
        before = local_export(target_url)
        edit_record(seeds, "cities.yaml", "viborg", lambda r: r.update(population=3))
        edit_record(seeds, "practices.yaml", "vink", lambda r: r.update(acronym="V"))
        edit_record(seeds, "contact_points.yaml", "mhtconsult-email", _no_practice)
        load(source, seeds)
        forget = search.forget

        def full_disk_at_the_second_batch(connection: Any, removal: Any) -> None:
            threads.append(threading.current_thread().name)
            if len(threads) == 2:
                raise sa.exc.OperationalError("INSERT", None, Exception("disk is full"))
            forget(connection, removal)

        monkeypatch.setattr(search, "forget", full_disk_at_the_second_batch)
        with pytest.raises(sa.exc.OperationalError, match="disk is full"):
            mirror.run_once()
    assert threads[1].startswith("scn-writer")
    assert local_export(target_url) == before
    assert drifts(target_url) == []


@pytest.mark.postgres
def test_a_postgresql_copy_that_sorts_text_by_language_renders_documents_from_itself(
    postgres: PostgresServer, source_url: str, seeds: Path
) -> None:
    """A copy on a database that sorts text by ICU's en-US (`a` before `B`, though its
    `datcollate` says C.UTF-8) is not taken for one that sorts by code point, as the publisher's
    SQLite and a C database do: the mirror renders its documents from the copy once written,
    so they are what the copy's own API would build, and `scn db check` finds nothing."""
    target_url = postgres.create(migrated=False, icu_locale="en-US")
    for url, by_code_point in (
        (target_url, False),
        (postgres.url("postgres"), True),
        (source_url, True),
    ):
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                assert representation.orders_by_code_point(connection) is by_code_point, url
        finally:
            engine.dispose()
    source = create_engine(source_url)
    try:
        load(source, seeds)
        with live_server(source_url) as base:
            assert mirror_cli(base, target_url).returncode == 0
            edit_record(seeds, "practices.yaml", "vink", lambda r: r.update(acronym="V"))
            load(source, seeds)
            assert mirror_cli(base, target_url).returncode == 0
    finally:
        source.dispose()
    assert drifts(target_url) == []
    copied = content_hashes(target_url)  # personal contact points are withheld
    assert copied.items() <= content_hashes(source_url).items()
    assert ("practice", "vink") in copied


def _no_practice(record: dict[str, Any]) -> None:
    del record["practice"]


def _themes_in_seeds(seeds: Path, practice_id: str) -> list[str]:
    (practice,) = [r for r in read_seed_file(seeds, "practices.yaml") if r["id"] == practice_id]
    return sorted(practice["themes"])


def _themes(url: str, practice_id: str) -> list[str]:
    engine = create_engine(url)
    try:
        rows = link_rows(engine, "practice_theme", "practice_id", practice_id)
        return sorted(str(row["theme_id"]) for row in rows)
    finally:
        engine.dispose()


def test_a_first_snapshot_leaves_the_indexes_and_the_journal_as_the_schema_has_them(
    source_url: str, target_url: str, seeds: Path
) -> None:
    """A first snapshot drops the secondary indexes and builds them again at its end (and on
    SQLite writes through a rollback journal): the copy then has every index the migrations
    made, defined as they made it, and a SQLite copy is in WAL mode again for its readers."""
    migrate.upgrade(target_url)
    made_by_migrations = index_definitions(target_url)
    served = first_snapshot(source_url, target_url, seeds)
    assert local_export(target_url) == served
    assert index_definitions(target_url) == made_by_migrations
    assert len(made_by_migrations) > 67  # the secondary ones alone are 67
    if target_url.startswith("sqlite"):
        engine = create_engine(target_url)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        engine.dispose()


def first_snapshot(source_url: str, target_url: str, seeds: Path) -> list[bytes]:
    """Load `seeds` into the source, serve it, and mirror it once into the target (a snapshot);
    returns the export the source served."""
    source = create_engine(source_url)
    try:
        load(source, seeds)
        with live_server(source_url) as base:
            mirror = Mirror(base, target_url, progress=io.StringIO())
            try:
                assert mirror.run_once().mode == "snapshot"
            finally:
                mirror.close()
            return served_export(base)
    finally:
        source.dispose()


def index_definitions(url: str) -> set[tuple[str, str | None]]:
    """Every index of a database, by name, as its catalog defines it."""
    engine = create_engine(url)
    query = (
        "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
        if url.startswith("sqlite")
        else "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
    )
    try:
        with engine.connect() as connection:
            return {(name, sql) for name, sql in connection.exec_driver_sql(query)}
    finally:
        engine.dispose()


def stored_documents(url: str, *, published: bool = False) -> set[tuple[str, str, bytes, bytes]]:
    """Every stored representation (with `published`: of the records a mirror receives)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT r.entity_type, r.entity_id, r.v1, r.v2 FROM representation r "
                    "WHERE NOT EXISTS (SELECT 1 FROM contact_point c WHERE c.is_personal "
                    "AND r.entity_type = 'contact_point' AND c.id = r.entity_id)"
                    if published
                    else "SELECT entity_type, entity_id, v1, v2 FROM representation"
                )
            )
            return {(e, i, codec.unpack(v1), codec.unpack(v2)) for e, i, v1, v2 in rows}
    finally:
        engine.dispose()


def test_a_snapshot_into_postgresql_leaves_the_planner_statistics_of_what_it_wrote(
    source_url: str, postgres: PostgresServer, seeds: Path
) -> None:
    """Without statistics PostgreSQL guesses row counts, and the catch-up after a snapshot
    looked up stored citations by entity type alone: at a million records each lookup read
    445,831 rows. The snapshot gathers them (ANALYZE) before it commits, for every table it
    filled, whether autovacuum runs or not."""
    target = postgres.create(migrated=False)
    first_snapshot(source_url, target, seeds)
    engine = create_engine(target)
    try:
        with engine.connect() as connection:
            filled = {
                name
                for name in [*ENTITIES, "citation", "evidence", "representation", "search_index"]
                if connection.exec_driver_sql(f'SELECT 1 FROM "{name}" LIMIT 1').first()
            }
            with_statistics = set(
                connection.exec_driver_sql(
                    "SELECT DISTINCT tablename FROM pg_stats WHERE schemaname = current_schema()"
                ).scalars()
            )
    finally:
        engine.dispose()
    assert len(filled) > 10
    assert filled <= with_statistics, sorted(filled - with_statistics)


def test_a_catch_up_does_not_scan_the_history_once_the_target_is_analyzed(
    source_url: str, postgres: PostgresServer, seeds: Path
) -> None:
    """After a snapshot the target's history is empty, and PostgreSQL's statistics say so once
    it is ANALYZEd (autovacuum does it on its own). A catch-up that then looked its changes up
    one statement each was planned as a scan of the whole, growing table every time: a
    catch-up of 95,000 changes took 350 s instead of 55. However many changes, the history is
    now scanned once at most."""
    target = postgres.create(migrated=False)
    source = create_engine(source_url)
    try:
        load(source, seeds)
        with live_server(source_url) as base:
            mirror = Mirror(base, target, batch=2, progress=io.StringIO())
            try:
                assert mirror.run_once().mode == "snapshot"
                analyzer = create_engine(target)
                with analyzer.begin() as connection:
                    connection.exec_driver_sql("ANALYZE")
                analyzer.dispose()
                scans = _history_scans(target)
                organisations = read_seed_file(seeds, "organisations.yaml")
                for organisation in organisations:
                    organisation["name"] = f"{organisation['name']} (renamed)"
                write_seed_file(seeds, "organisations.yaml", organisations)
                load(source, seeds)
                caught_up = mirror.run_once()
            finally:
                mirror.close()
            assert (caught_up.mode, caught_up.applied) == ("changes", len(organisations))
            assert local_export(target) == served_export(base)
        assert _history_scans(target) - scans <= 1
    finally:
        source.dispose()


def _history_scans(url: str) -> int:
    """Sequential scans of the `change` table so far (PostgreSQL's statistics), read once every
    other session on the database has ended: a session's counts are flushed as it ends."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            deadline = time.monotonic() + 30
            while _other_sessions(connection):
                assert time.monotonic() < deadline, "another session on the database stays open"
                time.sleep(0.05)
            return int(
                connection.exec_driver_sql(
                    "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'change'"
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _other_sessions(connection: sa.Connection) -> int:
    connection.exec_driver_sql("SELECT pg_stat_clear_snapshot()")  # fresh figures each time
    return int(
        connection.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).scalar_one()
    )
