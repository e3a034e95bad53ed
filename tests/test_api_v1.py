"""Read API v1 over real HTTP (uvicorn), on both engines, with the Danish data set loaded."""

import shutil
from collections.abc import Iterator
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import httpx
import pytest
import yaml

from app import migrate
from app.api.collections import COLLECTION_LIST
from app.api.main import create_app
from app.db import create_engine
from app.loader import load
from app.settings import Settings
from tests.conftest import SEEDS
from tests.helpers import edit_record
from tests.live import client, live_app, live_server

COLLECTION_PATHS = [c.path for c in COLLECTION_LIST]


@pytest.fixture(scope="module")
def api(loaded_url: str) -> Iterator[httpx.Client]:
    with live_server(loaded_url) as base, client(base) as http:
        yield http


def all_pages(api: httpx.Client, url: str) -> list[dict]:
    records: list[dict] = []
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        records += body["data"]
        url = body["links"]["next"]
    return records


# --- every entity, every relationship --------------------------------------------------------


@pytest.mark.parametrize("path", COLLECTION_PATHS)
def test_every_record_is_listed_and_fetchable_by_its_link(api: httpx.Client, path: str) -> None:
    records = all_pages(api, f"/v1/{path}?limit=500")
    assert records, f"/v1/{path} is empty"
    for record in records:
        one = api.get(record["links"]["self"])
        assert one.status_code == 200
        assert one.json() == record


def test_every_reference_and_link_in_every_record_resolves(api: httpx.Client) -> None:
    """A client can follow every relationship: each reference (`href`) leads to the record it
    names, and each link leads to a collection listing the records on the other side."""
    seen: set[str] = set()
    for path in COLLECTION_PATHS:
        for record in all_pages(api, f"/v1/{path}?limit=500"):
            for ref in _refs(record):
                if ref["href"] in seen:
                    continue
                seen.add(ref["href"])
                target = api.get(ref["href"])
                assert target.status_code == 200, f"{ref['href']} from {record['id']}"
                assert (target.json()["type"], target.json()["id"]) == (ref["type"], ref["id"])
            for name, url in record["links"].items():
                if name != "self" and url not in seen:
                    seen.add(url)
                    assert api.get(url).status_code == 200, f"links.{name} of {record['id']}"
    assert len(seen) > 300


def _refs(value: object) -> Iterator[dict]:
    if isinstance(value, dict):
        if "href" in value and "id" in value:
            yield value
        for key, child in value.items():
            if key != "links":
                yield from _refs(child)
    elif isinstance(value, list):
        for child in value:
            yield from _refs(child)


def linked(api: httpx.Client, record: dict, name: str) -> set[str]:
    """The ids of the records behind one of a record's links."""
    return {r["id"] for r in all_pages(api, record["links"][name] + "&limit=500")}


def test_a_city_with_its_leadership_themes_organisations_and_practices(api: httpx.Client) -> None:
    viborg = api.get("/v1/cities/viborg").json()
    assert viborg["population"] == 96500
    assert viborg["scn_member"] is True
    assert viborg["scn_member_since"] == {"date": "2016-12-01", "precision": "month"}
    assert viborg["leaders"] == [
        {"role": "Mayor", "person_name": "Ulrik Wilbek", "title": "Mayor of Viborg"}
    ]
    assert len(viborg["themes"]) == 12
    assert viborg["links"]["practices"] == "/v1/practices?city=viborg"
    assert "viborg-hotline" in linked(api, viborg, "practices")
    assert "sted1" in linked(api, viborg, "organisations")
    assert "ssp-viborg" in linked(api, viborg, "cooperations")
    assert {s["id"] for s in viborg["sources"]} >= {"scn-viborg-profile", "scn-viborg-profile-fr"}


def test_an_organisation_with_parent_children_cooperations_and_practices(
    api: httpx.Client,
) -> None:
    pet = api.get("/v1/organisations/pet").json()
    assert pet["parent"]["id"] == "ministry-of-justice"
    assert "pet-centre-for-prevention" in linked(api, pet, "children")
    centre = api.get("/v1/organisations/pet-centre-for-prevention").json()
    assert centre["established"] == {"date": "2007-01-01", "precision": "year"}
    assert "disengagement-and-critical-aftercare" in linked(api, centre, "practices")
    prison = api.get("/v1/organisations/danish-prison-and-probation-service").json()
    assert "ksp" in linked(api, prison, "cooperations")
    board = api.get("/v1/organisations/danish-national-board-of-health").json()
    assert "dignity" in linked(api, board, "related_from")
    dignity = api.get("/v1/organisations/dignity").json()
    assert ("danish-national-board-of-health", "recognised_by") in {
        (r["id"], r["role"]) for r in dignity["relations"]
    }


