"""`scn synth`: a synthetic data set the API serves like loaded seeds, on both engines."""

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.db import create_engine
from app.loader import stored_digest
from app.synth import SynthError, counts, synthesise
from tests.helpers import drifts
from tests.live import client, live_server

RECORDS = 600


@pytest.fixture
def synth_url(database_url: str) -> str:
    engine = create_engine(database_url)
    synthesise(engine, RECORDS, seed=7)
    engine.dispose()
    return database_url


def test_counts_keep_the_real_proportions() -> None:
    made = counts(1_000_000)
    assert sum(made.values()) == 1_000_000
    assert made["organisation"] > made["practice"] > made["theme"] > made["city"]
    assert made["country"] == 676  # two-letter codes run out


def test_the_api_serves_a_synthetic_data_set_consistently(synth_url: str) -> None:
    with live_server(synth_url) as base, client(base) as http:
        meta = http.get("/v1/meta").json()
        assert meta["dataset_version"] == f"synthetic-{RECORDS}-seed7"
        counted = meta["record_counts"]
        assert counted["organisations"] > counted["practices"] > counted["cities"] > 0

        # Export: a header, then every published record once; its digest is the stored one.
        lines = [json.loads(x) for x in http.get("/v1/export").text.splitlines()]
        header, exported = lines[0], lines[1:]
        assert header["last_seq"] == meta["last_seq"] > RECORDS
        assert len(exported) == sum(counted.values())
        by_key = {(r["type"], r["id"]): r for r in exported}
        assert len(by_key) == len(exported)

        # Lists: paging through a filtered collection with the cursor gives its records in order.
        some_org = next(r for r in exported if r["type"] == "organisation")
        country = some_org["country"]["id"]
        seen, url = [], f"/v1/organisations?country={country}&limit=7"
        while url:
            page = http.get(url)
            assert page.status_code == 200
            body = page.json()
            seen += [r["id"] for r in body["data"]]
            url = body["links"]["next"]
        expected = sorted(
            r["id"]
            for r in exported
            if r["type"] == "organisation" and r["country"]["id"] == country
        )
        assert seen == expected

        # Records: each is what the export holds, and every reference it makes resolves.
        practice = next(r for r in exported if r["type"] == "practice" and r["organisations"])
        assert http.get(practice["links"]["self"]).json() == practice
        for org in practice["organisations"]:
            assert http.get(org["href"]).status_code == 200

        # Changes: applying the whole feed gives exactly the exported records.
        copy: dict[tuple[str, str], dict[str, object]] = {}
        since = 0
        while True:
            page = http.get(f"/v1/changes?since={since}&limit=1000").json()
            for change in page["data"]:
                key = (change["type"], change["id"])
                if change["op"] == "upsert":
                    copy[key] = change["record"]
                else:
                    copy.pop(key, None)
            since = page["next_since"]
            if not page["has_more"]:
                break
        assert copy == by_key
        assert any(c["op"] == "delete" for c in http.get("/v1/changes?since=0").json()["data"])

        # Search finds synthetic text.
        hits = http.get("/v1/search?q=mentoring").json()["data"]
        assert hits


def test_synth_stores_every_record_as_the_api_builds_it(synth_url: str) -> None:
    assert drifts(synth_url) == []


def test_the_content_digest_is_the_stored_one(synth_url: str) -> None:
    engine = create_engine(synth_url)
    with engine.connect() as connection:
        state = connection.execute(sa.text("SELECT content_digest FROM dataset_state")).scalar()
        assert state == stored_digest(connection)
    engine.dispose()


def test_a_database_holding_data_is_refused_unless_forced(synth_url: str) -> None:
    engine = create_engine(synth_url)
    with pytest.raises(SynthError, match="already holds a data set"):
        synthesise(engine, RECORDS, seed=8)
    result = synthesise(engine, RECORDS, seed=8, force=True)
    with engine.connect() as connection:
        version = connection.execute(sa.text("SELECT dataset_version FROM dataset_state")).scalar()
    engine.dispose()
    assert version == result.dataset_version == f"synthetic-{RECORDS}-seed8"


def _written(url: str) -> dict[str, object]:
    """What a synthetic data set wrote: its digest, documents, search entries and history."""
    engine = create_engine(url)
    search_table = "search_index_entry" if url.startswith("sqlite") else "search_index"
    try:
        with engine.connect() as connection:

            def rows(sql: str) -> list[tuple[object, ...]]:
                return [tuple(r) for r in connection.execute(sa.text(sql))]

            return {
                "digest": rows(
                    "SELECT dataset_version, content_digest, last_seq FROM dataset_state"
                ),
                "documents": rows(
                    "SELECT entity_type, entity_id, v1, v2, v2_languages FROM representation "
                    "ORDER BY entity_type, entity_id"
                ),
                "search": rows(
                    f"SELECT entity_type, entity_id, name, body, name_terms, body_terms "
                    f"FROM {search_table} ORDER BY entity_type, entity_id"
                ),
                "changes": rows("SELECT seq, entity_type, entity_id, op, version FROM change"),
            }
    finally:
        engine.dispose()


def test_records_prepared_in_other_processes_are_those_made_in_one(synth_url: str) -> None:
    inline = _written(synth_url)
    engine = create_engine(synth_url)
    synthesise(engine, RECORDS, seed=7, force=True, apart_from=0)  # processes from any size
    engine.dispose()
    assert _written(synth_url) == inline
    assert drifts(synth_url) == []


def _journal_mode(path: Path) -> str:
    with closing(sqlite3.connect(path)) as connection:
        return str(connection.execute("PRAGMA journal_mode").fetchone()[0])


@pytest.fixture
def sqlite_path(tmp_path: Path, migrated_sqlite_file: Path) -> Path:
    """An empty SQLite database at head, whichever engine the other tests run on."""
    path = tmp_path / "synth.sqlite3"
    shutil.copy(migrated_sqlite_file, path)
    return path


def test_synth_into_sqlite_goes_through_a_rollback_journal_and_leaves_wal_mode(
    sqlite_path: Path,
) -> None:
    path, url = sqlite_path, f"sqlite:///{sqlite_path}"
    engine = create_engine(url)
    seen: list[tuple[str, bool]] = []

    def watch(connection: sa.Connection, *_: object) -> None:
        # Once data is in, before the commit: the journal is the rollback one, no log grows.
        if not seen:
            mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
            seen.append((str(mode), path.with_name(path.name + "-wal").exists()))

    sa.event.listen(engine, "commit", watch)
    synthesise(engine, RECORDS, seed=7)
    engine.dispose()
    assert seen == [("delete", False)]
    assert _journal_mode(path) == "wal"  # readers and later writers are as before
    assert drifts(url) == []


def test_synth_goes_through_the_log_when_another_connection_has_the_file_open(
    sqlite_path: Path,
) -> None:
    path, url = sqlite_path, f"sqlite:///{sqlite_path}"
    with closing(sqlite3.connect(path)) as reader:
        reader.execute("SELECT count(*) FROM change").fetchone()  # a reader with the file open
        engine = create_engine(url)
        synthesise(engine, RECORDS, seed=7)
        engine.dispose()
        assert reader.execute("SELECT count(*) FROM change").fetchone()[0] > RECORDS
    assert _journal_mode(path) == "wal"
    assert drifts(url) == []
