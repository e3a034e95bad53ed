"""The database itself refuses bad rows, whoever writes them (not only the loader)."""

from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from app.loader import load
from tests.conftest import MINI_SEEDS

NOW = datetime(2026, 1, 1, tzinfo=UTC)
RECORD = {"version": 1, "updated_at": NOW, "content_hash": "x"}


def _insert(engine: sa.Engine, table: str, **values: Any) -> None:
    with engine.begin() as connection:
        connection.execute(sa.insert(SQLModel.metadata.tables[table]).values(**values))


CITY = {"id": "aarhus", "country_id": "dk", "name": "Aarhus", "tenets": [], **RECORD}
CITY |= {"international_exchange_partners": []}

BAD_ROWS: list[tuple[str, str, dict[str, Any]]] = [
    ("a reference to a missing country", "city", CITY | {"country_id": "xx"}),
    (
        "a value outside the vocabulary",
        "organisation",
        {
            "id": "o",
            "name": "O",
            "kind": "spy agency",
            **RECORD,
        },
    ),
    ("a date without its precision", "city", CITY | {"scn_member_since": date(2016, 12, 1)}),
    (
        "a precision outside the vocabulary",
        "city",
        CITY
        | {
            "scn_member_since": date(2016, 12, 1),
            "scn_member_since_precision": "week",
        },
    ),
    ("an age range upside down", "city", CITY | {"focus_age_min": 18, "focus_age_max": 0}),
    (
        "an organisation its own parent",
        "organisation",
        {
            "id": "pet2",
            "name": "P",
            "kind": "agency",
            "parent_id": "pet2",
            **RECORD,
        },
    ),
    (
        "a member that is two things",
        "cooperation_member",
        {
            "cooperation_id": "ssp",
            "organisation_id": "pet",
            "sector": "police",
            "role": "member",
        },
    ),
    ("a member that is nothing", "cooperation_member", {"cooperation_id": "ssp", "role": "member"}),
    (
        "a cost without a currency",
        "practice",
        {
            "id": "p",
            "name": "P",
            "kind": "training",
            "country_id": "dk",
            "cost_amount": 5,
            "aims": [],
            "target_groups": [],
            "methods": [],
            **RECORD,
        },
    ),
    (
        "a contact point that belongs to nobody",
        "contact_point",
        {
            "id": "c",
            "kind": "email",
            "value": "a@b.dk",
            "is_personal": False,
            **RECORD,
        },
    ),
    (
        "a second data set state",
        "dataset_state",
        {
            "id": 2,
            "dataset_version": "1",
            "content_digest": "d",
            "loaded_at": NOW,
            "last_seq": 0,
        },
    ),
    (
        "the same citation twice",
        "citation",
        {
            "entity_type": "city",
            "entity_id": "viborg",
            "source_id": "scn-profile-viborg",
        },
    ),
    (
        "a citation of a missing source",
        "citation",
        {
            "entity_type": "city",
            "entity_id": "viborg",
            "source_id": "nowhere",
        },
    ),
    ("a theme link to a missing theme", "city_theme", {"city_id": "viborg", "theme_id": "none"}),
    (
        "a change with an unknown operation",
        "change",
        {
            "seq": 999,
            "entity_type": "city",
            "entity_id": "viborg",
            "op": "merge",
            "version": 9,
            "changed_at": NOW,
            "load_id": 1,
        },
    ),
]


@pytest.fixture
def loaded(engine: sa.Engine) -> sa.Engine:
    load(engine, MINI_SEEDS)
    return engine


def test_a_valid_row_is_accepted(loaded: sa.Engine) -> None:
    """The bad rows below differ from this one by one field each."""
    _insert(loaded, "city", **CITY)


@pytest.mark.parametrize(("case", "table", "row"), BAD_ROWS, ids=[c[0] for c in BAD_ROWS])
def test_the_database_refuses(
    loaded: sa.Engine, case: str, table: str, row: dict[str, Any]
) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        _insert(loaded, table, **row)