def test_a_practice_with_lead_partners_roles_cities_and_sub_practices(api: httpx.Client) -> None:
    cocora = api.get("/v1/practices/cocora").json()
    roles = {(o["id"], o["role"]) for o in cocora["organisations"]}
    assert ("mhtconsult", "coordinator") in roles or ("mhtconsult", "lead") in roles
    assert ("european-commission", "funder") in roles
    assert len(linked(api, cocora, "sub_practices")) == 3
    assert cocora["period"]["start"] == {"date": "2015-01-01", "precision": "year"}
    assert cocora["period"]["end"] == {"date": "2017-01-01", "precision": "year"}
    assert cocora["funding"]["kind"] == "eu"
    training = api.get("/v1/practices/train-the-trainer").json()
    assert training["cost"] == {"amount": 30000, "currency": "EUR", "estimate": True}
    meetings = api.get("/v1/practices/viborg-parent-meetings").json()
    assert any(f["value"] == 170 and f["per"] == "year" for f in meetings["figures"])
    assert meetings["cities"][0]["id"] == "viborg"
    dignity = api.get("/v1/practices/dignity-treatment-programme").json()
    assert dignity["ages"] == {"min": 18, "max": 34}
    back_on_track = api.get("/v1/practices/back-on-track").json()
    assert back_on_track["predecessor"]["id"] == "dti"
    assert "back-on-track" in linked(api, api.get("/v1/practices/dti").json(), "successors")


def test_a_cooperation_with_members_model_and_instances(api: httpx.Client) -> None:
    ssp = api.get("/v1/cooperations/ssp").json()
    assert {m["sector"] for m in ssp["members"]} >= {"schools", "police"}
    assert ssp["established"]["precision"] == "decade"
    assert "ssp-viborg" in linked(api, ssp, "local_instances")
    assert ssp["legal_basis"]["id"] == "dk-administration-justice-act-s115"
    unit = api.get("/v1/cooperations/copenhagen-radicalisation-standby-unit").json()
    assert "ssp-copenhagen" in {m["cooperation"]["id"] for m in unit["members"] if m["cooperation"]}
    ssp_copenhagen = api.get("/v1/cooperations/ssp-copenhagen").json()
    assert unit["id"] in linked(api, ssp_copenhagen, "member_of")


def test_a_source_links_to_every_record_citing_it(api: httpx.Client) -> None:
    source = api.get("/v1/sources/scn-viborg-profile").json()
    assert "viborg" in linked(api, source, "cities")
    cited = sum(len(linked(api, source, name)) for name in source["links"] if name != "self")
    assert cited > 10


# --- filters -------------------------------------------------------------------------------


def ids(api: httpx.Client, url: str) -> set[str]:
    return {r["id"] for r in all_pages(api, url)}


def test_filters_combine_with_and_and_repeat_with_or(api: httpx.Client) -> None:
    ministries = ids(api, "/v1/organisations?kind=ministry")
    agencies = ids(api, "/v1/organisations?kind=agency")
    assert ministries and agencies
    assert ids(api, "/v1/organisations?kind=ministry&kind=agency") == ministries | agencies
    national = ids(api, "/v1/organisations?level=national")
    assert ids(api, "/v1/organisations?kind=ministry&level=national") == ministries & national


def test_practice_filters_follow_relationships(api: httpx.Client) -> None:
    in_viborg = ids(api, "/v1/practices?city=viborg")
    assert "viborg-hotline" in in_viborg and "cocora" not in in_viborg
    assert ids(api, "/v1/practices?theme=support-hotline") == {"viborg-hotline"}
    assert "cocora" in ids(api, "/v1/practices?organisation=mhtconsult")
    assert ids(api, "/v1/practices?parent=cocora") == {
        "cocora-collaborative-programme",
        "cocora-prevention-programme",
        "cocora-ambassador-programme",
    }
    assert ids(api, "/v1/practices?funding_kind=eu&city=viborg") <= in_viborg


