"""The HSDS 3.0 profile (/hsds) over real HTTP, on both engines: every item validates against
Open Referral's official schemas, and paging, filters, errors and caching behave as HSDS and the
rest of this API promise."""

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.api.hsds.openapi import hsds_openapi
from app.settings import PROJECT_ROOT
from tests.live import client, live_server, schemathesis, serve_process
from tests.test_contract import assert_schemathesis_passed

# The official schemas, unchanged, with their licence (tests/fixtures/hsds-3.0/README.md);
# HSDS_SCHEMAS may point to another copy.
OFFICIAL = Path(os.environ.get("HSDS_SCHEMAS", PROJECT_ROOT / "tests" / "fixtures" / "hsds-3.0"))
CHECK_JSONSCHEMA = str(Path(sys.executable).parent / "check-jsonschema")
COMMITTED = PROJECT_ROOT / "openapi" / "hsds.json"
# As docs/HSDS.md tells anyone to compute an id, independently of the code.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:scn-open-data:hsds")


def hsds_id(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, name))


@pytest.fixture(scope="module")
def api(loaded_url: str) -> Iterator[httpx.Client]:
    with live_server(loaded_url) as base, client(base) as http:
        yield http


def every_page(api: httpx.Client, path: str, per_page: int) -> list[dict[str, Any]]:
    pages = []
    page = 1
    while True:
        response = api.get(path, params={"page": page, "per_page": per_page})
        assert response.status_code == 200, response.text
        pages.append(response.json())
        if response.json()["last_page"]:
            return pages
        page += 1


