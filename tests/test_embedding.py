"""`expand` in v2: referenced records embedded in their references, on records and list pages,
in the reader's languages, with ETags that follow the embedded data (docs/API.md, "Embedding")."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from app.api.main import create_app
from app.api.v2.embedding import EMBEDDABLE
from app.db import create_engine
from app.loader import load
from app.settings import Settings
from tests.helpers import edit_record
from tests.live import client, live_app, live_server


@pytest.fixture(scope="module")
def api(loaded_url: str) -> Iterator[httpx.Client]:
    with live_server(loaded_url) as base, client(base) as http:
        yield http


def references(value: Any) -> list[dict[str, Any]]:
    """Every reference (id, type, href) in a value, outside embedded records."""
    if isinstance(value, list):
        return [ref for item in value for ref in references(item)]
    if not isinstance(value, dict):
        return []
    if {"id", "type", "href"} <= value.keys() and "version" not in value:
        return [value]
    return [ref for item in value.values() for ref in references(item)]


def test_a_city_embeds_its_country_and_themes_as_their_own_urls_give_them(
    api: httpx.Client,
) -> None:
    response = api.get("/v2/cities/viborg", params={"expand": "country,themes"})
    assert response.status_code == 200, response.text
    city = response.json()
    assert len(city["themes"]) == 12
    for ref in [city["country"], *city["themes"]]:
        assert ref["record"] == api.get(ref["href"]).json()
        # One level deep: the embedded record's own references stay references.
        assert all("record" not in inner for inner in references(ref["record"]))
    # Only the fields asked for.
    assert all("record" not in source for source in city["sources"])
    plain = api.get("/v2/cities/viborg").json()
    assert "record" not in plain["country"]
    assert {k: v for k, v in city.items() if k not in ("country", "themes")} == {
        k: v for k, v in plain.items() if k not in ("country", "themes")
    }


def test_every_embeddable_field_of_every_collection_embeds_on_a_list_page(
    api: httpx.Client,
) -> None:
    collections = {
        "theme": "themes",
        "country": "countries",
        "action_plan": "action-plans",
        "legal_basis": "legal-bases",
        "city": "cities",
        "organisation": "organisations",
        "cooperation": "cooperations",
        "practice": "practices",
        "contact_point": "contact-points",
    }
    assert set(collections) == set(EMBEDDABLE)
    embedded: set[tuple[str, str]] = set()
    for entity, path in collections.items():
        fields = EMBEDDABLE[entity]
        page = api.get(f"/v2/{path}", params={"expand": ",".join(fields), "limit": 500}).json()
        cache: dict[str, Any] = {}
        for record in page["data"]:
            for field in fields:
                for ref in references(record[field]):
                    if ref["href"] not in cache:
                        cache[ref["href"]] = api.get(ref["href"]).json()
                    assert ref["record"] == cache[ref["href"]], (path, field, ref["href"])
                    embedded.add((entity, field))
    # Every field that can be embedded was, somewhere in the data.
    assert embedded == {(entity, field) for entity in EMBEDDABLE for field in EMBEDDABLE[entity]}


def test_embedded_records_are_in_the_readers_language(api: httpx.Client) -> None:
    french = api.get("/v2/cities/viborg", params={"expand": "themes,country", "lang": "fr"})
    body = french.json()
    assert body["country"]["record"]["name"] == {"fr": "Danemark"}
    assert all(list(t["record"]["label"]) == ["fr"] for t in body["themes"])
    # Viborg's own texts are in English only; the themes and the country bring French.
    assert french.headers["content-language"] == "en, fr"
    plain = api.get("/v2/cities/viborg", params={"lang": "fr"})
    assert plain.headers["content-language"] == "en"
    by_header = api.get(
        "/v2/cities/viborg", params={"expand": "themes"}, headers={"Accept-Language": "fr"}
    )
    assert (
        by_header.json()["themes"]
        == api.get("/v2/cities/viborg", params={"expand": "themes", "lang": "fr"}).json()["themes"]
    )


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("/v2/cities/viborg?expand=leaders", "country, sources, themes"),
        ("/v2/cities?expand=country,bogus", "country, sources, themes"),
        ("/v2/practices?expand=", "cities, cooperations, country"),
        ("/v2/countries/dk?expand=country", "sources, strategy_organisations"),
        ("/v2/themes?expand=themes,", "sources"),
    ],
)
def test_a_name_that_cannot_be_embedded_is_a_400_naming_the_allowed_ones(
    api: httpx.Client, url: str, allowed: str
) -> None:
    response = api.get(url)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert allowed in problem["detail"]
    assert problem["errors"][0]["parameter"] == "expand"


def test_expand_is_v2_only_and_given_once(api: httpx.Client) -> None:
    assert api.get("/v1/cities/viborg?expand=country").status_code == 400
    assert api.get("/v2/sources?expand=sources").status_code == 400  # a source names nothing
    assert api.get("/v2/search?q=exit&expand=country").status_code == 400
    twice = api.get("/v2/cities?expand=country&expand=themes")
    assert twice.status_code == 400 and "once" in twice.json()["detail"]


def test_csv_lists_references_by_id_whatever_expand_says(api: httpx.Client) -> None:
    plain = api.get("/v2/cities", params={"format": "csv"})
    expanded = api.get("/v2/cities", params={"format": "csv", "expand": "country"})
    assert expanded.status_code == 200
    assert expanded.text == plain.text


def test_the_contract_declares_expand_and_the_embedded_record(api: httpx.Client) -> None:
    spec = api.get("/v2/openapi.json").json()
    (expand,) = [
        p for p in spec["paths"]["/v2/cities/{id}"]["get"]["parameters"] if p["name"] == "expand"
    ]
    assert expand["schema"]["pattern"] == "^(country|sources|themes)(,(country|sources|themes))*$"
    record = spec["components"]["schemas"]["Ref"]["properties"]["record"]
    assert record["discriminator"]["mapping"]["theme"] == "#/components/schemas/Theme"
    assert (
        "record"
        not in api.get("/v1/openapi.json").json()["components"]["schemas"]["Ref"]["properties"]
    )


def test_the_etag_follows_the_embedded_records(loaded_database_url: str, seeds: Path) -> None:
    with live_server(loaded_database_url) as base, client(base) as http:
        plain = http.get("/v2/cities/viborg")
        expanded = http.get("/v2/cities/viborg", params={"expand": "themes"})
        assert plain.headers["etag"] != expanded.headers["etag"]
        revalidated = http.get(
            "/v2/cities/viborg",
            params={"expand": "themes"},
            headers={"If-None-Match": expanded.headers["etag"]},
        )
        assert revalidated.status_code == 304

        edit_record(
            seeds,
            "themes.yaml",
            "community-resilience",
            lambda r: r.update(label={"fr": "Résilience des communautés"}),
        )
        engine = create_engine(loaded_database_url)
        try:
            load(engine, seeds)
        finally:
            engine.dispose()

        # Viborg itself did not change: its plain representation keeps its ETag ...
        assert http.get("/v2/cities/viborg").headers["etag"] == plain.headers["etag"]
        # ... but the representation embedding the theme changed, and says so.
        again = http.get(
            "/v2/cities/viborg",
            params={"expand": "themes"},
            headers={"If-None-Match": expanded.headers["etag"]},
        )
        assert again.status_code == 200
        assert again.headers["etag"] != expanded.headers["etag"]
        labels = [t["record"]["label"] for t in again.json()["themes"]]
        assert {"fr": "Résilience des communautés"} in labels


def test_embedding_reads_each_referenced_type_in_a_bounded_number_of_queries(
    loaded_database_url: str,
) -> None:
    """The statements a page needs do not grow with its size: references are gathered from
    the whole page and read per type, not per record."""
    app = create_app(Settings(database_url=loaded_database_url, response_cache_mb=0))
    statements: list[str] = []
    sa.event.listen(
        app.state.engine, "before_cursor_execute", lambda *args: statements.append(args[2])
    )

    def count(limit: int, expand: str | None) -> int:
        statements.clear()
        params: dict[str, Any] = {"limit": limit}
        if expand:
            params["expand"] = expand
        response = http.get("/v2/practices", params=params)
        assert response.status_code == 200
        assert len(response.json()["data"]) == limit
        return len(statements)

    fields = ",".join(EMBEDDABLE["practice"])
    with live_app(app) as base, client(base) as http:
        page = http.get("/v2/practices", params={"limit": 25, "expand": fields}).json()
        embedded = [
            r for p in page["data"] for f in EMBEDDABLE["practice"] for r in references(p[f])
        ]
        types = {ref["type"] for ref in embedded}
        extra = count(25, fields) - count(25, None)
        few = count(3, fields) - count(3, None)
    # Per referenced type: its rows, its citations and its link tables (a practice has five);
    # never one query per referenced record.
    assert len(embedded) > 7 * len(types)
    assert few <= extra <= 7 * len(types)
