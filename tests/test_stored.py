"""Records and list pages answered from their stored documents on the event loop
(app/api/stored.py) are the endpoints' answers, byte for byte, headers included; whatever that
layer does not serve, the endpoints still answer."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.api import loop_reads
from app.api.main import create_app
from app.api.stored import StoredDocuments
from app.db import create_engine
from app.loader import load
from app.settings import Settings
from tests.conftest import SEEDS
from tests.live import client, live_app
from tests.test_response_cache import HOST, _answer, _requests

RECORDS = [
    "/v1/cities/viborg",
    "/v1/practices/vink",
    "/v1/organisations/danish-prison-and-probation-service",
    "/v1/contact-points/mhtconsult-email",
    "/v2/countries/dk",
    "/v2/organisations/danish-prison-and-probation-service",
    "/v2/practices/vink",
    "/v2/practices/vink?lang=fr",
    "/v2/practices/vink?lang=*",
    "/v2/cities/viborg?lang=da",
    "/v2/contact-points/mhtconsult-email",
]
"""Requests the layer answers (the plain form of a record)."""

LISTS = [
    "/v1/organisations",
    "/v1/organisations?country=dk",
    "/v1/organisations?country=dk&limit=5",
    "/v2/organisations?limit=7&country=dk&lang=fr",
    "/v2/practices?kind=programme",
    "/v1/practices?kind=training&limit=2",
    "/v2/cities?theme=integration&lang=*",
    "/v1/organisations?source=who-does-what-in-denmark&limit=3",
    "/v2/sources?kind=city_profile",
    "/v1/contact-points?organisation=dignity",  # one of its three identifies a person
    "/v2/contact-points?limit=3",
]
"""List pages the layer answers (filters by an id or a vocabulary value, limit, cursor, v2's
lang); each page's `next` link is asked too, with its cursor."""

CHANGES = [
    "/v1/changes",
    "/v1/changes?since=0&limit=5",
    "/v1/changes?limit=20&since=40",
    "/v2/changes",
    "/v2/changes?limit=10",
    "/v2/changes?since=3&limit=7&lang=fr",
    "/v2/changes?since=60&limit=50&lang=*",
]
"""Pages of the change feed the layer answers (v2's with each upsert's evidence; personal
contact points, where they are withheld, as deletes)."""

CHANGES_PASSED_ON = [
    "/v1/changes?since=999999",  # past the last change: v1's 400
    "/v2/changes?since=999999",  # v2's empty page
    "/v1/changes?limit=0",
    "/v1/changes?limit=1001",
    "/v1/changes?since=-1",
    "/v1/changes?since=01",
    "/v1/changes?since=1&since=2",
    "/v1/changes?lang=fr",
    "/v2/changes?lang=FR",
    "/v2/changes?unknown=1",
]

LISTS_PASSED_ON = [
    "/v1/organisations?country=dk&country=se",
    "/v1/organisations?country=",
    "/v1/organisations?country=nowhere",  # an empty page
    "/v1/organisations?limit=0",
    "/v1/organisations?limit=501",
    "/v1/organisations?limit=05",
    "/v1/organisations?limit=5&limit=6",
    "/v1/organisations?cursor=bogus",
    "/v1/organisations?kind=nonsense",
    "/v1/organisations?q=police",
    "/v1/organisations?format=csv",
    "/v1/organisations?updated_since=2020-01-01",
    "/v1/organisations?lang=fr",  # v1 takes no `lang`
    "/v1/cities?scn_member=true",
    "/v2/organisations?lang=FR",
    "/v2/organisations?expand=country",
    "/v2/organisations?unknown=1",
    "/v3/organisations",
    "/v1/towns",
]
"""List requests it leaves to the endpoint (which answers them as before)."""

PERSONAL = [
    "/v1/contact-points/psp-training-contact-email",
    "/v2/contact-points/psp-training-contact-email?lang=en",
]
"""Records that identify a person: answered by the layer only where they are published."""

