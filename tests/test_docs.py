"""Documentation that cannot drift: every setting and every command is in the README, every
filter and graph edge type in the API guide, and the README's tour runs as written."""

import csv
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer

from app import migrate
from app.cli import cli
from app.db import create_engine
from app.loader import load
from app.settings import PROJECT_ROOT, Settings
from tests.conftest import SEEDS
from tests.live import live_server

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_in_the_readme() -> None:
    for name in Settings.model_fields:
        assert f"`{name.upper()}`" in README, f"README.md does not document {name.upper()}"


def test_every_command_is_in_the_readme() -> None:
    def names(command: Any, prefix: str = "") -> list[str]:
        children = getattr(command, "commands", None)  # a group of subcommands
        if children:
            return [n for c in children.values() for n in names(c, f"{prefix}{c.name} ")]
        return [prefix.strip()]

    for name in names(typer.main.get_command(cli)):
        assert f"`scn {name}" in README, f"README.md does not document scn {name}"


def test_the_quick_start_comes_first() -> None:
    quick_start = README.index("## Quick start")
    assert README.index("make run") > quick_start
    assert README.index("make test") > quick_start
    assert README.index("## ", README.index("# ") + 2) == quick_start


def test_every_filter_is_in_the_api_guide() -> None:
    from app.api.collections import COLLECTION_LIST, COMMON_FILTERS

    guide = (PROJECT_ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    names = {f.name for c in COLLECTION_LIST for f in c.filters} | {f.name for f in COMMON_FILTERS}
    for name in sorted(names):
        assert f"`{name}`" in guide, f"docs/API.md does not explain the {name} filter"
    for collection in COLLECTION_LIST:
        assert f"`/v1/{collection.path}`" in guide


def test_every_graph_edge_type_is_in_the_api_guide() -> None:
    from app.api.graph import EdgeType

    guide = (PROJECT_ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    for edge in EdgeType:
        assert f"| `{edge.value}` |" in guide, f"docs/API.md does not explain the {edge} edge"


def _tour() -> list[str]:
    section = README[README.index("## A five-minute tour") :]
    block = section[section.index("```sh\n") + 6 : section.index("```\n", section.index("```sh"))]
    return [line for line in block.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API as `make run` serves it: SQLite, seeds/ loaded."""
    url = f"sqlite:///{tmp_path_factory.mktemp('tour')}/scn.sqlite3"
    migrate.upgrade(url)
    engine = create_engine(url)
    load(engine, SEEDS)
    engine.dispose()
    with live_server(url) as base:
        yield base


def test_the_readme_tour_works_as_written(served: str, tmp_path: Path) -> None:
    """Each line of the tour runs in one shell, in order, against a live server (only the
    address differs); each must succeed, print or write something, and never a problem."""
    lines = _tour()
    assert len(lines) >= 10 and all("localhost:8000" in line for line in lines)
    host = served.removeprefix("http://")
    marker = "@@tour-line-done@@"
    script = "set -o pipefail\n" + "".join(
        f'{line.replace("localhost:8000", host)}\necho "{marker} $?"\n' for line in lines
    )
    result = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.stderr == ""
    outputs = result.stdout.split(marker)
    assert len(outputs) == len(lines) + 1
    for index, line in enumerate(lines):
        status = outputs[index + 1].split("\n", 1)[0].strip()
        printed = outputs[index].split("\n", 1)[1] if index else outputs[0]
        assert status == "0", (line, printed)
        assert "about:blank" not in printed, (line, printed)  # no problem document
        if not line.startswith("etag=") and " -o " not in line:
            assert printed.strip(), f"printed nothing: {line}"
        comment = line.partition("#")[2].strip()
        if comment.startswith("HTTP/1.1"):
            assert printed.strip() == comment, line
    # Files the tour writes: the picture parses as SVG, the CSV has a header and every practice.
    svg = (tmp_path / "model.svg").read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and "<svg" in svg
    with (tmp_path / "practices.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    practices = httpx.get(f"{served}/v1/meta").json()["record_counts"]["practices"]
    assert len(rows) == practices and all(row["type"] == "practice" for row in rows)
