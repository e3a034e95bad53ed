"""Documentation that cannot drift: every setting and every command is in the README."""

from typing import Any

import typer

from app.cli import cli
from app.settings import PROJECT_ROOT, Settings

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
    from app.api.v1.collections import COLLECTION_LIST, COMMON_FILTERS

    guide = (PROJECT_ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    names = {f.name for c in COLLECTION_LIST for f in c.filters} | {f.name for f in COMMON_FILTERS}
    for name in sorted(names):
        assert f"`{name}`" in guide, f"docs/API.md does not explain the {name} filter"
    for collection in COLLECTION_LIST:
        assert f"`/v1/{collection.path}`" in guide
