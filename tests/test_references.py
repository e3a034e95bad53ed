"""A transaction that writes a whole data set (a mirror's snapshot) checks its references once,
at the end, instead of once per row (app/references.py): a reference to a missing record still
rolls the whole transaction back, and later transactions check row by row again."""

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from app.db import create_engine
from app.loader import load, write_transaction
from app.models import table
from app.references import DanglingReferences
from tests.conftest import MINI_SEEDS, PostgresServer


@pytest.fixture
def mini_engine(database_url: str) -> Iterator[sa.Engine]:
    engine = create_engine(database_url)
    load(engine, MINI_SEEDS)
    yield engine
    engine.dispose()


def _city_themes(engine: sa.Engine) -> list[tuple[str, str]]:
    t = table("city_theme")
    with engine.connect() as connection:
        return sorted(
            tuple(row) for row in connection.execute(sa.select(t.c.city_id, t.c.theme_id))
        )


def _add_city_theme(connection: sa.Connection, theme_id: str) -> None:
    connection.execute(sa.insert(table("city_theme")).values(city_id="viborg", theme_id=theme_id))


def test_a_dangling_reference_rolls_the_whole_transaction_back(mini_engine: sa.Engine) -> None:
    before = _city_themes(mini_engine)
    with (
        pytest.raises(DanglingReferences, match=r"city_theme\.theme_id -> theme.*'no-such-theme'"),
        write_transaction(mini_engine, references_checked_at_end=True) as connection,
    ):
        connection.execute(sa.delete(table("city_theme")))  # a valid change, rolled back too
        _add_city_theme(connection, "no-such-theme")
    assert _city_themes(mini_engine) == before
    # The next transaction on the same pooled connection checks each row again.
    with (
        pytest.raises(sa.exc.IntegrityError),
        write_transaction(mini_engine) as connection,
    ):
        _add_city_theme(connection, "no-such-theme")
    assert _city_themes(mini_engine) == before


def test_references_written_in_any_order_are_whole_at_the_end(mini_engine: sa.Engine) -> None:
    """A referencing row may come before the record it refers to, as a snapshot writes them."""
    themes = table("theme")
    with mini_engine.connect() as connection:
        theme = dict(connection.execute(sa.select(themes).limit(1)).mappings().one())
    with write_transaction(mini_engine, references_checked_at_end=True) as connection:
        _add_city_theme(connection, "a-new-theme")
        connection.execute(sa.insert(themes).values({**theme, "id": "a-new-theme"}))
    assert ("viborg", "a-new-theme") in _city_themes(mini_engine)


@pytest.fixture
def plain_role_url(
    request: pytest.FixtureRequest, postgres: PostgresServer
) -> Iterator[tuple[str, str]]:
    """A migrated PostgreSQL database with the mini seeds, and the URL of a role that may
    write its tables but is no superuser: (owner's URL, that role's URL)."""
    url = postgres.create(migrated=True)
    engine = create_engine(url)
    load(engine, MINI_SEEDS)
    role = f"scn_plain_{uuid.uuid4().hex[:8]}"
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER')
        connection.exec_driver_sql(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"')
        connection.exec_driver_sql(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
    yield url, sa.make_url(url).set(username=role).render_as_string(hide_password=False)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'DROP OWNED BY "{role}"')
        connection.exec_driver_sql(f'DROP ROLE "{role}"')
    engine.dispose()


def test_a_role_that_may_not_skip_the_checks_still_has_them(
    plain_role_url: tuple[str, str],
) -> None:
    """PostgreSQL: without the right to set session_replication_role, the checks stay per row,
    and the write goes on."""
    owner_url, url = plain_role_url
    owner = create_engine(owner_url)
    before = _city_themes(owner)
    engine = create_engine(url)
    try:
        with (
            pytest.raises(sa.exc.IntegrityError),
            write_transaction(engine, references_checked_at_end=True) as connection,
        ):
            _add_city_theme(connection, "no-such-theme")
        theme = next(theme_id for _, theme_id in before)
        with write_transaction(engine, references_checked_at_end=True) as connection:
            connection.execute(sa.delete(table("city_theme")))
            _add_city_theme(connection, theme)
        assert _city_themes(owner) == [("viborg", theme)]
    finally:
        engine.dispose()
        owner.dispose()
