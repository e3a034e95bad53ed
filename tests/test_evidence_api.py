"""Evidence over real HTTP, on both engines: /v2/<collection>/{id}/evidence gives every quote of
the seeds with offsets that point at the passage in the stored text, the export and the change
feed carry the same evidence (a mirror can serve it), and v1 stays as it was."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app.api.collections import COLLECTION_LIST
from app.api.records import V2
from app.db import create_engine
from app.loader import load, seed_rows
from app.models import LIST_FIELDS
from app.record_rows import record_rows
from app.seed_reader import read_seeds
from app.seed_schema import SEED_FILES
from app.settings import PROJECT_ROOT
from app.sync import export_pieces
from tests.conftest import SEEDS
from tests.helpers import edit_record, lines_of
from tests.live import client, live_server
from tests.test_evidence import every_quote, plain
from tests.test_mirror import mirror_cli

PATHS = {c.entity: c.path for c in COLLECTION_LIST}
INDEXED = re.compile(r"(\w+)\[(\d+)\]")


@pytest.fixture(scope="module")
def api(loaded_url: str) -> Iterator[httpx.Client]:
    with live_server(loaded_url) as base, client(base) as http:
        yield http


def evidence(api: httpx.Client, entity: str, record_id: str) -> dict[str, Any]:
    response = api.get(f"/v2/{PATHS[entity]}/{record_id}/evidence")
    assert response.status_code == 200, response.text
    assert response.headers["etag"]
    return dict(response.json())


def personal_contact_points() -> set[str]:
    contacts = yaml.safe_load((SEEDS / "contact_points.yaml").read_text(encoding="utf-8"))
    return {c["id"] for c in contacts if c["personal"]}


def test_every_quote_of_the_seeds_is_served_with_offsets_into_its_text(api: httpx.Client) -> None:
    expected: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    entity_of = {name: entity for entity, (name, _) in SEED_FILES.items()}
    for name, record_id, path, source, quote in every_quote():
        key = (entity_of[name], record_id)
        if key[0] == "contact_point" and record_id in personal_contact_points():
            continue  # withheld, with its evidence (the test below)
        expected.setdefault(key, []).append((_unnumbered(key[0], path), source, plain(quote)))
    texts: dict[str, str] = {}
    served_count = 0
    for (entity, record_id), quotes in expected.items():
        body = evidence(api, entity, record_id)
        assert (body["id"], body["type"]) == (record_id, entity)
        assert body["href"] == f"/v2/{PATHS[entity]}/{record_id}"
        served = []
        for item in body["evidence"]:
            document = item["document"]
            text = texts.setdefault(document, (PROJECT_ROOT / document).read_text(encoding="utf-8"))
            passage = text[item["start"] : item["end"]]
            assert plain(passage) == plain(item["quote"]), (record_id, item)
            assert item["source"]["href"] == f"/v2/sources/{item['source']['id']}"
            served.append(
                (_unnumbered(entity, item["field"]), item["source"]["id"], plain(item["quote"]))
            )
        assert served == quotes, record_id
        served_count += len(served)
    assert served_count > 200


def _unnumbered(entity: str, path: str) -> str:
    """`path` without the index into a list the API may show in an order of its own (the next
    test checks those indexes)."""
    indexed = INDEXED.match(path)
    if indexed and indexed[1] in LIST_FIELDS.get(entity, {}):
        return f"{indexed[1]}[]{path[indexed.end() :]}"
    return path


def test_an_index_in_a_path_counts_in_the_list_as_the_record_shows_it(api: httpx.Client) -> None:
    """Where the API shows a list in an order of its own (a practice's figures by key, its
    partners, cities and themes by id), the item at a quote's `field` in the published record is
    the item the curators quoted for at that place in the seed file."""
    seeds = read_seeds(SEEDS)
    checked = 0
    for entity, fields in LIST_FIELDS.items():
        for record_id, quotes in seeds.evidence.get(entity, {}).items():
            written = seed_rows(entity, seeds.records[entity][record_id]).links  # seed order
            response = api.get(f"/v2/{PATHS[entity]}/{record_id}")
            shown = record_rows(entity, response.json()).links  # the published order
            served = evidence(api, entity, record_id)["evidence"]
            for quote, item in zip(quotes, served, strict=True):
                at_seed = INDEXED.match(quote.path)
                if at_seed is None or at_seed[1] not in fields:
                    assert item["field"] == quote.path
                    continue
                at_shown = INDEXED.match(item["field"])
                assert at_shown is not None and at_shown[1] == at_seed[1], item
                assert item["field"][at_shown.end() :] == quote.path[at_seed.end() :]
                link_table = fields[at_seed[1]]
                assert (
                    shown[link_table][int(at_shown[2])] == written[link_table][int(at_seed[2])]
                ), (entity, record_id, quote.path, item["field"])
                checked += 1
    assert checked > 50


def test_the_quote_for_98_institutions_is_on_the_figure_98(api: httpx.Client) -> None:
    items = evidence(api, "practice", "train-the-trainer")["evidence"]
    (institutions,) = [i for i in items if "98 institutions" in i["quote"]]
    figures = api.get("/v2/practices/train-the-trainer").json()["figures"]
    at = INDEXED.match(institutions["field"])
    assert at is not None and at[1] == "figures"
    assert figures[int(at[2])]["key"] == "institutions"
    assert figures[int(at[2])]["value"] == 98


def test_the_viborg_population_quote(api: httpx.Client) -> None:
    items = evidence(api, "city", "viborg")["evidence"]
    (population,) = [i for i in items if i["field"] == "population"]
    assert population == {
        "field": "population",
        "source": {
            "id": "scn-viborg-profile-fr",
            "type": "source",
            "href": "/v2/sources/scn-viborg-profile-fr",
        },
        "document": "sources/scn-viborg-profile-fr.fr.txt",
        "section": "Key Information",
        "quote": "Population 96,500",
        "start": population["start"],
        "end": population["end"],
    }
    text = (PROJECT_ROOT / population["document"]).read_text(encoding="utf-8")
    assert text[population["start"] : population["end"]] == "Population\n96,500"


def test_a_record_without_quotes_has_an_empty_list_and_an_unknown_one_is_404(
    api: httpx.Client,
) -> None:
    assert evidence(api, "city", "aarhus")["evidence"] == []
    missing = api.get("/v2/cities/atlantis/evidence")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert api.get("/v2/cities/viborg/evidence", params={"nonsense": "1"}).status_code == 400


def test_personal_contact_points_evidence_is_withheld_like_the_record(api: httpx.Client) -> None:
    personal = personal_contact_points()
    assert personal
    for record_id in sorted(personal):
        assert api.get(f"/v2/contact-points/{record_id}").status_code == 404
        assert api.get(f"/v2/contact-points/{record_id}/evidence").status_code == 404


def test_the_export_and_the_change_feed_carry_the_evidence_and_v1_does_not(
    api: httpx.Client,
) -> None:
    lines = [
        httpx.Response(200, content=line).json()
        for line in api.get("/v2/export").content.splitlines()
    ]
    exported = {(r["type"], r["id"]): r["evidence"] for r in lines[1:]}
    feed: dict[tuple[str, str], Any] = {}
    since = 0
    while True:
        page = api.get("/v2/changes", params={"since": since, "limit": 100}).json()
        for item in page["data"]:
            if item["op"] == "upsert":
                feed[(item["type"], item["id"])] = item["record"]["evidence"]
            else:  # a personal contact point, withheld: a tombstone for this reader
                assert item["record"] is None
        since = page["next_since"]
        if not page["has_more"]:
            break
    assert feed == exported
    assert exported[("city", "viborg")] == evidence(api, "city", "viborg")["evidence"]
    v1_lines = api.get("/v1/export").content.splitlines()[1:]
    assert all("evidence" not in httpx.Response(200, content=line).json() for line in v1_lines)
    v1_page = api.get("/v1/changes", params={"limit": 500}).json()
    assert all("evidence" not in item for item in v1_page["data"])
    assert api.get("/v1/cities/viborg/evidence").status_code == 404


def v2_export_with_evidence(url: str) -> list[bytes]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            pieces = export_pieces(
                connection, None, personal_contacts=False, api=V2, with_evidence=True
            )
            return lines_of(pieces)[1:]
    finally:
        engine.dispose()


def test_a_mirror_keeps_the_evidence_through_a_snapshot_and_the_change_feed(
    source_url: str, target_url: str, seeds: Path
) -> None:
    source = create_engine(source_url)
    try:
        load(source, seeds)
        with live_server(source_url) as base:
            assert mirror_cli(base, target_url).returncode == 0  # a snapshot
            assert v2_export_with_evidence(target_url) == v2_export_with_evidence(source_url)

            def requote(record: dict[str, Any]) -> None:
                record["evidence"]["population"]["quote"] = "Population\n96,500"
                record["evidence"]["population"]["section"] = None

            edit_record(seeds, "cities.yaml", "viborg", requote)
            assert load(source, seeds).updated == 1  # a quote alone is a change
            result = mirror_cli(base, target_url)  # the change feed
            assert result.returncode == 0, result.stderr
            assert "1 changes applied" in result.stdout
        mirrored = v2_export_with_evidence(target_url)
        assert mirrored == v2_export_with_evidence(source_url)
        viborg = next(json.loads(line) for line in mirrored if b'"id":"viborg"' in line)
        (population,) = [e for e in viborg["evidence"] if e["field"] == "population"]
        assert (population["quote"], population["section"]) == ("Population\n96,500", None)
    finally:
        source.dispose()