def test_updated_since_and_text_query(api: httpx.Client) -> None:
    assert ids(api, "/v1/cities?updated_since=2000-01-01T00:00:00Z") == {
        "aarhus",
        "copenhagen",
        "viborg",
    }
    assert ids(api, "/v1/cities?updated_since=2999-01-01") == set()
    assert "viborg-hotline" in ids(api, "/v1/practices?q=hotline")
    assert ids(api, "/v1/practices?q=hotline&city=copenhagen") == set()
    assert ids(api, "/v1/practices?q=%22%2A%3A") == set(), "punctuation only matches nothing"
    assert ids(api, "/v1/action-plans?q=_") == set(), "a query of no word matches nothing"


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/v1/cities?colour=red", "colour"),
        ("/v1/cities?limit=0", "limit"),
        ("/v1/cities?limit=501", "limit"),
        ("/v1/cities?limit=ten", "limit"),
        ("/v1/cities?limit=5&limit=6", "limit"),
        ("/v1/organisations?kind=spy", "kind"),
        ("/v1/cities?updated_since=yesterday", "updated_since"),
        ("/v1/cities?updated_since=0.5", "updated_since"),
        ("/v1/cities/viborg?limit=5", "limit"),
        ("/v1/search?q=x&sort=asc", "sort"),
        ("/v1/search", "q"),
    ],
)
def test_bad_parameters_are_400_problems(api: httpx.Client, url: str, parameter: str) -> None:
    response = api.get(url)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 400
    assert parameter in body["detail"]


# --- pagination ------------------------------------------------------------------------------


def test_following_next_links_visits_every_record_once(api: httpx.Client) -> None:
    everything = [r["id"] for r in api.get("/v1/organisations?limit=500").json()["data"]]
    url: str | None = "/v1/organisations?limit=7"
    seen: list[str] = []
    while url:
        response = api.get(url)
        body = response.json()
        assert len(body["data"]) <= 7
        seen += [r["id"] for r in body["data"]]
        url = body["links"]["next"]
        # Link is a list (RFC 8288): v1 also carries rel="deprecation" since v2 exists.
        if url:
            assert response.links["next"]["url"] == url
            assert body["next_cursor"] in url
        else:
            assert "next" not in response.links
            assert body["next_cursor"] is None
    assert seen == everything == sorted(everything)


def test_the_default_page_is_50_records(api: httpx.Client) -> None:
    assert len(api.get("/v1/practices?limit=500").json()["data"]) < 50
    # fewer than 50 practices: one page; the contract's default is checked in test_contract.py


def test_a_tampered_or_foreign_cursor_is_a_400_problem(api: httpx.Client) -> None:
    cursor = api.get("/v1/organisations?limit=2").json()["next_cursor"]
    tampered = cursor[:-1] + ("0" if cursor[-1] != "0" else "1")
    for url in (
        f"/v1/organisations?limit=2&cursor={tampered}",
        f"/v1/organisations?limit=2&kind=ministry&cursor={cursor}",
        f"/v1/practices?limit=2&cursor={cursor}",
        "/v1/organisations?cursor=not-a-cursor",
    ):
        response = api.get(url)
        assert response.status_code == 400, url
        assert response.headers["content-type"] == "application/problem+json"
        assert "cursor" in response.json()["detail"]


# --- search ----------------------------------------------------------------------------------


def test_search_is_ranked_typed_and_linked(api: httpx.Client) -> None:
    body = api.get("/v1/search?q=hotline").json()
    assert body["data"], "hotline is in the data"
    ranks = [hit["rank"] for hit in body["data"]]
    assert ranks == sorted(ranks, reverse=True)
    assert {"viborg-hotline", "support-hotline"} <= {hit["id"] for hit in body["data"]}
    for hit in body["data"]:
        assert api.get(hit["href"]).json()["type"] == hit["type"]
    only = api.get("/v1/search?q=hotline&type=practice").json()["data"]
    assert only and {hit["type"] for hit in only} == {"practice"}


