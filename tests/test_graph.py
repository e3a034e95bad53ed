"""The prevention model as a graph: /v1/graph says what the records say, and /v1/graph.svg draws
exactly that graph, whatever the labels hold."""

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.db import create_engine
from app.loader import load
from app.settings import PROJECT_ROOT
from tests.helpers import edit_record
from tests.live import client, live_server

SVG_NS = "{http://www.w3.org/2000/svg}"
XLINK_TITLE = "{http://www.w3.org/1999/xlink}title"
NODE_TYPES = {"organisation", "cooperation", "practice", "city"}
PRACTICE_ROLE_EDGES = {
    "lead": "leads",
    "coordinator": "coordinates",
    "partner": "partners",
    "external_partner": "partners",
    "funder": "funds",
    "supporter": "supports",
}
Edge = tuple[str, str, str, str | None]


@pytest.fixture(scope="module")
def api(loaded_url: str) -> Iterator[httpx.Client]:
    with live_server(loaded_url) as base, client(base) as http:
        yield http


def _records(api: httpx.Client, collection: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/{collection}", params={"limit": 500})
    assert response.status_code == 200
    assert response.json()["next_cursor"] is None
    return list(response.json()["data"])


def _edges(graph: dict[str, Any]) -> set[Edge]:
    return {(e["source"], e["type"], e["target"], e["role"]) for e in graph["edges"]}


def _expected_edges(api: httpx.Client) -> set[Edge]:
    """Every edge the v1 records imply, by the rules docs/API.md states for each edge type."""
    expected: set[Edge] = set()
    for org in _records(api, "organisations"):
        me = f"organisation:{org['id']}"
        if org["parent"]:
            expected.add((me, "part_of", f"organisation:{org['parent']['id']}", None))
        if org["city"]:
            expected.add((me, "located_in", f"city:{org['city']['id']}", None))
        for relation in org["relations"]:
            target = f"organisation:{relation['id']}"
            expected.add((me, relation["role"], target, relation["role"]))
    for coop in _records(api, "cooperations"):
        me = f"cooperation:{coop['id']}"
        if coop["model"]:
            expected.add((me, "instance_of", f"cooperation:{coop['model']['id']}", None))
        if coop["city"]:
            expected.add((me, "located_in", f"city:{coop['city']['id']}", None))
        for member in coop["members"]:
            for kind in ("organisation", "cooperation"):
                if member[kind]:
                    source = f"{kind}:{member[kind]['id']}"
                    expected.add((source, "member_of", me, member["role"]))
    for practice in _records(api, "practices"):
        me = f"practice:{practice['id']}"
        if practice["parent"]:
            expected.add((me, "part_of", f"practice:{practice['parent']['id']}", None))
        if practice["predecessor"]:
            expected.add((me, "follows", f"practice:{practice['predecessor']['id']}", None))
        for city in practice["cities"]:
            expected.add((me, "runs_in", f"city:{city['id']}", None))
        for org in practice["organisations"]:
            source = f"organisation:{org['id']}"
            expected.add((source, PRACTICE_ROLE_EDGES[org["role"]], me, org["role"]))
        for coop in practice["cooperations"]:
            other = f"cooperation:{coop['id']}"
            if coop["role"] == "delivered_by":
                expected.add((other, "delivers", me, coop["role"]))
            else:
                expected.add(
                    (me, {"target": "targets"}.get(coop["role"], "includes"), other, coop["role"])
                )
    return expected


def test_the_whole_graph_is_what_the_records_say(api: httpx.Client) -> None:
    response = api.get("/v1/graph")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    graph = response.json()
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert len(nodes) == len(graph["nodes"])
    # Every organisation, cooperation, practice and city is a node, labelled with its name.
    for collection, node_type in [
        ("organisations", "organisation"),
        ("cooperations", "cooperation"),
        ("practices", "practice"),
        ("cities", "city"),
    ]:
        for record in _records(api, collection):
            node = nodes.pop(f"{node_type}:{record['id']}")
            assert node["type"] == node_type and node["record_id"] == record["id"]
            assert node["label"] == record["name"]
            assert node["acronym"] == record.get("acronym")
            assert node["href"] == record["links"]["self"]
    assert not nodes, f"nodes that are no such record: {sorted(nodes)}"
    edges = _edges(graph)
    ends = {end for e in edges for end in (e[0], e[2])}
    assert ends <= {n["id"] for n in graph["nodes"]}
    assert edges == _expected_edges(api)
    assert {"part_of", "member_of", "leads", "partners", "runs_in"} <= {e[1] for e in edges}
    assert len(edges) == len(graph["edges"])  # no edge is listed twice
    assert graph["links"] == {"self": "/v1/graph", "svg": "/v1/graph.svg"}


def test_node_and_edge_type_filters(api: httpx.Client) -> None:
    whole = api.get("/v1/graph").json()
    practices = api.get("/v1/graph", params={"type": "practice"}).json()
    assert {n["type"] for n in practices["nodes"]} == {"practice"}
    assert len(practices["nodes"]) == len(_records(api, "practices"))
    assert {e["type"] for e in practices["edges"]} == {"part_of", "follows"}

    two = api.get("/v1/graph", params=[("type", "practice"), ("type", "city")]).json()
    assert {n["type"] for n in two["nodes"]} == {"practice", "city"}
    assert {e["type"] for e in two["edges"]} >= {"runs_in"}

    leads = api.get("/v1/graph", params={"edge": "leads"}).json()
    assert leads["edges"] and {e["type"] for e in leads["edges"]} == {"leads"}
    assert leads["nodes"] == whole["nodes"]
    assert _edges(leads) == {e for e in _edges(whole) if e[1] == "leads"}


def test_a_neighbourhood(api: httpx.Client) -> None:
    viborg = api.get("/v1/graph", params={"city": "viborg"}).json()
    ids = {n["id"] for n in viborg["nodes"]}
    assert "city:viborg" in ids
    # Depth 1: every practice that runs in Viborg, every organisation of the city.
    runs = {f"practice:{p['id']}" for p in _records_filtered(api, "practices", city="viborg")}
    local = {
        f"organisation:{o['id']}" for o in _records_filtered(api, "organisations", city="viborg")
    }
    assert runs and local
    assert runs | local <= ids
    for node in ids - {"city:viborg"}:
        assert any({e["source"], e["target"]} == {node, "city:viborg"} for e in viborg["edges"]), (
            f"{node} is not one edge away from Viborg"
        )

    wider = api.get("/v1/graph", params={"city": "viborg", "depth": 2}).json()
    assert ids < {n["id"] for n in wider["nodes"]}

    only_practices = api.get("/v1/graph", params={"city": "viborg", "type": "practice"}).json()
    assert {n["id"] for n in only_practices["nodes"]} == runs

    both = api.get("/v1/graph", params=[("city", "viborg"), ("city", "copenhagen")]).json()
    assert ids < {n["id"] for n in both["nodes"]}

    pet = api.get("/v1/graph", params={"organisation": "pet", "edge": "part_of"}).json()
    assert {e["type"] for e in pet["edges"]} == {"part_of"}
    assert ("organisation:pet", "part_of", "organisation:ministry-of-justice", None) in _edges(pet)

    nobody = api.get("/v1/graph", params={"city": "atlantis"})
    assert nobody.status_code == 200
    assert nobody.json()["nodes"] == [] and nobody.json()["edges"] == []
    assert api.get("/v1/graph", params={"country": "xx"}).json()["nodes"] == []
    assert api.get("/v1/graph", params={"country": "dk"}).json()["nodes"]


def _records_filtered(api: httpx.Client, collection: str, **filters: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/{collection}", params={"limit": 500, **filters})
    return list(response.json()["data"])


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("colour=blue", "colour"),
        ("type=country", "type"),
        ("edge=likes", "edge"),
        ("depth=0", "depth"),
        ("depth=4", "depth"),
        ("depth=two", "depth"),
    ],
)
def test_bad_parameters_are_problems(api: httpx.Client, query: str, parameter: str) -> None:
    for path in ("/v1/graph", "/v1/graph.svg"):
        response = api.get(f"{path}?{query}")
        assert response.status_code == 400, (path, query)
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["parameter"] for e in response.json()["errors"]] == [parameter]