def v1_all(api: httpx.Client, path: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    url: str | None = f"{path}{'&' if '?' in path else '?'}limit=500"
    while url:
        body = api.get(url).json()
        records += body["data"]
        url = body["links"]["next"]
    return records


def validate(schema: str, instances: list[dict[str, Any]], folder: Path) -> None:
    """Run check-jsonschema (formats checked: uuid, uri, email, date-time) on every instance."""
    assert (OFFICIAL / schema).is_file(), f"official HSDS schemas not found in {OFFICIAL}"
    assert instances
    folder.mkdir()
    files = []
    for number, instance in enumerate(instances):
        path = folder / f"{number:04d}.json"
        path.write_text(json.dumps(instance), encoding="utf-8")
        files.append(str(path))
    result = subprocess.run(
        [CHECK_JSONSCHEMA, "--schemafile", str(OFFICIAL / schema), *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


# --- the official schemas ---------------------------------------------------------------------


def test_every_item_and_record_validates_against_the_official_schemas(
    loaded_url: str, tmp_path: Path
) -> None:
    # Personal contacts published: contacts with names and phones are validated too.
    collected: dict[str, list[dict[str, Any]]] = {
        "service_list.json": [],
        "service.json": [],
        "organization_list.json": [],
        "organization.json": [],
    }
    for personal in (False, True):
        with (
            live_server(loaded_url, publish_personal_contacts=personal) as base,
            client(base) as http,
        ):
            for collection, schema in (("services", "service"), ("organizations", "organization")):
                items = [
                    i for p in every_page(http, f"/hsds/{collection}", 10) for i in p["contents"]
                ]
                collected[f"{schema}_list.json"] += items
                for item in items:
                    full = http.get(f"/hsds/{collection}/{item['id']}")
                    assert full.status_code == 200, full.text
                    collected[f"{schema}.json"].append(full.json())
    for schema, instances in collected.items():
        validate(schema, instances, tmp_path / schema)
    services = collected["service.json"]
    # The nested objects the mapping produces are all exercised by the data set.
    for field in ("phones", "contacts", "schedules", "service_areas", "service_at_locations"):
        assert any(s[field] for s in services), field
    for field in ("funding", "organization", "program"):
        assert any(s.get(field) for s in services), field
    assert any(c.get("phones") for s in services for c in s["contacts"])
    organizations = collected["organization.json"]
    for field in ("locations", "organization_identifiers", "services", "contacts", "phones"):
        assert any(o[field] for o in organizations), field


# --- the API root and ids ---------------------------------------------------------------------


def test_the_root_gives_the_version_profile_and_contract(api: httpx.Client) -> None:
    root = api.get("/hsds/").json()
    assert root["version"] == "3.0"
    for name in ("profile", "openapi_url"):
        assert root[name].startswith(str(api.base_url))
        assert api.get(root[name]).status_code == 200
    assert api.get(root["openapi_url"]).json() == json.loads(COMMITTED.read_text("utf-8"))


def test_ids_are_the_documented_uuids_of_v1_ids(api: httpx.Client) -> None:
    practices = v1_all(api, "/v1/practices")
    services = [i for p in every_page(api, "/hsds/services", 500) for i in p["contents"]]
    assert [s["id"] for s in services] == [hsds_id(f"practice/{p['id']}") for p in practices]
    hotline = api.get(f"/hsds/services/{hsds_id('practice/viborg-hotline')}").json()
    assert hotline["name"] == api.get("/v1/practices/viborg-hotline").json()["name"]
    pet = api.get(f"/hsds/organizations/{hsds_id('organisation/pet')}").json()
    assert pet["uri"].endswith("/v1/organisations/pet")
    # Case does not matter in a UUID.
    assert api.get(f"/hsds/organizations/{hsds_id('organisation/pet').upper()}").json() == pet


# --- the facts carried over -------------------------------------------------------------------


def test_services_carry_the_practices_facts(api: httpx.Client) -> None:
    def service(practice: str) -> dict[str, Any]:
        response = api.get(f"/hsds/services/{hsds_id(f'practice/{practice}')}")
        assert response.status_code == 200
        return response.json()

    practice = api.get("/v1/practices/dignity-treatment-programme").json()
    dignity = service("dignity-treatment-programme")
    assert (dignity["minimum_age"], dignity["maximum_age"]) == (18, 34)
    assert dignity["description"] == practice["summary"]
    assert dignity["eligibility_description"] == "; ".join(practice["target_groups"])
    assert dignity["organization_id"] == hsds_id(f"organisation/{provider_ids(practice)[0]}")
    assert dignity["organization"]["id"] == dignity["organization_id"]

    hotline = service("viborg-hotline")
    assert [s["description"] for s in hotline["schedules"]] == ["24/7"]
    assert [a["name"] for a in hotline["service_areas"]] == ["Viborg"]
    themes = {
        a["taxonomy_term"]["code"] for a in hotline["attributes"] if a["link_type"] == "theme"
    }
    assert themes == {t["id"] for t in api.get("/v1/practices/viborg-hotline").json()["themes"]}

    # CoCoRa ran 2015-17: its period has ended, so it is not listed as active.
    cocora = service("cocora")
    assert cocora["status"] == "inactive"
    assert cocora["url"] == "http://cocoraproject.eu/"
    assert any("Erasmus+" in f["source"] for f in cocora["funding"])
    # Mhtconsult coordinates CoCoRa, which has no lead: it provides the service.
    assert cocora["organization"]["name"] == "Mhtconsult"
    assert cocora["email"] == "mht@mhtconsult.dk"
    part = service("cocora-prevention-programme")
    assert part["program_id"] == part["program"]["id"]
    assert part["program"]["name"] == cocora["name"]

    sources = [a for a in cocora["attributes"] if a["link_type"] == "source"]
    assert {a["taxonomy_term"]["code"] for a in sources} == {
        s["id"] for s in api.get("/v1/practices/cocora").json()["sources"]
    }


def test_personal_contacts_stay_withheld(api: httpx.Client) -> None:
    aarhus = api.get(
        f"/hsds/services/{hsds_id('practice/aarhus-prevention-of-radicalisation-and-discrimination')}"
    )
    text = aarhus.text
    assert "Saigusa" not in text and "Reichenbach" not in text
    assert "@" not in json.dumps(aarhus.json()["contacts"])


def test_organizations_carry_the_organisations_facts(api: httpx.Client) -> None:
    isd = api.get(f"/hsds/organizations/{hsds_id('organisation/institute-for-strategic-dialogue')}")
    identifiers = isd.json()["organization_identifiers"]
    assert [(i["identifier"], i["identifier_type"]) for i in identifiers] == [
        ("1076660", "Registration number (GB)")
    ]
    mht = api.get(f"/hsds/organizations/{hsds_id('organisation/mhtconsult')}").json()
    assert mht["legal_status"] == "limited company"
    (address,) = [a for loc in mht["locations"] for a in loc["addresses"]]
    assert (address["address_1"], address["postal_code"], address["city"]) == (
        "Karlsgårdsvej 11",
        "3000",
        "Elsinore",
    )
    assert [s["id"] for s in mht["services"]] == [hsds_id("practice/cocora")]
    # Where no source describes a body, its description is the facts held about it.
    ministry = api.get(f"/hsds/organizations/{hsds_id('organisation/ministry-of-justice')}").json()
    assert ministry["description"] == "Ministry, national level, public sector."


# --- paging -----------------------------------------------------------------------------------


@pytest.mark.parametrize("per_page", [1, 7, 25, 500])
def test_the_paging_envelope_adds_up(api: httpx.Client, per_page: int) -> None:
    total = len(v1_all(api, "/v1/practices"))
    pages = every_page(api, "/hsds/services", per_page)
    expected_pages = -(-total // per_page)
    assert len(pages) == expected_pages
    ids = []
    for number, page in enumerate(pages, start=1):
        assert page["total_items"] == total
        assert page["total_pages"] == expected_pages
        assert page["page_number"] == number
        assert (
            page["size"] == len(page["contents"]) == min(per_page, total - (number - 1) * per_page)
        )
        assert page["first_page"] is (number == 1)
        assert page["last_page"] is (number == expected_pages)
        assert page["empty"] is False
        ids += [s["id"] for s in page["contents"]]
    assert len(set(ids)) == total


def test_a_page_past_the_end_is_empty(api: httpx.Client) -> None:
    body = api.get("/hsds/organizations", params={"page": 99, "per_page": 10}).json()
    assert body["contents"] == [] and body["size"] == 0
    assert body["empty"] is True and body["last_page"] is True and body["first_page"] is False
    assert body["page_number"] == 99 and body["total_pages"] == -(-body["total_items"] // 10)


def test_the_link_header_names_the_next_page(api: httpx.Client) -> None:
    first = api.get("/hsds/organizations", params={"per_page": 10, "search": "ministry"})
    body = first.json()
    assert body["total_pages"] >= 2
    following = api.get(first.links["next"]["url"])
    assert following.json()["page_number"] == 2
    assert following.json()["total_items"] == body["total_items"]
    last = api.get("/hsds/organizations", params={"per_page": 500})
    assert "link" not in last.headers


# --- filters ----------------------------------------------------------------------------------


def service_ids(api: httpx.Client, **params: str) -> set[str]:
    response = api.get("/hsds/services", params={**params, "per_page": 500})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_items"] == len(body["contents"])
    return {s["id"] for s in body["contents"]}


def provider_ids(practice: dict[str, Any]) -> list[str]:
    """As docs/HSDS.md says: the leads, or where there is none, the coordinators."""
    for role in ("lead", "coordinator"):
        found = sorted(o["id"] for o in practice["organisations"] if o["role"] == role)
        if found:
            return found
    return []


def test_organization_id_lists_the_services_an_organization_provides(api: httpx.Client) -> None:
    practices = v1_all(api, "/v1/practices")
    organisations = {o["id"] for p in practices for o in p["organisations"]}
    assert len(organisations) >= 5
    for organisation in organisations:
        expected = {
            hsds_id(f"practice/{p['id']}") for p in practices if organisation in provider_ids(p)
        }
        assert service_ids(api, organization_id=hsds_id(f"organisation/{organisation}")) == expected
    assert service_ids(api, organization_id=str(uuid.uuid4())) == set()
    assert service_ids(api, organization_id="not-a-uuid") == set()


def test_taxonomy_term_id_filters_by_theme_kind_and_source(api: httpx.Client) -> None:
    practices = v1_all(api, "/v1/practices")
    cases = {
        "theme/support-hotline": lambda p: "support-hotline" in {t["id"] for t in p["themes"]},
        "practice_kind/training": lambda p: p["kind"] == "training",
        "source/scn-viborg-profile": lambda p: (
            "scn-viborg-profile" in {s["id"] for s in p["sources"]}
        ),
    }
    for term, matches in cases.items():
        expected = {hsds_id(f"practice/{p['id']}") for p in practices if matches(p)}
        assert expected, term
        assert service_ids(api, taxonomy_term_id=hsds_id(term)) == expected
    # An organisation's id is not a term.
    assert service_ids(api, taxonomy_term_id=hsds_id("organisation/pet")) == set()


def test_search_finds_what_v1_search_finds(api: httpx.Client) -> None:
    for words in ("hotline", "parents", "radicalisation prison"):
        expected = {hsds_id(f"practice/{p['id']}") for p in v1_all(api, f"/v1/practices?q={words}")}
        assert service_ids(api, search=words) == expected
    organisations = api.get("/hsds/organizations", params={"search": "police"}).json()
    assert organisations["total_items"] >= 2
    assert all(
        "olice" in o["name"] or "olice" in o["description"] for o in organisations["contents"]
    )


def test_modified_after(api: httpx.Client) -> None:
    services = [i for p in every_page(api, "/hsds/services", 500) for i in p["contents"]]
    newest = max(s["last_modified"] for s in services)
    everything = {s["id"] for s in services}
    assert service_ids(api, modified_after="2000-01-01T00:00:00Z") == everything
    assert service_ids(api, modified_after=newest) == {
        s["id"] for s in services if s["last_modified"] == newest
    }
    assert service_ids(api, modified_after="2999-01-01") == set()


def test_filters_combine(api: httpx.Client) -> None:
    training = service_ids(api, taxonomy_term_id=hsds_id("practice_kind/training"))
    both = service_ids(api, taxonomy_term_id=hsds_id("practice_kind/training"), search="prison")
    assert both and both < training


# --- errors and caching -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"/hsds/services/{uuid.UUID(int=0)}",
        "/hsds/services/vink",
        f"/hsds/organizations/{hsds_id('practice/vink')}",
        f"/hsds/services/{hsds_id('organisation/pet')}",
    ],
)
def test_unknown_ids_are_404_problems(api: httpx.Client, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=abc",
        "per_page=0",
        "per_page=501",
        "modified_after=yesterday",
        "search=",
        "full=true",
        "organization_id=1&organization_id=2",
    ],
)
def test_bad_parameters_are_400_problems(api: httpx.Client, query: str) -> None:
    response = api.get(f"/hsds/services?{query}")
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400 and problem["detail"]


def test_organizations_take_only_their_hsds_parameters(api: httpx.Client) -> None:
    response = api.get("/hsds/organizations?organization_id=x")
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameter"] == "organization_id"


@pytest.mark.parametrize(
    "path", ["/hsds/", "/hsds/services?per_page=5", "/hsds/organizations/{pet}"]
)
def test_responses_are_cacheable(api: httpx.Client, path: str) -> None:
    url = path.format(pet=hsds_id("organisation/pet"))
    first = api.get(url)
    assert first.status_code == 200 and first.headers["etag"]
    assert "max-age" in first.headers["cache-control"]
    again = api.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


# --- the contract -----------------------------------------------------------------------------


def test_the_committed_contract_is_what_the_code_publishes() -> None:
    assert json.loads(COMMITTED.read_text("utf-8")) == hsds_openapi(), (
        "openapi/hsds.json differs from the code's contract: run "
        "`scn openapi --contract hsds -o openapi/hsds.json` and review the diff."
    )


def test_the_contract_uses_hsds_names(api: httpx.Client) -> None:
    official = json.loads((OFFICIAL / "openapi.json").read_text("utf-8"))
    ours = api.get("/hsds/openapi.json").json()
    parameters = official["components"]["parameters"]
    for path in ("/services", "/organizations", "/services/{id}", "/organizations/{id}", "/"):
        assert (
            ours["paths"][f"/hsds{path}"]["get"]["operationId"]
            == (official["paths"][path]["get"]["operationId"])
        )
    served = {p["name"]: p for p in ours["paths"]["/hsds/services"]["get"]["parameters"]}
    for name in (
        "page",
        "per_page",
        "search",
        "modified_after",
        "organization_id",
        "taxonomy_term_id",
    ):
        assert served[name]["in"] == parameters[name]["in"] == "query"
        assert served[name]["schema"]["type"] == parameters[name]["schema"]["type"]
    envelope = ours["components"]["schemas"]["ServicePage"]["properties"]
    assert set(official["components"]["schemas"]["Page"]["properties"]) < set(envelope)


@pytest.mark.slow
def test_schemathesis_finds_nothing(loaded_database_url: str) -> None:
    with serve_process(loaded_database_url) as (base, _):
        result = schemathesis(f"{base}/hsds/openapi.json")
    assert_schemathesis_passed(result)