PASSED_ON = [
    "/v1/cities/nowhere",
    "/v2/cities/nowhere",
    "/v1/cities/viborg%00",
    "/v1/cities/viborg/",
    "/v1/cities/viborg?lang=fr",  # v1 takes no `lang`
    "/v2/cities/viborg?lang=FR",
    "/v2/cities/viborg?lang=fr&lang=da",
    "/v2/cities/viborg?expand=country",
    "/v2/cities/viborg?unknown=1",
    "/v3/cities/viborg",
    "/v1/towns/viborg",
    "/v2/cities/viborg/evidence",
]
"""Requests it leaves to the endpoint (which answers them as before)."""


def _stored_layer(app: object) -> StoredDocuments:
    layer = app.middleware_stack  # type: ignore[attr-defined]
    while not isinstance(layer, StoredDocuments):
        layer = layer.app
    return layer


@pytest.fixture(params=[False, True], ids=["personal-withheld", "personal-published"])
def servers(
    loaded_url: str, request: pytest.FixtureRequest
) -> Iterator[tuple[httpx.Client, httpx.Client, StoredDocuments, bool]]:
    """(from stored documents, from the endpoint) clients of two servers on one database, with
    no response cache (each answer is made afresh), the first one's layer, and whether they
    publish personal contact points."""
    settings = Settings(
        database_url=loaded_url,
        response_cache_mb=0,
        export_cache_dir="",
        publish_personal_contacts=request.param,
    )
    stored_app, endpoint_app = create_app(settings), create_app(settings)
    with (
        live_app(stored_app) as stored_base,
        live_app(endpoint_app) as endpoint_base,
        client(stored_base) as stored,
        client(endpoint_base) as endpoint,
    ):
        _stored_layer(endpoint_app).enabled = False
        yield stored, endpoint, _stored_layer(stored_app), request.param


def _with_next_pages(client: httpx.Client, urls: list[str]) -> list[str]:
    """`urls` and the second page of each that has one (its cursor is the endpoint's)."""
    out = []
    for url in urls:
        out.append(url)
        following = client.get(url, headers={"Host": HOST}).json()["links"]["next"]
        if following:
            out.append(following)
    return out


def test_stored_answers_are_the_endpoints(
    servers: tuple[httpx.Client, httpx.Client, StoredDocuments, bool],
) -> None:
    stored, endpoint, layer, personal = servers
    lists = _with_next_pages(endpoint, LISTS)
    assert len(lists) > len(LISTS) + 3, "some pages have a next page, asked with its cursor"
    answered = [*RECORDS, *lists, *CHANGES]
    answered += PERSONAL if personal else []
    passed_on = PASSED_ON if personal else [*PERSONAL, *PASSED_ON]
    passed_on += [*LISTS_PASSED_ON, *CHANGES_PASSED_ON]
    for url in answered:
        before = layer.answered
        assert stored.get(url).status_code == 200
        assert layer.answered == before + 1, url
    for url in passed_on:
        before = layer.answered
        stored.get(url)
        assert layer.answered == before, url
    assert any(
        item["record"] and item["record"]["evidence"]
        for item in stored.get("/v2/changes").json()["data"]
    ), "v2's pages carry evidence"
    for url in [
        *RECORDS,
        *PERSONAL,
        *PASSED_ON,
        *lists,
        *LISTS_PASSED_ON,
        *CHANGES,
        *CHANGES_PASSED_ON,
    ]:
        variants = (
            _requests(endpoint, url)
            if endpoint.get(url, headers={"Host": HOST}).status_code == 200
            else [("GET", {}), ("HEAD", {}), ("GET", {"Accept-Language": "fr"})]
        )
        for method, variant in variants:
            headers = {"Host": HOST, **variant}
            expected = _answer(endpoint.request(method, url, headers=headers))
            assert _answer(stored.request(method, url, headers=headers)) == expected, (
                url,
                method,
                headers,
            )