def _svg(response: httpx.Response) -> ET.Element:
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    return ET.fromstring(response.content)


def _drawn(root: ET.Element) -> tuple[set[str], set[str]]:
    """Ids of the drawn nodes, and the "source type target" title of each drawn edge."""
    nodes, edges = set(), set()
    for group in root.iter(f"{SVG_NS}g"):
        classes = group.get("class", "").split()
        if "node" in classes and group.get("id") != "legend":
            nodes.add(group.get("id", ""))
        if "edge" in classes:
            (link,) = [a for a in group.iter(f"{SVG_NS}a") if a.get(XLINK_TITLE)]
            edges.add(link.get(XLINK_TITLE, ""))
    return nodes, edges


def _titles(graph: dict[str, Any]) -> set[str]:
    return {f"{e['source']} {e['type'].replace('_', ' ')} {e['target']}" for e in graph["edges"]}


def test_the_picture_draws_the_graph(api: httpx.Client) -> None:
    for params in ({}, {"city": "viborg", "depth": "2"}, {"type": "organisation"}):
        graph = api.get("/v1/graph", params=params).json()
        nodes, edges = _drawn(_svg(api.get("/v1/graph.svg", params=params)))
        assert nodes == {n["id"] for n in graph["nodes"]}
        assert edges == _titles(graph)
    root = _svg(api.get("/v1/graph.svg", params={"practice": "cocora"}))
    links = {a.get("{http://www.w3.org/1999/xlink}href") for a in root.iter(f"{SVG_NS}a")}
    assert "/v1/practices/cocora" in links


