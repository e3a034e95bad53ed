"""Malformed seeds are refused before the database is touched, with file, record and field."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.loader import load
from app.seed_reader import SeedError, read_seeds
from tests.helpers import database_snapshot, edit_record, read_seed_file, write_seed_file
from tests.test_loader import MINI

Edit = Callable[[Path], None]


def record_edit(file: str, record_id: str, change: Callable[[dict[str, Any]], None]) -> Edit:
    return lambda folder: edit_record(folder, file, record_id, change)


def set_field(file: str, record_id: str, **fields: Any) -> Edit:
    return record_edit(file, record_id, lambda r: r.update(fields))


def drop_field(file: str, record_id: str, name: str) -> Edit:
    return record_edit(file, record_id, lambda r: r.pop(name))


def append_record(file: str, record: dict[str, Any]) -> Edit:
    def edit(folder: Path) -> None:
        write_seed_file(folder, file, [*read_seed_file(folder, file), record])

    return edit


def raw_text(file: str, text: str) -> Edit:
    def edit(folder: Path) -> None:
        (folder / file).write_text(text, encoding="utf-8")

    return edit


def raw_bytes(file: str, data: bytes) -> Edit:
    def edit(folder: Path) -> None:
        (folder / file).write_bytes(data)

    return edit


def duplicate_first_record(file: str) -> Edit:
    def edit(folder: Path) -> None:
        records = read_seed_file(folder, file)
        write_seed_file(folder, file, [*records, records[0]])

    return edit


CASES: list[tuple[str, Edit, str]] = [
    (
        "missing required field",
        drop_field("cities.yaml", "viborg", "name"),
        "cities.yaml: record 'viborg': field 'name': Field required",
    ),
    (
        "text where a number belongs",
        set_field("cities.yaml", "viborg", population="96,500"),
        "cities.yaml: record 'viborg': field 'population': Input should be a valid integer",
    ),
    (
        "a number written as a string",
        set_field("cities.yaml", "viborg", population="96500"),
        "field 'population': Input should be a valid integer (got '96500')",
    ),
    (
        "wrong type: a list where a date belongs",
        set_field("cities.yaml", "viborg", scn_member_since=["2016"]),
        "cities.yaml: record 'viborg': field 'scn_member_since'",
    ),
    (
        "bad date",
        set_field("cities.yaml", "viborg", scn_member_since="2016-13"),
        "field 'scn_member_since': Value error, not a real date",
    ),
    (
        "date in the wrong format",
        set_field("cities.yaml", "viborg", scn_member_since="December 2016"),
        "field 'scn_member_since': Value error, expected a date as YYYY-MM-DD",
    ),
    (
        "negative population",
        set_field("cities.yaml", "viborg", population=-1),
        "field 'population': Input should be greater than or equal to 0",
    ),
    (
        "an age range upside down",
        set_field("cities.yaml", "viborg", focus_ages={"min": 18, "max": 0}),
        "field 'focus_ages': Value error, min (18) is greater than max (0)",
    ),
    (
        "a period that ends before it starts",
        set_field(
            "practices.yaml", "viborg-hotline-training", period={"start": "2017", "end": "2015"}
        ),
        "field 'period': Value error, start (2017) is after end (2015)",
    ),
    (
        "money without a currency",
        set_field("practices.yaml", "viborg-hotline-training", cost={"amount": 30000}),
        "field 'cost.currency': Field required",
    ),
    (
        "a misspelt field",
        set_field("cities.yaml", "viborg", populaton=96500),
        "field 'populaton': Extra inputs are not permitted",
    ),
    (
        "a value outside the vocabulary",
        set_field("organisations.yaml", "pet", kind="spy agency"),
        "organisations.yaml: record 'pet': field 'kind': Input should be",
    ),
    (
        "an id that is not a slug",
        set_field("cities.yaml", "viborg", id="Viborg Kommune"),
        "cities.yaml: record 'Viborg Kommune': field 'id': String should match pattern",
    ),
    (
        "duplicate id",
        duplicate_first_record("cities.yaml"),
        "cities.yaml: record 'viborg': duplicate id (record #2)",
    ),
    (
        "a field given twice in one record",
        raw_text("themes.yaml", "- id: a\n  label: x\n  label: y\n"),
        "themes.yaml: line 3, column 3: invalid YAML: duplicate field 'label'",
    ),
    (
        "invalid YAML",
        raw_text("themes.yaml", "- id: [unclosed\n"),
        "themes.yaml: line 2, column 1: invalid YAML",
    ),
    (
        "a file that is not a list",
        raw_text("themes.yaml", "id: support-hotline\n"),
        "themes.yaml: expected a list of records, found dict",
    ),
    (
        "a record that is not a mapping",
        raw_text("themes.yaml", "- support-hotline\n"),
        "themes.yaml: record #1: expected a mapping of fields",
    ),
    (
        "a reference to an unknown organisation",
        set_field("organisations.yaml", "pet", parent="ministry-of-magic"),
        "organisations.yaml: record 'pet': field 'parent': "
        "unknown organisation 'ministry-of-magic'",
    ),
    (
        "a partner that does not exist",
        record_edit(
            "practices.yaml",
            "viborg-hotline",
            lambda r: r["organisations"].append({"organisation": "nobody", "role": "partner"}),
        ),
        "practices.yaml: record 'viborg-hotline': field 'organisations[1].organisation': "
        "unknown organisation 'nobody'",
    ),
    (
        "a citation of an unknown source",
        set_field("cities.yaml", "viborg", sources=["scn-profile-viborg", "wikipedia"]),
        "cities.yaml: record 'viborg': field 'sources[1]': unknown source 'wikipedia'",
    ),
    (
        "a record citing no source",
        set_field("cities.yaml", "viborg", sources=[]),
        "field 'sources': List should have at least 1 item",
    ),
    (
        "an unknown theme",
        set_field("cities.yaml", "viborg", themes=["support-hotline", "astrology"]),
        "field 'themes[1]': unknown theme 'astrology'",
    ),
    (
        "a parent loop",
        set_field("organisations.yaml", "ministry-of-justice", parent="pet-centre-for-prevention"),
        "the parent chain loops (ministry-of-justice -> pet-centre-for-prevention -> pet -> "
        "ministry-of-justice)",
    ),
    (
        "a cooperation member that is two things at once",
        record_edit(
            "cooperations.yaml",
            "ssp",
            lambda r: r["members"].append({"sector": "police", "organisation": "pet"}),
        ),
        "field 'members[3]': Value error, give exactly one of organisation, cooperation or sector",
    ),
    (
        "a personal contact not flagged as personal",
        set_field("contact_points.yaml", "pet-email", person_name="Some One"),
        "person_name is set, so personal must be true",
    ),
    (
        "a contact point that belongs to nobody",
        drop_field("contact_points.yaml", "pet-email", "organisation"),
        "give organisation, practice or both",
    ),
    (
        "a membership date without membership",
        set_field("cities.yaml", "viborg", scn_member=False),
        "scn_member_since is set, so scn_member must be true",
    ),
    (
        "a missing seed file",
        lambda folder: (folder / "themes.yaml").unlink(),
        "themes.yaml: missing (an empty list [] is allowed)",
    ),
    (
        "an unknown seed file",
        raw_text("theme.yaml", "[]\n"),
        "theme.yaml: unknown seed file",
    ),
    (
        "a data set version that is not a version",
        raw_text("dataset.yaml", "version: latest\ntitle: x\n"),
        "dataset.yaml: field 'version': String should match pattern",
    ),
    (
        "not UTF-8",
        raw_bytes("themes.yaml", "- id: å\n".encode("latin-1")),
        "themes.yaml: not UTF-8 text",
    ),
]


@pytest.mark.parametrize(("case", "edit", "message"), CASES, ids=[c[0] for c in CASES])
def test_malformed_seed_is_refused_with_a_clear_message(
    case: str, edit: Edit, message: str, mini_copy: Path
) -> None:
    edit(mini_copy)
    with pytest.raises(SeedError) as refused:
        read_seeds(mini_copy)
    assert any(message in problem for problem in refused.value.problems), (
        f"{case}: no problem says {message!r}; got {refused.value.problems}"
    )
    assert all(str(mini_copy) in problem for problem in refused.value.problems)


CASE_BY_NAME = {case[0]: case for case in CASES}
REFUSED_ON_A_LOADED_DATABASE = [
    CASE_BY_NAME[name]
    for name in ("text where a number belongs", "duplicate id", "a partner that does not exist")
]


@pytest.mark.parametrize(
    ("case", "edit", "message"),
    REFUSED_ON_A_LOADED_DATABASE,
    ids=[c[0] for c in REFUSED_ON_A_LOADED_DATABASE],
)
def test_refused_seeds_leave_the_database_unchanged(
    case: str, edit: Edit, message: str, engine: sa.Engine, mini_copy: Path
) -> None:
    load(engine, MINI)
    before = database_snapshot(engine)
    edit(mini_copy)
    with pytest.raises(SeedError) as refused:
        load(engine, mini_copy)
    assert any(message in problem for problem in refused.value.problems)
    assert database_snapshot(engine) == before


def test_every_problem_is_reported_at_once(mini_copy: Path) -> None:
    set_field("cities.yaml", "viborg", population="many")(mini_copy)
    set_field("organisations.yaml", "pet", kind="spy agency")(mini_copy)
    with pytest.raises(SeedError) as refused:
        read_seeds(mini_copy)
    assert len(refused.value.problems) == 2
