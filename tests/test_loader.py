"""The loader on both engines: first load, idempotence, exact change log, tombstones, locking."""

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.loader import ADVISORY_LOCK_KEY, LoadError, load
from app.models import DatasetLoad, DatasetState
from tests.conftest import MINI_SEEDS as MINI
from tests.helpers import count, database_snapshot, edit_record, remove_record


def changes(engine: sa.Engine) -> list[tuple[int, str, str, str, int]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT seq, entity_type, entity_id, op, version FROM change ORDER BY seq")
        ).all()
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def test_first_load_creates_every_record_and_logs_each_once(
    engine: sa.Engine, mini_copy: Path
) -> None:
    result = load(engine, mini_copy)
    assert (result.created, result.updated, result.deleted) == (17, 0, 0)
    log = changes(engine)
    assert [seq for seq, *_ in log] == list(range(1, 18))
    assert {op for *_, op, _ in log} == {"upsert"}
    assert {version for *_, version in log} == {1}
    assert len({(entity, rid) for _, entity, rid, *_ in log}) == 17
    assert count(engine, "practice") == 3
    assert count(engine, "citation") == 16
    assert count(engine, "city_leader", person_name="Ulrik Wilbek") == 1


def test_load_records_the_data_set_version_and_time(engine: sa.Engine, mini_copy: Path) -> None:
    moment = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    load(engine, mini_copy, now=moment)
    with engine.connect() as connection:
        state = connection.execute(sa.select(DatasetState)).mappings().one()
        runs = connection.execute(sa.select(DatasetLoad)).mappings().all()
    assert state["dataset_version"] == "0.1.0"
    assert state["last_seq"] == 17
    assert state["loaded_at"] == moment
    assert len(runs) == 1
    assert (runs[0]["first_seq"], runs[0]["last_seq"], runs[0]["created"]) == (1, 17, 17)


def test_same_seeds_twice_change_nothing(engine: sa.Engine, mini_copy: Path) -> None:
    load(engine, mini_copy)
    before = database_snapshot(engine)
    result = load(engine, mini_copy)
    assert not result.changed
    assert database_snapshot(engine) == before


def test_one_edited_record_gives_exactly_one_change(engine: sa.Engine, mini_copy: Path) -> None:
    load(engine, mini_copy)
    edit_record(mini_copy, "cities.yaml", "viborg", lambda r: r.update(population=96501))
    result = load(engine, mini_copy)
    assert (result.created, result.updated, result.deleted) == (0, 1, 0)
    assert changes(engine)[17:] == [(18, "city", "viborg", "upsert", 2)]
    with engine.connect() as connection:
        row = connection.execute(sa.text("SELECT population, version FROM city")).one()
    assert tuple(row) == (96501, 2)


def test_a_changed_relationship_changes_its_owner_only(engine: sa.Engine, mini_copy: Path) -> None:
    load(engine, mini_copy)

    def new_partner(record: dict[str, object]) -> None:
        record["organisations"] = [{"organisation": "ministry-of-justice", "role": "lead"}]

    edit_record(mini_copy, "practices.yaml", "viborg-hotline", new_partner)
    load(engine, mini_copy)
    assert changes(engine)[17:] == [(18, "practice", "viborg-hotline", "upsert", 2)]
    assert count(engine, "practice_organisation", practice_id="viborg-hotline") == 1
    assert count(engine, "practice_organisation", organisation_id="ministry-of-justice") == 1


def test_reordering_a_set_is_not_a_change(engine: sa.Engine, mini_copy: Path) -> None:
    load(engine, mini_copy)
    edit_record(mini_copy, "countries.yaml", "dk", lambda r: r["sources"].reverse())
    assert not load(engine, mini_copy).changed


def test_a_removed_record_leaves_a_tombstone(engine: sa.Engine, mini_copy: Path) -> None:
    load(engine, mini_copy)
    remove_record(mini_copy, "contact_points.yaml", "pet-person-email")
    result = load(engine, mini_copy)
    assert (result.created, result.updated, result.deleted) == (0, 0, 1)
    assert changes(engine)[17:] == [(18, "contact_point", "pet-person-email", "delete", 2)]
    assert count(engine, "contact_point", id="pet-person-email") == 0
    assert count(engine, "citation", entity_id="pet-person-email") == 0


def test_a_record_back_after_deletion_continues_its_versions(
    engine: sa.Engine, mini_copy: Path
) -> None:
    load(engine, mini_copy)
    saved = (mini_copy / "contact_points.yaml").read_text(encoding="utf-8")
    remove_record(mini_copy, "contact_points.yaml", "pet-person-email")
    load(engine, mini_copy)
    (mini_copy / "contact_points.yaml").write_text(saved, encoding="utf-8")
    load(engine, mini_copy)
    assert changes(engine)[17:] == [
        (18, "contact_point", "pet-person-email", "delete", 2),
        (19, "contact_point", "pet-person-email", "upsert", 3),
    ]


def test_removing_a_parent_with_its_children_deletes_both(
    engine: sa.Engine, mini_copy: Path
) -> None:
    load(engine, mini_copy)
    remove_record(mini_copy, "practices.yaml", "viborg-hotline-training")
    remove_record(mini_copy, "practices.yaml", "viborg-hotline")
    result = load(engine, mini_copy)
    assert result.deleted == 2
    assert count(engine, "practice") == 1
    assert count(engine, "practice_theme") == 0


def test_load_refuses_a_database_that_is_not_migrated(empty_database_url: str) -> None:
    from app.db import create_engine

    engine = create_engine(empty_database_url)
    try:
        with pytest.raises(LoadError, match="scn db upgrade"):
            load(engine, MINI)
    finally:
        engine.dispose()


def test_a_second_loader_waits_for_the_first(engine: sa.Engine, mini_copy: Path) -> None:
    """While another writer holds the load lock, a load waits, then runs after it."""
    holding = threading.Event()
    release = threading.Event()

    def hold_lock() -> None:
        with _lock_holder(engine) as connection:
            holding.set()
            release.wait(10)
            connection.rollback()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    assert holding.wait(10)
    waited: list[bool] = []
    threading.Timer(0.5, release.set).start()
    started = time.monotonic()
    result = load(engine, mini_copy, lock_timeout=10, on_wait=lambda: waited.append(True))
    holder.join()
    assert waited == [True]
    assert time.monotonic() - started >= 0.4
    assert result.created == 17


def test_a_second_loader_gives_up_clearly_and_writes_nothing(
    engine: sa.Engine, mini_copy: Path
) -> None:
    load(engine, mini_copy)
    edit_record(mini_copy, "cities.yaml", "viborg", lambda r: r.update(population=1))
    before = database_snapshot(engine)
    with _lock_holder(engine) as connection:
        with pytest.raises(LoadError, match="another load is still running"):
            load(engine, mini_copy, lock_timeout=0.3)
        connection.rollback()
    assert database_snapshot(engine) == before


class _lock_holder:
    """Hold the loader's lock from another connection, as a concurrent `scn load` would."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def __enter__(self) -> sa.Connection:
        self.connection = self.engine.connect()
        if self.engine.dialect.name == "sqlite":
            self.connection = self.connection.execution_options(sqlite_begin="IMMEDIATE")
            self.connection.begin()
        else:
            self.connection.begin()
            self.connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
        return self.connection

    def __exit__(self, *exc: object) -> None:
        self.connection.close()
