"""A Python client generated from openapi/v1.json, used as a third-party app would use it.

The generator is openapi-python-client (pinned in constraints.txt), with the settings app makers
are told to use (openapi/python-client.yaml, docs/API.md). It must generate without a warning.
"""

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from app.settings import PROJECT_ROOT
from tests.live import client, live_server

BIN = Path(sys.executable).parent
PACKAGE = "scn_open_data_client"
PACKAGE_V2 = "scn_open_data_client_v2"


def _generate(
    folder: Path, contract: str, config: Path, package: str, modules: list[str]
) -> Iterator[dict[str, ModuleType]]:
    """Generate a client from `contract` into `folder` and import `modules` of it."""
    result = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(PROJECT_ROOT / "openapi" / contract),
            "--config",
            str(config),
            "--output-path",
            str(folder / "client"),
        ],
        capture_output=True,
        text=True,
        # The generator formats its output with ruff, found on PATH.
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower(), output
    assert "skipping" not in output.lower(), output
    sys.path.insert(0, str(folder / "client"))
    try:
        yield {name: importlib.import_module(f"{package}.{name}") for name in modules}
    finally:
        sys.path.remove(str(folder / "client"))
        for module in [m for m in sys.modules if m.split(".")[0] == package]:
            del sys.modules[module]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ModuleType]]:
    """The v1 client, with the settings app makers are told to use."""
    yield from _generate(
        tmp_path_factory.mktemp("client"),
        "v1.json",
        PROJECT_ROOT / "openapi" / "python-client.yaml",
        PACKAGE,
        [
            "client",
            "models",
            "api.cities.list_cities",
            "api.practices.get_practice",
            "api.meta.get_meta",
            "api.sync.export_records",
        ],
    )


@pytest.fixture(scope="module")
def generated_v2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ModuleType]]:
    """The v2 client, from the same settings under another package name (so that both
    clients can be imported in one process, as an app moving from v1 to v2 would)."""
    folder = tmp_path_factory.mktemp("client-v2")
    config = folder / "python-client.yaml"
    settings = (PROJECT_ROOT / "openapi" / "python-client.yaml").read_text("utf-8")
    config.write_text(settings.replace(PACKAGE, PACKAGE_V2).replace("client\n", "client-v2\n"))
    yield from _generate(
        folder,
        "v2.json",
        config,
        PACKAGE_V2,
        ["client", "models", "api.cities.get_city", "api.practices.list_practices"],
    )


@pytest.fixture(scope="module")
def base(loaded_url: str) -> Iterator[str]:
    with live_server(loaded_url) as url:
        yield url


def app_client(generated: dict[str, ModuleType], base: str) -> Any:
    return generated["client"].Client(base_url=base, raise_on_unexpected_status=True)


def test_list_every_city_following_the_cursor(generated: dict[str, ModuleType], base: str) -> None:
    list_cities = generated["api.cities.list_cities"]
    names: list[str] = []
    cursor = None
    pages = 0
    with app_client(generated, base) as api:
        while True:
            page = list_cities.sync(client=api, limit=1, cursor=cursor)
            assert isinstance(page, generated["models"].PageCity), page
            names += [city.name for city in page.data]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
    with client(base) as http:
        everything = http.get("/v1/cities", params={"limit": 500}).json()["data"]
    assert names == [c["name"] for c in everything]
    assert pages == len(everything) >= 3


def test_fetch_a_practice_with_its_typed_fields(
    generated: dict[str, ModuleType], base: str
) -> None:
    get_practice = generated["api.practices.get_practice"]
    with app_client(generated, base) as api:
        practice = get_practice.sync(id="dignity-treatment-programme", client=api)
    assert isinstance(practice, generated["models"].Practice), practice
    with client(base) as http:
        raw = http.get("/v1/practices/dignity-treatment-programme").json()
    assert practice.name == raw["name"]
    assert (practice.ages.min_, practice.ages.max_) == (18, 34)
    assert [o.id for o in practice.organisations] == [o["id"] for o in raw["organisations"]]
    assert practice.to_dict() == raw


def test_a_missing_practice_is_a_problem_the_app_can_read(
    generated: dict[str, ModuleType], base: str
) -> None:
    get_practice = generated["api.practices.get_practice"]
    with app_client(generated, base) as api:
        response = get_practice.sync_detailed(id="no-such-practice", client=api)
    assert response.status_code == 404
    problem = response.parsed
    assert isinstance(problem, generated["models"].Problem), problem
    assert problem.status == 404
    assert "no-such-practice" in problem.detail


def test_meta_and_the_export_download(generated: dict[str, ModuleType], base: str) -> None:
    with app_client(generated, base) as api:
        meta = generated["api.meta.get_meta"].sync(client=api)
        export = generated["api.sync.export_records"].sync_detailed(client=api)
    assert meta.licence.name == "CC BY 4.0"
    lines = export.content.decode().splitlines()
    assert json.loads(lines[0])["last_seq"] == meta.last_seq
    assert len(lines) == 1 + sum(meta.record_counts.to_dict().values())


def test_the_v2_client_embeds_related_records_with_expand(
    generated_v2: dict[str, ModuleType], base: str
) -> None:
    """`expand` through the generated client: the embedded records come back as the client's
    own typed models."""
    models = generated_v2["models"]
    with generated_v2["client"].Client(base_url=base, raise_on_unexpected_status=True) as api:
        city = generated_v2["api.cities.get_city"].sync(
            id="viborg", client=api, expand="country,themes", lang="fr"
        )
        page = generated_v2["api.practices.list_practices"].sync(
            client=api, expand="organisations", limit=5
        )
        refused = generated_v2["api.cities.get_city"].sync_detailed(
            id="viborg", client=api, expand="mayor"
        )
    assert isinstance(city, models.City), city
    assert isinstance(city.country.record, models.Country)
    assert city.country.record.name.to_dict() == {"fr": "Danemark"}
    assert all(isinstance(theme.record, models.Theme) for theme in city.themes)
    with client(base) as http:
        raw = http.get("/v2/cities/viborg", params={"expand": "country,themes", "lang": "fr"})
    assert city.to_dict() == raw.json()
    organisations = [o.record for p in page.data for o in p.organisations]
    assert organisations and all(isinstance(o, models.Organisation) for o in organisations)
    assert refused.status_code == 400 and isinstance(refused.parsed, models.Problem)