def test_search_finds_danish_words_and_pages_with_cursors(api: httpx.Client) -> None:
    assert "landemaerket" not in api.get("/v1/search?q=Landemærket").text.lower()
    hits = api.get("/v1/search?q=Landemærket").json()["data"]
    assert [h["type"] for h in hits] == ["contact_point"]
    first = api.get("/v1/search?q=prevention&limit=3").json()
    assert len(first["data"]) == 3 and first["next_cursor"]
    second = api.get(first["links"]["next"]).json()
    assert not {h["id"] for h in first["data"]} & {h["id"] for h in second["data"]}


@pytest.mark.parametrize(
    "q", ['"', "NEAR(a b)", "a AND OR", "name:x", "*", "'; DROP TABLE city; --", "\u0000", "ø*"]
)
def test_search_syntax_in_user_text_is_plain_text(api: httpx.Client, q: str) -> None:
    response = api.get("/v1/search", params={"q": q})
    assert response.status_code == 200, response.text


def test_personal_contact_points_are_never_searchable(api: httpx.Client) -> None:
    assert api.get("/v1/search?q=krwa").json()["data"] == []


# --- errors, methods, negotiation ------------------------------------------------------------


def test_unknown_record_and_path_are_404_problems(api: httpx.Client) -> None:
    for url in ("/v1/cities/atlantis", "/v1/nowhere", "/v3/cities"):
        response = api.get(url)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["instance"] == url.split("?")[0]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_writes_are_405_with_allow(api: httpx.Client, method: str) -> None:
    response = api.request(method, "/v1/cities")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    assert response.headers["content-type"] == "application/problem+json"


def test_options_lists_the_methods(api: httpx.Client) -> None:
    response = api.options("/v1/cities")
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"


def test_not_acceptable_is_406(api: httpx.Client) -> None:
    response = api.get("/v1/cities", headers={"Accept": "text/html"})
    assert response.status_code == 406
    assert response.headers["content-type"] == "application/problem+json"
    assert api.get("/v1/cities", headers={"Accept": "text/html, */*;q=0.1"}).status_code == 200


# --- caching ---------------------------------------------------------------------------------


