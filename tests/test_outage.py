"""Database outages and least privilege, against the real app in uvicorn.

While its database is down, missing or unreadable, the API answers every data request with a
503 problem and Retry-After, within a second; /readyz says not ready, /healthz stays up. When the
database comes back, the same API process serves again, without a restart. The API needs no
more than read access: it runs as a role that may only connect and SELECT, and it never writes
to (or creates) a SQLite file.
"""

import asyncio
import hashlib
import logging
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import StreamingResponse

from app import migrate
from app.api.caching import streamed
from app.api.collections import COLLECTION_LIST
from app.db import create_engine, read_transaction
from app.loader import load
from tests.conftest import SEEDS, PostgresServer
from tests.live import client, live_server
from tests.private_postgres import private_postgres

DATA_ENDPOINTS = [
    "/v1/cities",
    "/v1/cities/viborg",
    "/v1/search?q=ssp",
    "/v1/meta",
    "/v1/changes",
    "/v1/export",
]
# The project's requirement is "answer a 503 problem with Retry-After within a second". The
# assertion allows 1.5 s so that a busy CI machine does not fail it; a database client that
# waits for a connect timeout (3 s and more) still does. This is a bound, not a benchmark.
ANSWER_WITHIN_S = 1.5
RECOVERY_WITHIN_S = 10.0


def timed_get(http: httpx.Client, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = http.get(path)
    return response, time.monotonic() - started


def assert_unavailable(http: httpx.Client, path: str) -> None:
    """`path` answers a 503 problem with Retry-After, quickly, and shows no internals."""
    response, elapsed = timed_get(http, path)
    assert response.status_code == 503, f"{path}: {response.status_code} {response.text[:500]}"
    assert response.headers["content-type"].startswith("application/problem+json"), path
    assert response.headers.get("retry-after", "").isdigit(), f"{path}: {response.headers}"
    body = response.json()
    assert body["status"] == 503
    assert "Traceback" not in response.text and "sqlalchemy" not in response.text.lower(), (
        f"{path} shows internals: {response.text[:500]}"
    )
    assert elapsed < ANSWER_WITHIN_S, f"{path} took {elapsed:.2f} s to answer 503"


def assert_outage(http: httpx.Client) -> None:
    """Every data endpoint and /readyz say 503; the process itself is healthy."""
    for path in DATA_ENDPOINTS:
        assert_unavailable(http, path)
    assert_unavailable(http, "/readyz")
    health = http.get("/healthz")
    assert health.status_code == 200, health.text
    assert health.json() == {"status": "ok"}


def assert_serving(http: httpx.Client) -> None:
    for path in [*DATA_ENDPOINTS, "/readyz"]:
        response = http.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:500]}"


def wait_until_ok(http: httpx.Client, path: str, within: float = RECOVERY_WITHIN_S) -> None:
    """Poll `path` until it answers 200; fail with the last answer after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        response = http.get(path)
        if response.status_code == 200:
            return
        if time.monotonic() > deadline:
            pytest.fail(
                f"{path} did not recover within {within:g} s: "
                f"{response.status_code} {response.text[:500]}"
            )
        time.sleep(0.2)


def load_seeds(url: str) -> None:
    engine = create_engine(url)
    try:
        load(engine, SEEDS)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def loaded_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("outage") / "loaded.sqlite3"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    load_seeds(url)
    return path


@pytest.fixture
def loaded_sqlite(loaded_sqlite_template: Path, tmp_path: Path) -> Path:
    """A loaded SQLite file of this test's own."""
    path = tmp_path / "scn.sqlite3"
    shutil.copy(loaded_sqlite_template, path)
    return path


# --- PostgreSQL stops and comes back -----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.slow
def test_postgresql_outage_is_503_fast_and_the_api_recovers_without_restart() -> None:
    with private_postgres() as pg:
        migrate.upgrade(pg.url)
        load_seeds(pg.url)
        with live_server(pg.url) as base, client(base) as http:
            assert_serving(http)

            pg.stop()
            assert_outage(http)
            assert_outage(http)  # and again: no answer is cached, no worker is stuck

            pg.start()
            wait_until_ok(http, "/v1/cities")
            wait_until_ok(http, "/readyz")
            assert_serving(http)