def test_the_picture_is_cached_like_every_response(api: httpx.Client) -> None:
    first = api.get("/v1/graph.svg")
    etag = first.headers["etag"]
    assert api.get("/v1/graph.svg").headers["etag"] == etag
    assert api.get("/v1/graph.svg", headers={"If-None-Match": etag}).status_code == 304
    assert api.get("/v1/graph.svg", params={"type": "city"}).headers["etag"] != etag
    assert "accept" in first.headers["vary"].lower()
    assert first.headers["cache-control"].startswith("public")
    assert api.get("/v1/graph", headers={"If-None-Match": etag}).status_code == 200


def test_the_picture_is_served_as_svg_only(api: httpx.Client) -> None:
    assert api.get("/v1/graph.svg", headers={"Accept": "image/*"}).status_code == 200
    refused = api.get("/v1/graph.svg", headers={"Accept": "application/json"})
    assert refused.status_code == 406
    assert refused.headers["content-type"] == "application/problem+json"
    assert api.get("/v1/graph", headers={"Accept": "image/svg+xml"}).status_code == 406


HOSTILE = (
    '</text><script>alert("x")</script> "quoted" \\N \\G \\l & &amp; <b>bold</b> --> ]]> '
    "æøå \u201c\u201d\x01\x0b; node [shape=box]"
)


@pytest.fixture
def hostile_api(seeds: Path, database_url: str) -> Iterator[httpx.Client]:
    def rename(record: dict[str, Any]) -> None:
        record["name"] = HOSTILE

    edit_record(seeds, "organisations.yaml", "pet", rename)
    edit_record(seeds, "practices.yaml", "cocora", rename)
    engine = create_engine(database_url)
    load(engine, seeds)
    engine.dispose()
    with live_server(database_url) as base, client(base) as http:
        yield http


def test_hostile_labels_are_drawn_as_text(hostile_api: httpx.Client) -> None:
    graph = hostile_api.get("/v1/graph").json()
    labels = {n["id"]: n["label"] for n in graph["nodes"]}
    assert labels["organisation:pet"] == HOSTILE  # the JSON keeps the name exactly
    root = _svg(hostile_api.get("/v1/graph.svg"))  # parses: the SVG is well-formed XML
    nodes, edges = _drawn(root)
    assert nodes == set(labels) and edges == _titles(graph)
    assert not list(root.iter(f"{SVG_NS}script")) and not list(root.iter(f"{SVG_NS}b"))
    (pet,) = [g for g in root.iter(f"{SVG_NS}g") if g.get("id") == "organisation:pet"]
    shown = "".join(t.text or "" for t in pet.iter(f"{SVG_NS}text")).replace(" ", "")
    # The text is shown as written (wrapped over lines, XML-illegal characters replaced),
    # and DOT's escape sequences (\N: the node's name) are not expanded.
    for word in ('<script>alert("x")</script>', '"quoted"', "\\N", "\\G", "&amp;", "-->", "æøå"):
        assert word.replace(" ", "") in shown, word
    titles = {a.get(XLINK_TITLE) for a in pet.iter(f"{SVG_NS}a")}
    assert any(t and t.startswith('</text><script>alert("x")') for t in titles)


def test_the_committed_picture_is_up_to_date(api: httpx.Client) -> None:
    committed = ET.parse(PROJECT_ROOT / "docs" / "img" / "model.svg").getroot()
    graph = api.get("/v1/graph").json()
    nodes, edges = _drawn(committed)
    assert (nodes, edges) == ({n["id"] for n in graph["nodes"]}, _titles(graph)), (
        "docs/img/model.svg no longer shows the data: run `make model-picture`"
    )
