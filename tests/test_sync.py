"""The sync protocol on a live server: change feed, tombstones, history, export consistency."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from app.db import create_engine
from app.loader import load, prune_history
from tests.helpers import edit_record, remove_record
from tests.live import client, live_server


@pytest.fixture
def source(loaded_database_url: str) -> Iterator[tuple[str, httpx.Client]]:
    with live_server(loaded_database_url) as base, client(base) as http:
        yield loaded_database_url, http


def reload(url: str, seeds: Path) -> None:
    engine = create_engine(url)
    try:
        load(engine, seeds)
    finally:
        engine.dispose()


def feed(http: httpx.Client, since: int, limit: int = 1000) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = http.get("/v1/changes", params={"since": since, "limit": limit}).json()
        items += page["data"]
        since = page["next_since"]
        if not page["has_more"]:
            return items


def export(http: httpx.Client, **params: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    response = http.get("/v1/export", params=params, headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [orjson.loads(line) for line in response.content.splitlines()]
    return lines[0], lines[1:]


def test_the_feed_from_zero_holds_every_published_record_once(
    source: tuple[str, httpx.Client],
) -> None:
    _, http = source
    items = feed(http, 0, limit=17)
    assert [i["seq"] for i in items] == sorted(i["seq"] for i in items)
    assert len({(i["type"], i["id"]) for i in items}) == len(items)
    _, records = export(http)
    upserts = {(i["type"], i["id"]): i["record"] for i in items if i["op"] == "upsert"}
    assert upserts == {(r["type"], r["id"]): r for r in records}
    for item in items[:20]:
        if item["op"] == "upsert":
            assert http.get(item["href"]).json() == item["record"]


def test_an_edit_is_one_upsert_and_a_removal_one_tombstone(
    source: tuple[str, httpx.Client], seeds: Path
) -> None:
    url, http = source
    before = http.get("/v1/meta").json()["last_seq"]
    edit_record(seeds, "cities.yaml", "viborg", lambda r: r.update(population=96501))
    remove_record(seeds, "contact_points.yaml", "pet-email")
    reload(url, seeds)
    items = feed(http, before)
    assert [(i["type"], i["id"], i["op"]) for i in items] == [
        ("contact_point", "pet-email", "delete"),
        ("city", "viborg", "upsert"),
    ]
    tombstone, upsert = items
    assert tombstone["record"] is None and tombstone["version"] == 2
    assert upsert["record"]["population"] == 96501 and upsert["version"] == 2
    # from zero, the feed lists viborg once, at its latest change
    viborg = [i for i in feed(http, 0) if i["id"] == "viborg"]
    assert [i["seq"] for i in viborg] == [upsert["seq"]]


def test_snapshot_plus_changes_equals_the_current_data(
    source: tuple[str, httpx.Client], seeds: Path
) -> None:
    url, http = source
    header, records = export(http)
    snapshot = {(r["type"], r["id"]): r for r in records}
    edit_record(seeds, "practices.yaml", "cocora", lambda r: r.update(summary="Changed."))
    remove_record(seeds, "contact_points.yaml", "pet-email")
    reload(url, seeds)
    for item in feed(http, header["last_seq"]):
        key = (item["type"], item["id"])
        if item["op"] == "delete":
            snapshot.pop(key, None)
        else:
            snapshot[key] = item["record"]
    _, now = export(http)
    assert snapshot == {(r["type"], r["id"]): r for r in now}


def test_bad_since_values(source: tuple[str, httpx.Client]) -> None:
    _, http = source
    last = http.get("/v1/meta").json()["last_seq"]
    future = http.get("/v1/changes", params={"since": last + 1})
    assert future.status_code == 400
    assert "after the last change" in future.json()["detail"]
    for bad in ("-1", "ten", "1.5"):
        response = http.get("/v1/changes", params={"since": bad})
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"


def test_v2_answers_a_since_past_the_last_change_with_an_empty_page(
    source: tuple[str, httpx.Client], seeds: Path
) -> None:
    """As CouchDB does: nothing newer is known here, and `next_since` is the last change, so a
    client whose number came from a server further ahead (a replica catching up) keeps polling
    and misses nothing."""
    url, http = source
    last = http.get("/v2/meta").json()["last_seq"]
    for since in (last, last + 1, 2**63 - 1):
        page = http.get("/v2/changes", params={"since": since})
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["data"] == [] and body["has_more"] is False
        assert (body["since"], body["next_since"], body["last_seq"]) == (since, last, last)
        assert body["links"]["next"] == f"/v2/changes?since={last}&limit=500"
    too_large = http.get("/v2/changes", params={"since": 2**63})
    assert too_large.status_code == 400
    assert too_large.json()["errors"][0]["parameter"] == "since"
    # v1 is frozen: it keeps refusing (tests/golden/v1.json).
    assert http.get("/v1/changes", params={"since": last + 1}).status_code == 400

    # A client that stored the `next_since` of that empty page gets what changes after it.
    ahead = http.get("/v2/changes", params={"since": last + 50}).json()
    edit_record(seeds, "cities.yaml", "viborg", lambda r: r.update(population=96501))
    reload(url, seeds)
    applied = http.get("/v2/changes", params={"since": ahead["next_since"]}).json()
    assert [(i["id"], i["op"]) for i in applied["data"]] == [("viborg", "upsert")]


def test_a_since_older_than_the_history_is_410_with_the_way_out(
    source: tuple[str, httpx.Client],
) -> None:
    url, http = source
    engine = create_engine(url)
    try:
        start, removed = prune_history(engine, keep=10)
    finally:
        engine.dispose()
    assert removed > 0
    gone = http.get("/v1/changes", params={"since": start - 1})
    assert gone.status_code == 410
    assert gone.headers["content-type"] == "application/problem+json"
    body = gone.json()
    assert body["history_start"] == start
    assert body["snapshot"] == "/v1/export"
    assert "new snapshot" in body["detail"]
    assert len(feed(http, start)) == 10
    assert export(http)[0]["history_start"] == start


def test_export_by_type_and_with_caching(source: tuple[str, httpx.Client]) -> None:
    _, http = source
    header, cities = export(http, type="city")
    assert header["types"] == ["city"]
    assert {c["id"] for c in cities} == {"aarhus", "copenhagen", "viborg"}
    response = http.get("/v1/export")
    assert response.headers["content-encoding"] == "gzip"
    again = http.get("/v1/export", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


def test_an_export_is_not_torn_by_a_concurrent_load(
    source: tuple[str, httpx.Client], seeds: Path
) -> None:
    url, http = source
    before = export(http)
    edit_record(seeds, "themes.yaml", "support-hotline", lambda r: r.update(description="New."))
    edit_record(seeds, "cities.yaml", "viborg", lambda r: r.update(population=1))
    with http.stream("GET", "/v1/export", headers={"Accept-Encoding": "identity"}) as response:
        lines = response.iter_lines()
        header = orjson.loads(next(lines))
        first = orjson.loads(next(lines))
        reload(url, seeds)  # commits while the export is being read
        rest = [orjson.loads(line) for line in lines if line]
    assert (header, [first, *rest]) == before
    assert export(http)[1] != before[1]


def test_personal_contact_points_never_leave_by_the_feed(
    source: tuple[str, httpx.Client], seeds: Path
) -> None:
    url, http = source
    items = feed(http, 0)
    assert "krwa@socialstyrelsen.dk" not in orjson.dumps(items).decode()
    before = http.get("/v1/meta").json()["last_seq"]
    edit_record(
        seeds,
        "contact_points.yaml",
        "pet-email",
        # A person's name needs a quote too; the test reuses the address's (a stand-in).
        lambda r: r.update(
            personal=True,
            person_name="Some One",
            evidence=r["evidence"] | {"person_name": r["evidence"]["value"]},
        ),
    )
    reload(url, seeds)
    (item,) = feed(http, before)
    assert (item["id"], item["op"], item["record"]) == ("pet-email", "delete", None)


def test_scn_export_writes_the_same_records_as_the_api(
    source: tuple[str, httpx.Client], tmp_path: Path
) -> None:
    from tests.test_cli import scn

    url, http = source
    for api in ("v2", "v1"):
        output = tmp_path / f"export-{api}.ndjson"
        result = scn("export", "--api", api, "--output", str(output), database=url)
        assert result.returncode == 0, result.stderr
        lines = output.read_bytes().splitlines()
        served = http.get(f"/{api}/export", headers={"Accept-Encoding": "identity"})
        assert lines == served.content.splitlines()
    default = scn("export", database=url)
    assert default.stdout.encode().splitlines() == lines_of(http, "/v2/export")
    assert scn("export", "--type", "nonsense", database=url).returncode == 1


def lines_of(http: httpx.Client, path: str) -> list[bytes]:
    return http.get(path, headers={"Accept-Encoding": "identity"}).content.splitlines()


def test_history_prune_command(loaded_database_url: str) -> None:
    from tests.test_cli import scn

    result = scn("history", "prune", "--keep", "5", database=loaded_database_url)
    assert result.returncode == 0, result.stderr
    assert "history now starts after change" in result.stdout
    engine = create_engine(loaded_database_url)
    try:
        with engine.connect() as connection:
            kept = connection.execute(sa.text("SELECT count(*) FROM change")).scalar_one()
    finally:
        engine.dispose()
    assert kept == 5


def test_the_python_example_of_the_sync_guide_works(
    source: tuple[str, httpx.Client], seeds: Path, tmp_path: Path
) -> None:
    """docs/SYNC.md's example, run as written against a live server: it copies, then follows."""
    import re
    import sqlite3
    import subprocess
    import sys

    from app.settings import PROJECT_ROOT

    url, http = source
    guide = (PROJECT_ROOT / "docs" / "SYNC.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", guide, re.S)
    assert code is not None
    script = tmp_path / "example.py"
    script.write_text(
        code.group(1).replace('"http://127.0.0.1:8000"', repr(str(http.base_url).rstrip("/")))
    )

    def run() -> None:
        subprocess.run([sys.executable, str(script)], cwd=tmp_path, check=True, timeout=120)

    def copy() -> dict[tuple[str, str], dict[str, Any]]:
        with sqlite3.connect(tmp_path / "copy.sqlite3") as db:
            rows = db.execute("SELECT type, id, body FROM record").fetchall()
        return {(t, i): orjson.loads(b) for t, i, b in rows}

    run()
    edit_record(seeds, "cities.yaml", "viborg", lambda r: r.update(population=96501))
    remove_record(seeds, "contact_points.yaml", "pet-email")
    reload(url, seeds)
    run()
    v2 = http.get("/v2/export", headers={"Accept-Encoding": "identity"}).content.splitlines()
    records = [orjson.loads(line) for line in v2[1:]]
    assert copy() == {(r["type"], r["id"]): r for r in records}
