"""Shared fixtures: a migrated, empty database on each engine, and a copy of the seeds to edit.

PostgreSQL tests use a server at TEST_POSTGRES_URL (default: the local trust-auth server) and a
database of their own per test, cloned from a migrated template. Where the server cannot be
reached they skip with the reason, except under CI=true, where they fail.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import migrate
from app.db import create_engine
from app.settings import PROJECT_ROOT

SEEDS = PROJECT_ROOT / "seeds"
MINI_SEEDS = PROJECT_ROOT / "tests" / "fixtures" / "mini-seeds"
ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# A run that leaves a stray file in the checkout fails (tests/stray_files.py).
pytest_plugins = ["tests.stray_files"]


def _postgres_unavailable() -> str | None:
    engine = sa.create_engine(ADMIN_URL)
    try:
        with engine.connect():
            return None
    except sa.exc.OperationalError as exc:
        return f"PostgreSQL at {ADMIN_URL} is unreachable: {str(exc.orig).strip()[:200]}"
    finally:
        engine.dispose()


class PostgresServer:
    """Creates and drops the per-test databases on the test server."""

    def __init__(self) -> None:
        self.admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.template: str | None = None
        self.created: list[str] = []

    def url(self, name: str) -> str:
        return sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def create(self, *, migrated: bool, icu_locale: str | None = None) -> str:
        """A new database: migrated (from a template), or empty; `icu_locale`: empty, sorting
        text by that ICU locale (its libc locale still C.UTF-8)."""
        name = f"scn_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            if icu_locale is not None:
                connection.exec_driver_sql(
                    f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
                    f"ICU_LOCALE '{icu_locale}' LOCALE 'C.UTF-8'"
                )
            elif migrated:
                template = self._migrated_template()
                connection.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            else:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.url(name)

    def _migrated_template(self) -> str:
        if self.template is None:
            name = f"scn_template_{uuid.uuid4().hex[:12]}"
            with self.admin.connect() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
            self.created.append(name)
            migrate.upgrade(self.url(name))
            self.template = name
        return self.template

    def drop(self, name_or_url: str) -> None:
        name = sa.make_url(name_or_url).database if "://" in name_or_url else name_or_url
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        for name in reversed(self.created):
            self.drop(name)
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    reason = _postgres_unavailable()
    if reason:
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: PostgreSQL tests may not skip)")
        pytest.skip(reason)
    server = PostgresServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "migrated.sqlite3"
    migrate.upgrade(f"sqlite:///{path}")
    return path


ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_database_url(engine_name: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no tables at all."""
    if engine_name == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create(migrated=False)


@pytest.fixture
def database_url(engine_name: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database migrated to head, with no data loaded."""
    if engine_name == "sqlite":
        path = tmp_path / "db.sqlite3"
        shutil.copy(request.getfixturevalue("migrated_sqlite_file"), path)
        return f"sqlite:///{path}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create(migrated=True)


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    """A copy of seeds/ that a test may edit."""
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture
def mini_copy(tmp_path: Path) -> Path:
    """A copy of the loader's small test data set (tests/fixtures/mini-seeds) to edit."""
    target = tmp_path / "mini-seeds"
    shutil.copytree(MINI_SEEDS, target)
    return target


@pytest.fixture
def loaded_database_url(database_url: str) -> str:
    """A database migrated to head with seeds/ loaded."""
    from app.loader import load

    engine = create_engine(database_url)
    load(engine, SEEDS)
    engine.dispose()
    return database_url


@pytest.fixture(scope="module", params=ENGINES)
def loaded_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database with seeds/ loaded, shared by one test module (for read-only HTTP tests)."""
    from app.loader import load

    if request.param == "sqlite":
        template = request.getfixturevalue("migrated_sqlite_file")
        path = tmp_path_factory.mktemp("loaded") / "loaded.sqlite3"
        shutil.copy(template, path)
        url = f"sqlite:///{path}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create(migrated=True)
    engine = create_engine(url)
    load(engine, SEEDS)
    engine.dispose()
    return url


@pytest.fixture
def source_url(tmp_path: Path, migrated_sqlite_file: Path) -> str:
    """A publisher's database for `scn mirror` tests: migrated SQLite, nothing loaded."""
    path = tmp_path / "source.sqlite3"
    shutil.copy(migrated_sqlite_file, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=ENGINES)
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each engine: the mirror migrates it on its first run."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mirror.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create(migrated=False)
