"""API v2 over real HTTP, on both engines: texts as language maps, the reader's language by
`lang` or Accept-Language with a documented fallback, and the same data as v1 shows."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app import i18n
from app.api.collections import COLLECTION_LIST
from app.api.versions import MIGRATION_GUIDE_PATH
from tests.live import client, live_server

LANGUAGE_CODE = "abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="module")
def api(loaded_url: str) -> Iterator[httpx.Client]:
    with live_server(loaded_url) as base, client(base) as http:
        yield http


def export(api: httpx.Client, version: str, **params: str) -> list[dict[str, Any]]:
    response = api.get(f"/{version}/export", params=params)
    assert response.status_code == 200, response.text
    return [httpx.Response(200, content=line).json() for line in response.content.splitlines()]


def _is_language_map(value: Any, *, lists: bool) -> bool:
    return isinstance(value, dict) and all(
        len(code) == 2
        and set(code) <= set(LANGUAGE_CODE)
        and (
            isinstance(text, list) and all(isinstance(t, str) for t in text)
            if lists
            else isinstance(text, str)
        )
        for code, text in value.items()
    )


def test_every_text_is_a_language_map_and_v1_shows_its_primary_language(
    api: httpx.Client,
) -> None:
    """Every record, every translatable field: v2 holds a map, and v1's value is the map's
    English text, or its French or Danish one where there is no English."""
    v1 = {(r["type"], r["id"]): r for r in export(api, "v1")[1:]}
    v2_lines = export(api, "v2")
    assert v2_lines[0]["api_version"] == "v2"
    checked = 0
    for record in v2_lines[1:]:
        entity = record["type"]
        old = v1[(entity, record["id"])]
        for field in i18n.TEXT_FIELDS.get(entity, ()):
            if entity == "practice" and field == "funding":
                text = (record["funding"] or {}).get("description")
                old_text = (old["funding"] or {}).get("description")
            else:
                text, old_text = record[field], old[field]
            assert text is None or _is_language_map(text, lists=False), (record["id"], field)
            assert i18n.primary(text)[1] == old_text, (record["id"], field)
            checked += 1
        for field in i18n.TEXT_LIST_FIELDS.get(entity, ()):
            assert _is_language_map(record[field], lists=True), (record["id"], field)
            if field in old:
                assert (i18n.primary(record[field])[1] or []) == old[field], (record["id"], field)
        assert record["links"]["self"] == f"/v2/{old['links']['self'].removeprefix('/v1/')}"
    assert checked > 300


def test_french_by_accept_language(api: httpx.Client) -> None:
    response = api.get("/v2/countries/dk", headers={"Accept-Language": "fr-FR, fr;q=0.9"})
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == {"fr": "Danemark"}
    # The national overview exists in English only: English is the fallback.
    assert list(body["national_overview"]) == ["en"]
    assert response.headers["content-language"] == "en, fr"
    assert "accept-language" in response.headers["vary"].lower()


def test_lang_wins_over_accept_language(api: httpx.Client) -> None:
    prison = "/v2/organisations/danish-prison-and-probation-service"
    danish = api.get(f"{prison}?lang=da", headers={"Accept-Language": "fr"}).json()
    assert danish["name"] == {"da": "Kriminalforsorgen"}
    everything = api.get(f"{prison}?lang=*", headers={"Accept-Language": "da"}).json()
    assert everything["name"] == {
        "en": "Danish Prison and Probation Service",
        "da": "Kriminalforsorgen",
    }
    whole = api.get(prison)
    assert whole.json()["name"] == everything["name"]
    assert whole.headers["content-language"] == "da, en"


def test_quality_values_order_the_readers_languages(api: httpx.Client) -> None:
    headers = {"Accept-Language": "da;q=0.4, fr;q=0.8, en;q=0"}
    dk = api.get("/v2/countries/dk", headers=headers).json()
    assert dk["name"] == {"fr": "Danemark"}
    prison = api.get(
        "/v2/organisations/danish-prison-and-probation-service", headers=headers
    ).json()
    assert prison["name"] == {"da": "Kriminalforsorgen"}


def test_a_language_no_text_has_falls_back_to_english_then_french(api: httpx.Client) -> None:
    response = api.get("/v2/themes/support-hotline?lang=de")
    assert response.json()["label"] == {"fr": "Hotline de soutien"}
    assert response.headers["content-language"] == "fr"
    pet = api.get("/v2/organisations/pet", headers={"Accept-Language": "sv"}).json()
    assert pet["name"] == {"en": "Danish Security and Intelligence Service"}


@pytest.mark.parametrize("bad", ["fra", "FR", "f", "fr,en", "é"])
def test_an_invalid_lang_is_a_400_problem(api: httpx.Client, bad: str) -> None:
    response = api.get("/v2/cities", params={"lang": bad})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["parameter"] == "lang"


def test_v1_refuses_lang(api: httpx.Client) -> None:
    assert api.get("/v1/cities?lang=fr").status_code == 400


def test_each_language_has_its_own_etag_and_revalidates(api: httpx.Client) -> None:
    french = api.get("/v2/countries/dk?lang=fr")
    english = api.get("/v2/countries/dk?lang=en")
    assert french.headers["etag"] != english.headers["etag"]
    again = api.get(
        "/v2/countries/dk",
        headers={"Accept-Language": "fr", "If-None-Match": french.headers["etag"]},
    )
    assert again.status_code == 304


def test_what_v2_changed(api: httpx.Client) -> None:
    theme = api.get("/v2/themes/support-hotline").json()
    assert theme["label"] == {"fr": "Hotline de soutien"} and "label_language" not in theme
    scn = api.get("/v2/organisations/strong-cities-network").json()
    assert scn["mission_keywords"]["fr"][0] == "Connecter"
    assert len(scn["mission"]["fr"]) == 5
    assert list(scn["description"]) == ["fr"]
    v1_scn = api.get("/v1/organisations/strong-cities-network").json()
    assert "mission" not in v1_scn


@pytest.mark.parametrize("collection", [c.path for c in COLLECTION_LIST])
def test_every_reference_and_link_stays_in_v2(api: httpx.Client, collection: str) -> None:
    page = api.get(f"/v2/{collection}?limit=500").json()
    for record in page["data"]:
        for path in record["links"].values():
            assert path.startswith("/v2/")
        for source in record["sources"]:
            assert source["href"].startswith("/v2/sources/")
    assert page["links"]["self"].startswith(f"/v2/{collection}")


def test_search_and_changes_in_v2(api: httpx.Client) -> None:
    found = api.get("/v2/search?q=Danemark&lang=fr").json()
    (dk,) = [hit for hit in found["data"] if hit["id"] == "dk"]
    assert dk["name"] == {"fr": "Danemark"} and dk["href"] == "/v2/countries/dk"
    changes = api.get("/v2/changes?since=0&limit=1000").json()
    assert changes["links"]["next"].startswith("/v2/changes")
    upserts = [c for c in changes["data"] if c["op"] == "upsert"]
    assert all(c["href"].startswith("/v2/") for c in upserts)
    by_id = {c["id"]: c["record"] for c in upserts}
    assert by_id["dk"]["name"] == {"en": "Denmark", "fr": "Danemark"}


def test_v1_announces_its_retirement_and_v2_does_not(api: httpx.Client) -> None:
    for path in ("/v1/cities", "/v1/cities/viborg", "/v1/nowhere", "/v1/meta"):
        response = api.get(path)
        assert response.headers["deprecation"].startswith("@"), path
        assert response.headers["sunset"].endswith("GMT"), path
        assert f'<{MIGRATION_GUIDE_PATH}>; rel="deprecation"' in response.headers["link"]
    paged = api.get("/v1/cities?limit=1")
    assert 'rel="next"' in paged.headers["link"]
    v2 = api.get("/v2/cities")
    assert "deprecation" not in v2.headers and "sunset" not in v2.headers
    guide = api.get(MIGRATION_GUIDE_PATH)
    assert guide.status_code == 200
    assert guide.headers["content-type"].startswith("text/markdown")
    assert "v2" in guide.text


def test_the_root_lists_both_versions_with_their_status(api: httpx.Client) -> None:
    versions = {v["version"]: v for v in api.get("/").json()["versions"]}
    assert versions["v2"]["status"] == "current"
    assert versions["v1"]["status"] == "deprecated"
    assert versions["v1"]["sunset"] == "2027-11-30"
    for version in versions.values():
        assert api.get(version["contract"]).status_code == 200
        assert api.get(version["docs"]).status_code == 200


def test_csv_in_v2_writes_the_chosen_language_as_plain_text(api: httpx.Client) -> None:
    import csv
    import io

    french = api.get("/v2/countries?format=csv&lang=fr")
    assert french.status_code == 200
    assert french.headers["content-type"].startswith("text/csv")
    (row,) = list(csv.DictReader(io.StringIO(french.text)))
    assert row["name"] == "Danemark"
    every = api.get("/v2/countries?format=csv")
    (row,) = list(csv.DictReader(io.StringIO(every.text)))
    assert httpx.Response(200, content=row["name"]).json() == {"en": "Denmark", "fr": "Danemark"}
    assert french.headers["etag"] != every.headers["etag"]


def test_the_graph_in_v2_links_to_v2_records(api: httpx.Client) -> None:
    graph = api.get("/v2/graph?city=viborg&lang=fr").json()
    assert graph["nodes"] and all(n["href"].startswith("/v2/") for n in graph["nodes"])
    assert graph["links"]["self"].startswith("/v2/graph")
