"""The committed contract: served unchanged, complete, and fuzzed by Schemathesis."""

import json

import pytest

from app.api.openapi import ERRORS, v1_openapi
from app.settings import PROJECT_ROOT
from tests.live import client, live_server, schemathesis

COMMITTED = PROJECT_ROOT / "openapi" / "v1.json"


def test_the_committed_contract_is_what_the_code_publishes() -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == v1_openapi(), (
        "openapi/v1.json differs from the code's contract. If the change is deliberate and "
        "additive, run `scn openapi -o openapi/v1.json` and review the diff."
    )


def test_the_server_serves_the_committed_contract(database_url: str) -> None:
    with live_server(database_url) as base, client(base) as http:
        served = http.get("/v1/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(COMMITTED.read_text(encoding="utf-8"))


def _operations() -> list[tuple[str, dict]]:
    spec = v1_openapi()
    return [(path, op) for path, item in spec["paths"].items() for op in item.values()]


def test_every_operation_documents_its_errors_and_caching() -> None:
    for path, operation in _operations():
        responses = operation["responses"]
        for status in ERRORS:
            if status == 404 and "{id}" not in path:
                continue
            content = responses[str(status)]["content"]
            assert list(content) == ["application/problem+json"], (path, status)
        assert "304" in responses
        assert {"ETag", "Cache-Control", "Last-Modified"} <= set(responses["200"]["headers"])


def test_operation_ids_are_stable_and_readable() -> None:
    ids = {op["operationId"] for _, op in _operations()}
    assert {"listCities", "getCity", "listPractices", "getPractice", "search", "getMeta"} <= ids
    assert len(ids) == len(_operations())


def _schemas_without_descriptions(spec: dict) -> list[str]:
    missing = []
    for name, schema in spec["components"]["schemas"].items():
        if not schema.get("description"):
            missing.append(name)
        for prop, definition in schema.get("properties", {}).items():
            if name.startswith("Page_"):
                continue
            described = (
                definition.get("description")
                or "$ref" in definition
                or any("$ref" in branch for branch in definition.get("anyOf", []))
            )
            if not described:
                missing.append(f"{name}.{prop}")
    return missing


def test_every_parameter_has_a_description_and_an_example() -> None:
    for path, operation in _operations():
        for parameter in operation.get("parameters", []):
            assert parameter.get("description"), (path, parameter["name"])
            if parameter["name"] != "cursor":
                assert (
                    parameter.get("examples")
                    or parameter["schema"].get("examples")
                    or (parameter["schema"].get("default") is not None)
                ), (path, parameter["name"])


def test_every_field_is_described() -> None:
    missing = _schemas_without_descriptions(v1_openapi())
    assert not missing, f"fields without a description: {missing}"


def test_docs_pages_use_no_network_assets(database_url: str) -> None:
    with live_server(database_url) as base, client(base) as http:
        for page in ("/docs", "/redoc"):
            html = http.get(page).text
            assert "cdn" not in html.lower() and "https://" not in html
            for asset in ("/static/docs/swagger-ui-bundle.js", "/static/docs/redoc.standalone.js"):
                if asset in html:
                    assert http.get(asset).status_code == 200


@pytest.mark.slow
def test_schemathesis_finds_nothing(loaded_database_url: str) -> None:
    with live_server(loaded_database_url) as base:
        result = schemathesis(f"{base}/v1/openapi.json")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout


def test_the_schema_examples_are_the_real_data() -> None:
    from app.api.v1.examples import render_examples, stored_examples

    assert stored_examples() == render_examples(), (
        "app/api/v1/examples.json no longer matches seeds/: run "
        "`.venv/bin/python -m app.api.v1.examples`, then `scn openapi -o openapi/v1.json`"
    )


def test_every_entity_schema_shows_a_real_record() -> None:
    schemas = v1_openapi()["components"]["schemas"]
    for name in ("City", "Practice", "Organisation", "Cooperation", "Source", "ContactPoint"):
        (example,) = schemas[name]["examples"]
        assert example["links"]["self"].startswith("/v1/")