@pytest.mark.postgres
def test_a_streamed_body_ends_whole_when_its_connection_is_dropped_after_the_last_row(
    postgres: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    """An export's rows were all read and sent when the server dropped the connection (a
    restart, a failover): the body still ends, whole, and the pool serves the next request."""
    engine = create_engine(postgres.create(migrated=False), read_only=True)
    connection = read_transaction(engine)
    backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()

    def lines() -> Iterator[bytes]:
        for n in connection.exec_driver_sql("SELECT generate_series(1, 3)").scalars():
            yield f"{n}\n".encode()
        with postgres.admin.connect() as admin:  # waits until the backend is gone
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({backend}, 10000)")

    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
    response = streamed(
        request,
        connection,
        lines(),
        identity="x",
        last_modified=None,
        max_age=0,
        media_type="text/plain",
    )

    assert isinstance(response, StreamingResponse)

    async def body() -> bytes:
        pieces = []
        async for piece in response.body_iterator:
            assert isinstance(piece, bytes)
            pieces.append(piece)
        return b"".join(pieces)

    with caplog.at_level(logging.WARNING, logger="app.db"):
        assert asyncio.run(body()) == b"1\n2\n3\n"
    assert "already gone" in caplog.text
    with engine.connect() as again:
        assert again.exec_driver_sql("SELECT 1").scalar_one() == 1
    engine.dispose()


# --- SQLite file missing, then created ---------------------------------------------------------


def test_missing_sqlite_file_is_503_is_not_created_and_the_api_recovers(tmp_path: Path) -> None:
    path = tmp_path / "scn.sqlite3"
    url = f"sqlite:///{path}"
    with live_server(url) as base, client(base) as http:
        assert_outage(http)
        assert sorted(p.name for p in tmp_path.iterdir()) == [], "the API created files"
        assert not path.exists()

        migrate.upgrade(url)
        load_seeds(url)
        wait_until_ok(http, "/v1/cities")
        wait_until_ok(http, "/readyz")
        assert_serving(http)


# --- SQLite file unreadable (not a database), then restored ------------------------------------

NOT_A_DATABASE = b"not a database" * 100


def corrupt(path: Path) -> None:
    # The tests run as root, whom chmod 000 does not stop: make the file unreadable as a
    # database instead, by replacing its content.
    path.write_bytes(NOT_A_DATABASE)


def test_sqlite_file_that_is_not_a_database_is_503_on_every_data_endpoint(
    loaded_sqlite: Path,
) -> None:
    with live_server(f"sqlite:///{loaded_sqlite}") as base, client(base) as http:
        assert_serving(http)
        corrupt(loaded_sqlite)
        assert_outage(http)


def test_sqlite_file_that_is_not_a_database_is_not_ready_hides_internals_and_recovers(
    loaded_sqlite: Path,
) -> None:
    good = loaded_sqlite.read_bytes()
    with live_server(f"sqlite:///{loaded_sqlite}") as base, client(base) as http:
        assert_serving(http)

        corrupt(loaded_sqlite)
        assert_unavailable(http, "/readyz")
        assert http.get("/healthz").status_code == 200
        for path in DATA_ENDPOINTS:
            # A connection per request: after an unexpected error uvicorn closes the
            # connection, and the next request on it would fail instead of being answered.
            with client(base) as fresh:
                response = fresh.get(path)
            assert response.status_code >= 500, f"{path} served {response.status_code}"
            assert response.headers["content-type"].startswith("application/problem+json")
            for internal in ("Traceback", "sqlite3", "malformed", "SELECT"):
                assert internal not in response.text, f"{path} shows internals: {response.text}"

        loaded_sqlite.write_bytes(good)
        wait_until_ok(http, "/v1/cities")
        wait_until_ok(http, "/readyz")
        assert_serving(http)


# --- least privilege: a role that may only read ------------------------------------------------


@pytest.fixture
def reader_url(postgres: PostgresServer) -> Iterator[tuple[str, str]]:
    """(owner URL, reader URL): a loaded database, and a role with CONNECT, USAGE on schema
    public and SELECT on its tables, nothing more (not even what PUBLIC gets by default)."""
    owner_url = postgres.create(migrated=True)
    load_seeds(owner_url)
    database = sa.make_url(owner_url).database
    role = f"scn_reader_{uuid.uuid4().hex[:12]}"
    password = uuid.uuid4().hex
    reader = (
        sa.make_url(owner_url)
        .set(username=role, password=password)
        .render_as_string(hide_password=False)
    )
    owner = sa.create_engine(owner_url, isolation_level="AUTOCOMMIT")
    with postgres.admin.connect() as admin:
        admin.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        with owner.connect() as connection:
            for statement in [
                f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC',
                "REVOKE ALL ON SCHEMA public FROM PUBLIC",
                f'GRANT CONNECT ON DATABASE "{database}" TO {role}',
                f"GRANT USAGE ON SCHEMA public TO {role}",
                f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
            ]:
                connection.exec_driver_sql(statement)
        yield owner_url, reader
    finally:
        with owner.connect() as connection:
            connection.exec_driver_sql(f"DROP OWNED BY {role}")  # its grants, here and on the db
        owner.dispose()
        with postgres.admin.connect() as admin:
            admin.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")


@pytest.mark.postgres
def test_the_api_needs_only_connect_and_select(reader_url: tuple[str, str]) -> None:
    owner_url, url = reader_url
    role = sa.make_url(url).username
    database = sa.make_url(url).database

    # The role really is read-only: it holds no other privilege and cannot write.
    owner = sa.create_engine(owner_url)
    with owner.connect() as connection:
        extra = connection.execute(
            sa.text(
                "SELECT has_database_privilege(:role, :db, 'CREATE'),"
                " has_database_privilege(:role, :db, 'TEMP'),"
                " has_schema_privilege(:role, 'public', 'CREATE'),"
                " (SELECT count(*) FROM information_schema.role_table_grants"
                "  WHERE grantee = :role AND privilege_type <> 'SELECT')"
            ),
            {"role": role, "db": database},
        ).one()
    owner.dispose()
    assert tuple(extra) == (False, False, False, 0)
    reader = sa.create_engine(url)  # a plain engine: not the API's read-only transactions
    try:
        with pytest.raises(sa.exc.ProgrammingError) as refused, reader.begin() as connection:
            connection.exec_driver_sql("INSERT INTO alembic_version (version_num) VALUES ('x')")
        assert getattr(refused.value.orig, "sqlstate", None) == "42501", refused.value  # denied
    finally:
        reader.dispose()

    with live_server(url) as base, client(base) as http:
        paths = [
            *(f"/v1/{c.path}" for c in COLLECTION_LIST),
            "/v1/cities/viborg",
            "/v1/search?q=ssp",
            "/v1/changes",
            "/v1/export",
            "/v1/meta",
            "/readyz",
        ]
        for path in paths:
            response = http.get(path)
            assert response.status_code == 200, (
                f"{path}: {response.status_code} {response.text[:500]}"
            )
        assert http.get("/v1/export").text.count("\n") > 100


# --- SQLite is opened read-only ----------------------------------------------------------------


def test_serving_leaves_the_sqlite_file_untouched(loaded_sqlite: Path) -> None:
    def fingerprint() -> tuple[int, int, str]:
        stat = loaded_sqlite.stat()
        digest = hashlib.sha256(loaded_sqlite.read_bytes()).hexdigest()
        return stat.st_mtime_ns, stat.st_size, digest

    before = fingerprint()
    time.sleep(0.05)  # a write now would show as a later modification time
    with live_server(f"sqlite:///{loaded_sqlite}") as base, client(base) as http:
        paths = [
            *(f"/v1/{c.path}" for c in COLLECTION_LIST),
            *DATA_ENDPOINTS,
            "/v1/practices?city=viborg",
            "/readyz",
        ]
        for path in paths:
            response = http.get(path)
            assert response.status_code == 200, f"{path}: {response.status_code}"
    assert fingerprint() == before, "serving requests changed the SQLite file"
