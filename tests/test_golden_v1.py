"""API v1 is frozen: the exchanges recorded in tests/golden/v1.json (before v2 existed) must come
out the same, on both engines, from the same data (tests/golden_v1.py says what is masked)."""

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app import migrate
from app.db import create_engine
from app.loader import load
from tests.conftest import ENGINES, PostgresServer
from tests.golden_v1 import GOLDEN_FILE, GOLDEN_SEEDS, STRONG_ETAG, exchange
from tests.live import client, live_server

GOLDEN = json.loads(GOLDEN_FILE.read_text())


@pytest.fixture(scope="module", params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def golden_api(
    engine_name: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    if engine_name == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('golden')}/golden.sqlite3"
        migrate.upgrade(url)
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create(migrated=True)
    engine = create_engine(url)
    load(engine, GOLDEN_SEEDS)
    engine.dispose()
    with live_server(url) as base, client(base) as http:
        yield http


def _link_values(header: str) -> set[str]:
    return {part.strip() for part in header.split(",") if part.strip()}


@pytest.mark.parametrize(
    "golden",
    GOLDEN,
    ids=[f"{g['request'].get('method', 'GET')} {g['request']['path']}" for g in GOLDEN],
)
def test_v1_answers_as_recorded(golden_api: httpx.Client, engine_name: str, golden: dict) -> None:
    golden = golden.get(engine_name, golden)
    now = exchange(golden_api, golden["request"])
    assert now["status"] == golden["status"]
    assert now["body"] == golden["body"]
    assert now["etag"] == golden["etag"]
    for name, recorded in golden["headers"].items():
        assert name in now["headers"], f"{name} is gone"
        if name == "vary":
            # Varying on more request headers is compatible; varying on fewer is not.
            assert _tokens(recorded) <= _tokens(now["headers"][name])
        elif name == "link":
            # New relations (such as rel="deprecation") may join the recorded ones.
            assert _link_values(recorded) <= _link_values(now["headers"][name])
        else:
            assert now["headers"][name] == recorded, name


def _tokens(header: str) -> set[str]:
    return {token.strip().lower() for token in header.split(",")}


def test_v1_revalidation_still_answers_304(golden_api: httpx.Client) -> None:
    for golden in GOLDEN:
        if golden["status"] != 200 or golden["request"].get("headers"):
            continue
        first = golden_api.get(golden["request"]["path"])
        etag = first.headers["etag"]
        assert STRONG_ETAG.match(etag), etag
        again = golden_api.get(golden["request"]["path"], headers={"If-None-Match": etag})
        assert again.status_code == 304, golden["request"]["path"]
        assert again.headers["etag"] == etag


def test_golden_file_covers_every_kind_of_v1_exchange() -> None:
    """A guard against a re-recording that silently drops exchanges."""
    paths = [g["request"]["path"] for g in GOLDEN]
    statuses = {g["status"] for g in GOLDEN}
    assert {200, 400, 404, 405, 406} <= statuses
    assert any("cursor=" in p for p in paths)
    assert any(p.startswith("/v1/changes") for p in paths)
    assert any(p.startswith("/v1/export") for p in paths)
    assert len(GOLDEN) >= 40
    assert Path(GOLDEN_SEEDS / "dataset.yaml").exists()