def test_every_200_is_cacheable_with_a_strong_etag(api: httpx.Client) -> None:
    for url in ("/", "/v1/cities", "/v1/cities/viborg", "/v1/search?q=ssp", "/v1/meta"):
        response = api.get(url)
        assert response.status_code == 200
        assert response.headers["etag"].startswith('"'), "strong, not W/"
        assert response.headers["cache-control"].startswith("public, max-age=")
        again = api.get(url, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == response.headers["etag"]
        head = api.head(url, headers={"If-None-Match": response.headers["etag"]})
        assert head.status_code == 304


def test_head_is_get_without_a_body(api: httpx.Client) -> None:
    get = api.get("/v1/practices")
    head = api.head("/v1/practices")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == get.headers["etag"]


def test_last_modified_and_if_modified_since(api: httpx.Client) -> None:
    response = api.get("/v1/cities")
    last_modified = parsedate_to_datetime(response.headers["last-modified"])
    later = format_datetime(last_modified.replace(year=last_modified.year + 1), usegmt=True)
    assert api.get("/v1/cities", headers={"If-Modified-Since": later}).status_code == 304
    earlier = format_datetime(last_modified.replace(year=2000), usegmt=True)
    assert api.get("/v1/cities", headers={"If-Modified-Since": earlier}).status_code == 200


def test_the_etag_changes_exactly_when_the_representation_does(
    loaded_url: str, tmp_path: Path
) -> None:
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    with live_server(loaded_url) as base, client(base) as http:
        before = {u: http.get(u).headers["etag"] for u in ("/v1/cities/viborg", "/v1/themes")}
        engine = create_engine(loaded_url)
        try:
            load(engine, seeds)  # the same data: nothing changes
            assert {u: http.get(u).headers["etag"] for u in before} == before
            edit_record(seeds, "cities.yaml", "viborg", lambda r: r.update(population=96501))
            load(engine, seeds)
            after = {u: http.get(u).headers["etag"] for u in before}
            assert after["/v1/cities/viborg"] != before["/v1/cities/viborg"]
            assert after["/v1/themes"] == before["/v1/themes"], "themes did not change"
        finally:
            load(engine, SEEDS)
            engine.dispose()


# --- HTTP hygiene ----------------------------------------------------------------------------


def test_cors_is_open_for_reading(api: httpx.Client) -> None:
    response = api.get("/v1/cities", headers={"Origin": "https://example.org"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "ETag" in response.headers["access-control-expose-headers"]
    preflight = api.options(
        "/v1/cities",
        headers={"Origin": "https://example.org", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 200
    assert "GET" in preflight.headers["access-control-allow-methods"]


def test_large_bodies_are_gzipped_with_their_own_etag(api: httpx.Client) -> None:
    url = "/v1/organisations?limit=500"
    zipped = api.get(url, headers={"Accept-Encoding": "gzip"})
    plain = api.get(url, headers={"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert zipped.json() == plain.json()
    assert int(zipped.headers["content-length"]) < len(plain.content) / 3
    assert zipped.headers["etag"] != plain.headers["etag"], "one strong ETag per coding"
    for held in (zipped.headers["etag"], plain.headers["etag"]):
        again = api.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": held})
        assert again.status_code == 304
        assert again.headers["etag"] == zipped.headers["etag"]


def test_security_headers_on_every_response(api: httpx.Client) -> None:
    for url in ("/v1/cities", "/v1/cities/atlantis", "/healthz"):
        headers = api.get(url).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in headers["content-security-policy"]


# --- personal data ---------------------------------------------------------------------------


def test_personal_contact_points_are_withheld(api: httpx.Client) -> None:
    published = all_pages(api, "/v1/contact-points?limit=500")
    assert published and not any(c["is_personal"] for c in published)
    assert not any(c["person_name"] for c in published)
    assert "krwa@socialstyrelsen.dk" not in api.get("/v1/organisations?limit=500").text
    assert "krwa@socialstyrelsen.dk" not in api.get("/v1/practices?limit=500").text
    withheld = api.get("/v1/contact-points/psp-training-contact-email")
    assert withheld.status_code == 404
    assert "krwa" not in withheld.text


def test_the_operator_can_publish_personal_contact_points(loaded_url: str) -> None:
    with (
        live_server(loaded_url, publish_personal_contacts=True) as base,
        client(base) as http,
    ):
        contacts = all_pages(http, "/v1/contact-points?limit=500")
        assert any(c["value"] == "krwa@socialstyrelsen.dk" for c in contacts)
        one = http.get("/v1/contact-points/psp-training-contact-email").json()
        assert one["is_personal"] is True
        assert one["person_name"] == "Kristian Walther"


# --- meta and the root -----------------------------------------------------------------------


def test_meta_describes_the_data_set(api: httpx.Client) -> None:
    meta = api.get("/v1/meta").json()
    assert (
        meta["dataset_version"] == yaml.safe_load((SEEDS / "dataset.yaml").read_text())["version"]
    )
    assert meta["schema_revision"] == migrate.head_revision()
    assert meta["last_seq"] >= 125
    assert meta["licence"]["name"] == "CC BY 4.0"
    for path in COLLECTION_PATHS:
        assert meta["record_counts"][path] == len(all_pages(api, f"/v1/{path}?limit=500"))


def test_the_root_lists_the_versions(api: httpx.Client) -> None:
    root = api.get("/").json()
    assert [(v["version"], v["status"]) for v in root["versions"]] == [
        ("v2", "current"),
        ("v1", "deprecated"),
    ]


@pytest.mark.parametrize("url", ["/v1/export", "/v2/export?type=city", "/v1/practices?format=csv"])
@pytest.mark.parametrize("coding", ["identity", "gzip"])
def test_head_of_a_streamed_body_has_its_headers_and_reads_nothing(
    loaded_url: str, url: str, coding: str
) -> None:
    """An export or a CSV list answers HEAD with the GET's headers at once: the body (a whole
    export) is not made, and no connection stays taken."""
    app = create_app(Settings(database_url=loaded_url, export_cache_dir=""))
    with live_app(app) as base, client(base) as http:
        get = http.get(url, headers={"Accept-Encoding": coding})
        head = http.head(url, headers={"Accept-Encoding": coding})
        assert (head.status_code, head.content) == (200, b"")
        same = ("etag", "content-type", "content-encoding", "cache-control", "last-modified")
        assert {n: head.headers.get(n) for n in same} == {n: get.headers.get(n) for n in same}
        assert "content-length" not in head.headers
        assert app.state.engine.pool.checkedout() == 0
