"""Revision 0004 (texts in several languages) on real data, both ways, on both engines.

The starting point is the database revision 0003 left with the frozen v1 seeds loaded by the code
of that time (tests/fixtures/schema-0003-golden.sql). After the upgrade, API v1 must answer as
recorded before v2 existed (tests/golden/v1.json); after a downgrade, every row must be what it
was.
"""

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from app import migrate
from app.db import create_engine
from app.loader import load
from tests.conftest import SEEDS, PostgresServer
from tests.golden_v1 import GOLDEN_FILE, exchange
from tests.helpers import drifts
from tests.live import client, live_server

FIXTURE = Path(__file__).parent / "fixtures" / "schema-0003-golden.sql"
GOLDEN = json.loads(GOLDEN_FILE.read_text())
SKIPPED = {"alembic_version", "search_index"}


def _restore_sqlite(path: Path) -> str:
    connection = sqlite3.connect(path)
    connection.executescript(FIXTURE.read_text(encoding="utf-8"))
    connection.close()
    return f"sqlite:///{path}"


def _restore_postgresql(server: PostgresServer, tmp_path: Path) -> str:
    """Revision 0003 migrated on PostgreSQL, then every row of the fixture copied in."""
    url = server.create(migrated=False)
    migrate.upgrade(url, "0003")
    source = sa.create_engine(_restore_sqlite(tmp_path / "fixture.sqlite3"))
    target = create_engine(url)
    source_tables = sa.MetaData()
    source_tables.reflect(source)
    target_tables = sa.MetaData()
    target_tables.reflect(target)
    with source.connect() as reading, target.begin() as writing:
        writing.exec_driver_sql("SET TIME ZONE 'UTC'")
        writing.exec_driver_sql("SET CONSTRAINTS ALL DEFERRED")
        for name, table in target_tables.tables.items():
            if name == "alembic_version":
                continue
            if name == "search_index":
                rows = reading.exec_driver_sql(
                    "SELECT entity_type, entity_id, name, body FROM search_index"
                ).mappings()
            else:
                rows = reading.execute(sa.select(source_tables.tables[name])).mappings()
            batch = [dict(r) for r in rows]
            if batch:
                writing.execute(table.insert(), batch)
        # Rows came with their ids: move each id sequence past them, as the loader would have.
        for name, table in target_tables.tables.items():
            for column in table.primary_key.columns:
                if isinstance(column.type, sa.Integer):
                    writing.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{name}', '{column.name}'), "
                        f"COALESCE((SELECT max({column.name}) FROM {name}), 1)) "
                        f"WHERE pg_get_serial_sequence('{name}', '{column.name}') IS NOT NULL"
                    )
    source.dispose()
    target.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def at_0003(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return _restore_sqlite(tmp_path / "at-0003.sqlite3")
    return _restore_postgresql(request.getfixturevalue("postgres"), tmp_path)


def _rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row by column name (a downgrade may put a column back at the end)."""
    engine = create_engine(url)
    tables = sa.MetaData()
    tables.reflect(engine)
    out = {}
    with engine.connect() as connection:
        for name, table in sorted(tables.tables.items()):
            if name in SKIPPED or name.startswith("search_index"):
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            query = sa.select(table).order_by(*order)
            out[name] = [dict(row) for row in connection.execute(query).mappings()]
    engine.dispose()
    return out


@pytest.fixture
def served(at_0003: str) -> Iterator[tuple[str, httpx.Client]]:
    migrate.upgrade(at_0003)
    with live_server(at_0003) as base, client(base) as http:
        yield at_0003, http


def test_after_the_upgrade_v1_answers_as_recorded(served: tuple[str, httpx.Client]) -> None:
    url, http = served
    engine_name = "postgresql" if url.startswith("postgresql") else "sqlite"
    different = []
    for golden in GOLDEN:
        golden = golden.get(engine_name, golden)
        now = exchange(http, golden["request"])
        if (now["status"], now["body"]) != (golden["status"], golden["body"]):
            different.append(golden["request"]["path"])
    assert not different, f"v1 answers differently after the upgrade: {different}"


def test_after_the_upgrade_v2_shows_every_text_as_a_language_map(
    served: tuple[str, httpx.Client],
) -> None:
    _, http = served
    theme = http.get("/v2/themes/support-hotline").json()
    assert theme["label"] == {"fr": "Hotline de soutien"}
    assert "label_language" not in theme
    pet = http.get("/v2/organisations/pet").json()
    assert pet["name"] == {"en": "Danish Security and Intelligence Service"}
    assert pet["mission"] == {}
    viborg = http.get("/v2/cities/viborg").json()
    assert list(viborg["tenets"]) == ["en"] and len(viborg["tenets"]["en"]) == 4


def test_the_upgrade_stores_every_record_as_the_api_builds_it(at_0003: str) -> None:
    migrate.upgrade(at_0003)
    assert drifts(at_0003) == []


def test_downgrade_gives_back_every_row(at_0003: str) -> None:
    before = _rows(at_0003)
    migrate.upgrade(at_0003)
    migrate.downgrade(at_0003, "0003")
    assert migrate.current_revision(at_0003) == "0003"
    after = _rows(at_0003)
    assert after.keys() == before.keys()
    for name in before:
        assert after[name] == before[name], name


def test_downgrade_after_a_multilingual_load_keeps_the_text_v1_shows(at_0003: str) -> None:
    """The old schema has one text per field: it keeps the one v1 showed (English, else French,
    else Danish); the other languages go, as docs/OPERATIONS.md warns."""
    migrate.upgrade(at_0003)
    engine = create_engine(at_0003)
    load(engine, SEEDS)
    engine.dispose()
    migrate.downgrade(at_0003, "0003")
    engine = create_engine(at_0003)
    with engine.connect() as connection:

        def value(sql: str) -> Any:
            return connection.exec_driver_sql(sql).scalar_one()

        prison = "SELECT name FROM organisation WHERE id = 'danish-prison-and-probation-service'"
        assert value(prison) == "Danish Prison and Probation Service"
        assert value("SELECT name FROM country WHERE id = 'dk'") == "Denmark"
        hotline = "SELECT label || '/' || label_language FROM theme WHERE id = 'support-hotline'"
        assert value(hotline) == "Hotline de soutien/fr"
        scn = "SELECT description FROM organisation WHERE id = 'strong-cities-network'"
        assert value(scn).startswith("Le Strong Cities Network s'adresse")
        tenets = value("SELECT tenets FROM city WHERE id = 'viborg'")
        assert (json.loads(tenets) if isinstance(tenets, str) else tenets)[
            0
        ] == "strong communities"
    engine.dispose()
