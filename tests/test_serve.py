"""`scn serve` as a real uvicorn process: the probes a load balancer uses."""

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from app import migrate
from tests.conftest import MINI_SEEDS
from tests.live import serve_process
from tests.test_cli import scn


@contextmanager
def serving(database_url: str) -> Iterator[str]:
    with serve_process(database_url) as (base, _):
        yield base


def test_healthz_and_readyz_with_data_loaded(database_url: str) -> None:
    assert scn("load", str(MINI_SEEDS), database=database_url).returncode == 0
    with serving(database_url) as base:
        health = httpx.get(f"{base}/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200
        assert ready.json() == {
            "status": "ready",
            "schema_revision": migrate.head_revision(),
            "last_seq": 17,
            "role": "primary",
        }


def test_readyz_fails_with_a_problem_until_data_is_loaded(database_url: str) -> None:
    with serving(database_url) as base:
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 503
        assert ready.headers["content-type"] == "application/problem+json"
        assert ready.json()["detail"] == "No data set is loaded. Run `scn load`."
        assert httpx.get(f"{base}/healthz").status_code == 200
        scn("load", str(MINI_SEEDS), database=database_url)
        assert httpx.get(f"{base}/readyz").status_code == 200


def test_readyz_follows_the_schema_revision(empty_database_url: str) -> None:
    with serving(empty_database_url) as base:
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 503
        assert "does not answer, or holds no schema" in ready.json()["detail"]
        scn("db", "upgrade", database=empty_database_url)
        assert "No data set is loaded" in httpx.get(f"{base}/readyz").json()["detail"]
        scn("db", "downgrade", "base", database=empty_database_url)
        detail = httpx.get(f"{base}/readyz").json()["detail"]
        assert detail == (
            f"The database is at schema revision none; this server "
            f"needs {migrate.head_revision()}. Run `scn db upgrade`."
        )


def test_the_server_loads_only_what_serving_needs() -> None:
    """The modules of the loader, the migrations, progress bars and the PostgreSQL driver are
    a good part of a start's time; a server on SQLite needs none of them."""
    import subprocess
    import sys

    heavy = ["app.loader", "app.seed_reader", "alembic", "rich", "psycopg", "app.progress"]
    probe = (
        "import sys, app.cli, app.api.main; from app.settings import Settings; "
        "app.api.main.create_app(Settings(database_url='sqlite:///unused.sqlite3')); "
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"
