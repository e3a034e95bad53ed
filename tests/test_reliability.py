"""Reliability and operations: limits, request ids and logs, graceful shutdown, loader faults,
and a soak test with loads running under mixed traffic."""

import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from app.db import create_engine
from app.loader import CRASH_AFTER_ENV, load
from tests.conftest import SEEDS, PostgresServer
from tests.helpers import database_snapshot, edit_record, read_seed_file, write_seed_file
from tests.live import client, live_server, logs_of, serve_process
from tests.test_cli import SCN, scn

# --- limits ---------------------------------------------------------------------------------


def test_limits_are_enforced_with_problems(loaded_database_url: str) -> None:
    with live_server(loaded_database_url) as base, client(base) as http:
        long_url = http.get("/v1/cities?q=" + "a" * 5000)
        assert long_url.status_code == 414
        assert long_url.headers["content-type"] == "application/problem+json"
        many = "&".join(["kind=ministry"] * 51)
        repeated = http.get(f"/v1/organisations?{many}")
        assert repeated.status_code == 400
        assert repeated.json()["errors"][0]["parameter"] == "kind"
        assert "at most 50" in repeated.json()["errors"][0]["message"]
        assert http.get("/v1/organisations?" + "&".join(["kind=ministry"] * 50)).status_code == 200


# --- request ids and logs -------------------------------------------------------------------


def test_request_ids_and_json_logs_without_personal_data(loaded_database_url: str) -> None:
    with serve_process(loaded_database_url) as (base, process):
        given = httpx.get(f"{base}/v1/cities/viborg", headers={"X-Request-ID": "trace-42"})
        assert given.headers["x-request-id"] == "trace-42"
        odd = httpx.get(f"{base}/v1/cities", headers={"X-Request-ID": "not a token!"})
        assert uuid.UUID(odd.headers["x-request-id"])  # replaced by a fresh id
        httpx.get(f"{base}/v1/search", params={"q": "krwa@socialstyrelsen.dk"})
        httpx.get(f"{base}/v1/contact-points/psp-training-contact-email")
        process.terminate()
        process.wait(timeout=30)
        logs = logs_of(process)
    entries = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    requests = [e for e in entries if e.get("message") == "request"]
    (traced,) = [e for e in requests if e["request_id"] == "trace-42"]
    assert traced["path"] == "/v1/cities/viborg" and traced["status"] == 200
    assert traced["method"] == "GET" and traced["duration_ms"] >= 0
    assert all({"time", "level", "logger"} <= set(e) for e in entries)
    assert "krwa" not in logs and "socialstyrelsen" not in logs, "no personal data in logs"


# --- graceful shutdown ----------------------------------------------------------------------


def test_sigterm_lets_requests_in_flight_finish(loaded_database_url: str) -> None:
    with serve_process(loaded_database_url) as (base, process):
        whole = httpx.get(f"{base}/v1/export", headers={"Accept-Encoding": "identity"}).content
        with httpx.stream(
            "GET", f"{base}/v1/export", headers={"Accept-Encoding": "identity"}, timeout=30
        ) as response:
            chunks = response.iter_bytes(chunk_size=1024)
            received = next(chunks)
            process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            for chunk in chunks:
                received += chunk
        # uvicorn finishes the requests in flight, then exits by the signal it was sent.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    assert received == whole
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/healthz", timeout=2)


# --- loader faults --------------------------------------------------------------------------


