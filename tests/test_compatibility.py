"""The compatibility guard: a committed contract may not break its released version
(openapi/released/vN.json), and the guard (app/compat.py) catches each kind of breaking edit."""

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from app.compat import ACKNOWLEDGED, breaking_changes, unacknowledged
from app.settings import PROJECT_ROOT

OPENAPI = PROJECT_ROOT / "openapi"


def contract(name: str) -> dict[str, Any]:
    return dict(json.loads((OPENAPI / name).read_text(encoding="utf-8")))


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_the_committed_contract_keeps_every_promise_of_the_released_one(version: str) -> None:
    problems = unacknowledged(
        OPENAPI / "released" / f"{version}.json",
        breaking_changes(contract(f"released/{version}.json"), contract(f"{version}.json")),
    )
    assert not problems, "breaking changes to a released contract:\n" + "\n".join(problems)


def _organisations(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["paths"]["/v1/organisations"]["get"]


def _parameter(spec: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [p for p in _organisations(spec)["parameters"] if p["name"] == name]
    return found


def _remove_path(spec: dict[str, Any]) -> None:
    del spec["paths"]["/v1/meta"]


def _rename_parameter(spec: dict[str, Any]) -> None:
    _parameter(spec, "parent")["name"] = "parent_id"


def _require_parameter(spec: dict[str, Any]) -> None:
    _parameter(spec, "country")["required"] = True


def _narrow_limit(spec: dict[str, Any]) -> None:
    _parameter(spec, "limit")["schema"]["maximum"] = 100


def _narrow_parameter_type(spec: dict[str, Any]) -> None:
    _parameter(spec, "updated_since")["schema"] = {"type": "integer"}


def _remove_enum_value(spec: dict[str, Any]) -> None:
    spec["components"]["schemas"]["OrganisationKind"]["enum"].remove("ministry")


def _remove_field(spec: dict[str, Any]) -> None:
    del spec["components"]["schemas"]["Organisation"]["properties"]["acronym"]


def _rename_field(spec: dict[str, Any]) -> None:
    organisation = spec["components"]["schemas"]["Organisation"]
    organisation["properties"]["short_name"] = organisation["properties"].pop("acronym")
    organisation["required"] = [
        "short_name" if f == "acronym" else f for f in organisation["required"]
    ]


def _change_field_type(spec: dict[str, Any]) -> None:
    spec["components"]["schemas"]["Organisation"]["properties"]["name"] = {"type": "object"}


def _make_field_optional(spec: dict[str, Any]) -> None:
    spec["components"]["schemas"]["Organisation"]["required"].remove("kind")


BREAKING: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "path removed": (_remove_path, "/v1/meta: path removed"),
    "parameter renamed": (_rename_parameter, "query parameter 'parent' removed"),
    "optional parameter made required": (_require_parameter, "'country' became required"),
    "parameter bound narrowed": (_narrow_limit, "'limit': maximum 500 -> 100"),
    "parameter type narrowed": (_narrow_parameter_type, "'updated_since' no longer accepts"),
    "enum value removed": (_remove_enum_value, "enum value 'ministry' removed"),
    "field removed": (_remove_field, ".acronym: field removed"),
    "field renamed": (_rename_field, ".acronym: field removed"),
    "field type changed": (_change_field_type, ".name: may now be object"),
    "field no longer required": (_make_field_optional, ".kind: no longer required"),
}


@pytest.mark.parametrize("edit", BREAKING, ids=list(BREAKING))
def test_a_breaking_edit_of_v1_fails_with_a_readable_line(edit: str) -> None:
    released = contract("released/v1.json")
    edited = copy.deepcopy(released)
    change, expected = BREAKING[edit]
    change(edited)
    problems = breaking_changes(released, edited)
    assert any(expected in line for line in problems), problems


def test_additive_edits_pass() -> None:
    released = contract("released/v1.json")
    edited = copy.deepcopy(released)
    edited["paths"]["/v1/new-things"] = copy.deepcopy(edited["paths"]["/v1/meta"])
    _organisations(edited)["parameters"].append(
        {"name": "colour", "in": "query", "required": False, "schema": {"type": "string"}}
    )
    organisation = edited["components"]["schemas"]["Organisation"]
    organisation["properties"]["colour"] = {"type": "string", "description": "new"}
    organisation["properties"]["name"]["description"] = "reworded"
    edited["components"]["schemas"]["OrganisationKind"]["enum"].append("guild")
    _parameter(edited, "limit")["schema"]["maximum"] = 1000
    assert breaking_changes(released, edited) == []


def test_v2_could_not_have_been_v1() -> None:
    """Why v2 is a new major version: read as a change of v1, the guard refuses it."""
    v2 = json.loads(json.dumps(contract("v2.json")).replace('"/v2/', '"/v1/'))
    problems = breaking_changes(contract("released/v1.json"), v2)
    assert any(
        "Theme.label_language: field removed" in p or ".label_language: field removed" in p
        for p in problems
    )
    assert any(".name: may now be object" in p for p in problems)


def test_the_guard_runs_from_the_command_line(tmp_path: Any) -> None:
    released = OPENAPI / "released" / "v1.json"
    ok = subprocess.run(
        [sys.executable, "-m", "app.compat", str(released), str(OPENAPI / "v1.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = contract("released/v1.json")
    _remove_field(broken)
    candidate = tmp_path / "v1.json"
    candidate.write_text(json.dumps(broken))
    refused = subprocess.run(
        [sys.executable, "-m", "app.compat", str(released), str(candidate)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 1
    assert "Organisation.acronym: field removed" in refused.stdout
    assert "breaking change(s)" in refused.stderr


def test_an_acknowledgement_needs_a_reason_and_a_change_it_matches(tmp_path: Any) -> None:
    released = tmp_path / "v1.json"
    problems = ["GET /v1/cities: query parameter 'cursor': pattern None -> 'x'"]
    entry = {"change": "query parameter 'cursor': pattern None -> 'x'", "reason": "declared"}
    (tmp_path / ACKNOWLEDGED).write_text(json.dumps({"v1.json": [entry]}))
    assert unacknowledged(released, problems) == []
    (tmp_path / ACKNOWLEDGED).write_text(json.dumps({"v1.json": [entry | {"reason": ""}]}))
    assert unacknowledged(released, problems) == [
        f"{ACKNOWLEDGED}: {entry['change']!r} gives no reason"
    ]
    stale = {"change": "query parameter 'q': maxLength 9 -> 8", "reason": "declared"}
    (tmp_path / ACKNOWLEDGED).write_text(json.dumps({"v1.json": [entry, stale]}))
    assert unacknowledged(released, problems) == [
        f"{ACKNOWLEDGED}: {stale['change']!r} matches no change (remove it)"
    ]