def test_requests_it_does_not_serve_reach_the_endpoint(
    servers: tuple[httpx.Client, httpx.Client, StoredDocuments, bool],
) -> None:
    stored, _, layer, _ = servers
    for url in ["/v2/cities/viborg?expand=country", "/v1/cities/viborg?limit=1", "/v1/meta"]:
        stored.get(url)
    assert layer.answered == 0
    assert stored.get("/v1/cities/viborg?limit=1").status_code == 400  # the endpoint's check
    assert stored.get("/v2/cities/viborg?expand=country").json()["country"]["record"]["id"] == "dk"


@pytest.fixture
def sqlite_loaded_url(migrated_sqlite_file: Path, tmp_path: Path) -> str:
    path = tmp_path / "loaded.sqlite3"
    shutil.copy(migrated_sqlite_file, path)
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    load(engine, SEEDS)
    engine.dispose()
    return url


def test_a_long_sqlite_read_goes_to_the_endpoint(
    sqlite_loaded_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list page's read (on the loop's connection, on SQLite) that outlasts its deadline is
    stopped and left to the endpoint: the client gets the same answer."""
    app = create_app(Settings(database_url=sqlite_loaded_url, response_cache_mb=0))
    url = "/v1/organisations?country=dk"
    with live_app(app) as base, client(base) as http:
        layer = _stored_layer(app)
        expected = _answer(http.get(url, headers={"Host": HOST}))
        assert layer.answered == 1
        monkeypatch.setattr(app.state.loop_reads, "page_timeout", -1.0)  # every read is over
        assert (_answer(http.get(url, headers={"Host": HOST})), layer.answered) == (expected, 1)
        monkeypatch.undo()
        assert _answer(http.get(url, headers={"Host": HOST})) == expected
        assert layer.answered == 2


def test_sqlite_page_reads_go_to_worker_threads_for_a_while_after_a_slow_one(
    sqlite_loaded_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Quick page reads run on the loop; one slower than SLOW_PAGE_READ_S (waiting for the
    disk) sends the next ones to worker threads, where they wait side by side, for
    BESIDE_FOR_S. The answers are the same either way, and a page read beside keeps its
    deadline."""
    app = create_app(Settings(database_url=sqlite_loaded_url, response_cache_mb=0))
    reads = app.state.loop_reads
    beside: list[str] = []
    pooled_rows = reads._pooled_rows

    def spied(sql: str, parameters: object) -> object:
        beside.append(sql)
        return pooled_rows(sql, parameters)

    monkeypatch.setattr(reads, "_pooled_rows", spied)
    urls = ["/v1/organisations?country=dk", "/v2/changes?limit=5"]
    with live_app(app) as base, client(base) as http:
        layer = _stored_layer(app)
        expected = [_answer(http.get(url, headers={"Host": HOST})) for url in urls]
        assert (layer.answered, beside) == (2, [])  # quick: on the loop
        monkeypatch.setattr(loop_reads, "SLOW_PAGE_READ_S", -1.0)  # every read is slow
        assert _answer(http.get(urls[0], headers={"Host": HOST})) == expected[0]
        assert (layer.answered, beside) == (3, [])  # on the loop, found slow
        assert [_answer(http.get(url, headers={"Host": HOST})) for url in urls] == expected
        assert (layer.answered, len(beside)) == (5, 2)  # beside, in worker threads
        monkeypatch.setattr(reads, "page_timeout", -1.0)  # every read is over its deadline
        assert _answer(http.get(urls[0], headers={"Host": HOST})) == expected[0]
        assert (layer.answered, len(beside)) == (5, 3)  # stopped beside: the endpoint answered
        monkeypatch.setattr(reads, "beside_until", 0.0)  # BESIDE_FOR_S has passed
        monkeypatch.setattr(loop_reads, "SLOW_PAGE_READ_S", 10.0)
        monkeypatch.setattr(reads, "page_timeout", 1.0)
        assert [_answer(http.get(url, headers={"Host": HOST})) for url in urls] == expected
        assert (layer.answered, len(beside)) == (7, 3)  # back on the loop