def test_a_loader_killed_mid_load_leaves_the_previous_data(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(database_url)
    try:
        load(engine, SEEDS)
        before = database_snapshot(engine)
        seeds = tmp_path / "seeds"
        shutil.copytree(SEEDS, seeds)
        for city in ("viborg", "copenhagen", "aarhus"):
            edit_record(seeds, "cities.yaml", city, lambda r: r.update(background="Edited."))
        killed = subprocess.run(
            [SCN, "load", str(seeds)],
            env={**os.environ, "DATABASE_URL": database_url, CRASH_AFTER_ENV: "2"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert killed.returncode == -signal.SIGKILL
        assert database_snapshot(engine) == before
        assert load(engine, seeds).updated == 3
    finally:
        engine.dispose()


def test_a_read_only_sqlite_database_is_a_clear_error(
    migrated_sqlite_file: Path, tmp_path: Path
) -> None:
    path = tmp_path / "db.sqlite3"
    shutil.copy(migrated_sqlite_file, path)
    engine = create_engine(f"sqlite:///{path}")
    load(engine, SEEDS)
    engine.dispose()
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    result = scn("load", str(SEEDS), database=read_only)
    assert result.returncode in (0, 2), result.stderr  # the same data: nothing to write
    seeds_changed = path.parent / "seeds"
    shutil.copytree(SEEDS, seeds_changed)
    edit_record(seeds_changed, "cities.yaml", "viborg", lambda r: r.update(population=1))
    refused = scn("load", str(seeds_changed), database=read_only)
    assert refused.returncode == 2
    assert "readonly database" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.postgres
def test_a_role_that_cannot_write_gets_a_clear_error(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.create(migrated=True)
    role = f"scn_ro_{uuid.uuid4().hex[:8]}"
    database = sa.make_url(url).database
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
            connection.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
            connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {role}")
            connection.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
        reader = sa.make_url(url).set(username=role).render_as_string(hide_password=False)
        result = scn("load", str(SEEDS), database=reader)
        assert result.returncode == 2
        assert "permission denied" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP OWNED BY {role}")
            connection.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()


def test_a_full_disk_is_a_clear_error_and_loses_nothing(tmp_path: Path) -> None:
    from app import migrate

    mount = tmp_path / "small"
    mount.mkdir()
    mounted = subprocess.run(
        # Room for the seeds' database and the WAL of their load (2.1 MB at revision 0009), not
        # for the filler below (each practice's summary is also in its stored documents).
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill: {mounted.stderr.decode().strip()}")
    try:
        url = f"sqlite:///{mount / 'db.sqlite3'}"
        migrate.upgrade(url)
        engine = create_engine(url)
        load(engine, SEEDS)
        before = database_snapshot(engine)
        seeds = tmp_path / "seeds"
        shutil.copytree(SEEDS, seeds)
        practices = read_seed_file(seeds, "practices.yaml")
        for practice in practices:
            practice["summary"] = "Filler. " * 20_000  # ~160 kB each: more than the disk holds
        write_seed_file(seeds, "practices.yaml", practices)
        result = scn("load", str(seeds), database=url)
        assert result.returncode == 2
        assert "disk is full" in result.stderr
        assert "Traceback" not in result.stderr
        assert database_snapshot(engine) == before
        engine.dispose()
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def set_population(seeds: Path, population: int) -> None:
    edit_record(seeds, "cities.yaml", "viborg", lambda r: r.update(population=population))


def test_two_loaders_at_once_never_interleave(database_url: str, tmp_path: Path) -> None:
    variants = []
    for name, population in (("a", 1), ("b", 2)):
        seeds = tmp_path / name
        shutil.copytree(SEEDS, seeds)
        set_population(seeds, population)
        variants.append(seeds)
    processes = [
        subprocess.Popen(
            [SCN, "load", str(seeds)],
            env={**os.environ, "DATABASE_URL": database_url},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seeds in variants
    ]
    for process in processes:
        assert process.wait(timeout=120) == 0, process.stderr.read() if process.stderr else ""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            loads = connection.execute(
                sa.text("SELECT first_seq, last_seq FROM dataset_load ORDER BY id")
            ).all()
            population = connection.execute(
                sa.text("SELECT population FROM city WHERE id = 'viborg'")
            ).scalar_one()
    finally:
        engine.dispose()
    ranges = [(first, last) for first, last in loads if first is not None]
    assert len(ranges) == 2
    (_, last_of_first), (first_of_second, _) = ranges
    assert last_of_first < first_of_second, "the second load's changes all follow the first's"
    assert population in (1, 2)


# --- soak -------------------------------------------------------------------------------------


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.slow
def test_soak_mixed_traffic_while_loads_cycle(loaded_database_url: str, tmp_path: Path) -> None:
    """Thousands of requests while `scn load` switches between two data versions: no 5xx, no
    page mixing the versions, and the server's memory stays flat."""
    marked = tmp_path / "marked"
    shutil.copytree(SEEDS, marked)
    practices = read_seed_file(marked, "practices.yaml")
    for practice in practices:
        practice["summary"] = (practice.get("summary") or "") + " [B]"
    write_seed_file(marked, "practices.yaml", practices)

    urls = [
        "/v1/practices?limit=7",
        "/v1/practices",
        "/v1/practices/cocora",
        "/v1/cities/viborg",
        "/v1/organisations?kind=ministry&kind=agency",
        "/v1/search?q=prevention",
        "/v1/changes?since=0&limit=50",
        "/v1/meta",
        "/v1/export?type=practice",
    ]
    failures: list[str] = []
    counted = {"requests": 0}
    stop = threading.Event()

    def traffic(base: str, offset: int) -> None:
        try:
            mixed_requests(base, offset)
        except Exception as exc:  # a failure in a thread must fail the test
            failures.append(f"client thread: {exc!r}")

    def mixed_requests(base: str, offset: int) -> None:
        with client(base) as http:
            i = offset
            while not stop.is_set():
                url = urls[i % len(urls)]
                i += 1
                response = http.get(url)
                counted["requests"] += 1
                if response.status_code >= 500:
                    failures.append(f"{url}: {response.status_code} {response.text[:200]}")
                elif url == "/v1/practices" or url.startswith("/v1/practices?"):
                    body = response.json()
                    summaries = {"[B]" in (p["summary"] or "") for p in body["data"]}
                    if len(summaries) > 1:
                        failures.append(f"{url}: a page mixes two data versions")
                elif url.startswith("/v1/export"):
                    lines = response.content.splitlines()[1:]
                    if len({b"[B]" in line for line in lines}) > 1:
                        failures.append(f"{url}: an export mixes two data versions")

    with serve_process(loaded_database_url) as (base, process):
        workers = [threading.Thread(target=traffic, args=(base, n)) for n in range(4)]
        for worker in workers:
            worker.start()
        # Warm up under the same concurrency first (thread pool, connection pool, caches):
        # memory is measured from there, so growth means a leak, not a first use.
        engine = create_engine(loaded_database_url)
        for cycle in range(2):
            load(engine, marked if cycle % 2 == 0 else SEEDS)
        while counted["requests"] < 600 and not failures:
            time.sleep(0.05)
        rss_before = _rss_kb(process.pid)
        counted["requests"] = 0
        try:
            cycle = 0
            while cycle < 12 or counted["requests"] < 2000:
                load(engine, marked if cycle % 2 == 0 else SEEDS)
                cycle += 1
                time.sleep(0.3)
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=60)
            engine.dispose()
        rss_after = _rss_kb(process.pid)
    assert not failures, failures[:5]
    assert counted["requests"] >= 2000
    print(f"soak: {counted['requests']} requests, RSS {rss_before} kB -> {rss_after} kB")
    assert rss_after - rss_before < 30_000, f"RSS grew from {rss_before} kB to {rss_after} kB"


# --- bounded work ---------------------------------------------------------------------------


def test_database_work_past_the_request_timeout_is_stopped_with_a_503(
    loaded_database_url: str,
) -> None:
    """SQLite: a tiny REQUEST_TIMEOUT stops any real query. PostgreSQL: a query that waits on a
    lock another session holds is stopped by statement_timeout."""
    if loaded_database_url.startswith("sqlite"):
        with live_server(loaded_database_url, request_timeout=1e-6) as base, client(base) as http:
            # The change feed: its compaction reads every change (a real query, many steps).
            response = http.get("/v1/changes?since=0&limit=1000")
        assert response.status_code == 503
        assert "was stopped" in response.json()["detail"]
        assert response.headers["retry-after"]
        return
    blocker = create_engine(loaded_database_url)
    try:
        with blocker.connect() as connection, connection.begin():
            connection.exec_driver_sql("LOCK TABLE organisation IN ACCESS EXCLUSIVE MODE")
            with (
                live_server(loaded_database_url, request_timeout=0.5) as base,
                client(base) as http,
            ):
                started = time.monotonic()
                response = http.get("/v1/organisations")
                waited = time.monotonic() - started
                assert http.get("/v1/cities").status_code == 200, "other tables still answer"
        assert response.status_code == 503
        assert "more than 0.5 s" in response.json()["detail"]
        assert waited < 5, "the statement was stopped, not left hanging"
    finally:
        blocker.dispose()
