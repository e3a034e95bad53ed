"""The committed contracts (openapi/v1.json, openapi/v2.json): served unchanged, complete, and
fuzzed by Schemathesis."""

import json
import subprocess
import tomllib

import pytest

from app.api.openapi import CONTRACTS, ERRORS
from app.settings import PROJECT_ROOT
from tests.live import client, live_server, schemathesis, serve_process

VERSIONS = list(CONTRACTS)


def committed(version: str) -> dict:
    return dict(json.loads((PROJECT_ROOT / "openapi" / f"{version}.json").read_text("utf-8")))


@pytest.mark.parametrize("version", VERSIONS)
def test_the_committed_contract_is_what_the_code_publishes(version: str) -> None:
    assert committed(version) == CONTRACTS[version](), (
        f"openapi/{version}.json differs from the code's contract. If the change is deliberate "
        f"and additive, run `scn openapi --api {version} -o openapi/{version}.json` and review "
        "the diff (tests/test_compatibility.py judges it against the released contract)."
    )


def test_the_server_serves_the_committed_contracts(database_url: str) -> None:
    with live_server(database_url) as base, client(base) as http:
        for version in VERSIONS:
            served = http.get(f"/{version}/openapi.json")
            assert served.status_code == 200
            assert served.json() == committed(version)


def _operations(version: str) -> list[tuple[str, dict]]:
    spec = CONTRACTS[version]()
    return [(path, op) for path, item in spec["paths"].items() for op in item.values()]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_operation_documents_its_errors_and_caching(version: str) -> None:
    for path, operation in _operations(version):
        responses = operation["responses"]
        for status in ERRORS:
            if status == 404 and "{id}" not in path:
                continue
            content = responses[str(status)]["content"]
            assert list(content) == ["application/problem+json"], (path, status)
        assert "304" in responses
        assert {"ETag", "Cache-Control", "Last-Modified"} <= set(responses["200"]["headers"])


@pytest.mark.parametrize("version", VERSIONS)
def test_operation_ids_are_stable_and_readable(version: str) -> None:
    ids = {op["operationId"] for _, op in _operations(version)}
    assert {"listCities", "getCity", "listPractices", "getPractice", "search", "getMeta"} <= ids
    assert len(ids) == len(_operations(version))


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


@pytest.mark.parametrize("version", VERSIONS)
def test_every_parameter_has_a_description_and_an_example(version: str) -> None:
    for path, operation in _operations(version):
        for parameter in operation.get("parameters", []):
            assert parameter.get("description"), (path, parameter["name"])
            if parameter["name"] != "cursor":
                assert (
                    parameter.get("examples")
                    or parameter["schema"].get("examples")
                    or (parameter["schema"].get("default") is not None)
                ), (path, parameter["name"])


@pytest.mark.parametrize("version", VERSIONS)
def test_every_field_is_described(version: str) -> None:
    missing = _schemas_without_descriptions(CONTRACTS[version]())
    assert not missing, f"fields without a description: {missing}"


def test_docs_pages_use_no_network_assets(database_url: str) -> None:
    with live_server(database_url) as base, client(base) as http:
        for page in ("/docs", "/redoc", "/v2/docs", "/v2/redoc"):
            html = http.get(page).text
            assert "cdn" not in html.lower() and "https://" not in html
            for asset in ("/static/docs/swagger-ui-bundle.js", "/static/docs/redoc.standalone.js"):
                if asset in html:
                    assert http.get(asset).status_code == 200


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_schemathesis_finds_nothing(loaded_database_url: str, version: str) -> None:
    """`schemathesis run` as app makers run it, against `scn serve`, with only the committed
    schemathesis.toml: the contract describes the server exactly."""
    with serve_process(loaded_database_url) as (base, _):
        result = schemathesis(f"{base}/{version}/openapi.json")
    assert_schemathesis_passed(result)


def assert_schemathesis_passed(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, output
    assert f"Configuration:    {PROJECT_ROOT / 'schemathesis.toml'}" in result.stdout, output
    assert "FAILURES" not in result.stdout and "Test cases:" in result.stdout, output


def test_the_schemathesis_config_says_why_for_every_entry() -> None:
    """schemathesis.toml holds only what OpenAPI cannot express, each entry with its reason."""
    text = (PROJECT_ROOT / "schemathesis.toml").read_text("utf-8")
    config = tomllib.loads(text)
    assert set(config) <= {"checks", "operations"}
    lines = [line for line in text.splitlines() if line.strip()]
    for number, line in enumerate(lines):
        if line.startswith("["):
            assert lines[number - 1].startswith("#"), f"no reason given above {line!r}"


@pytest.mark.parametrize("api", ["/v1", "/v2"])
def test_the_schema_examples_are_the_real_data(api: str) -> None:
    from app.api.examples import EXAMPLES_FILES, render_examples, stored_examples

    assert stored_examples(api) == render_examples(api), (
        f"{EXAMPLES_FILES[api].name} no longer matches seeds/: run "
        "`.venv/bin/python -m app.api.examples`, then `scn openapi` for each version"
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_every_entity_schema_shows_a_real_record(version: str) -> None:
    schemas = CONTRACTS[version]()["components"]["schemas"]
    for name in ("City", "Practice", "Organisation", "Cooperation", "Source", "ContactPoint"):
        (example,) = schemas[name]["examples"]
        assert example["links"]["self"].startswith(f"/{version}/")
