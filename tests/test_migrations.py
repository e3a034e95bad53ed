"""Alembic: one head, up and down on both engines, and no drift between models and migrations."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import app.models  # noqa: F401  (the tables)
from app import migrate
from app.db import create_engine
from app.loader import LoadResult, load, stored_digest
from app.models import ENTITIES
from app.models import table as model_table
from tests.conftest import SEEDS


def test_one_head_only() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    url = empty_database_url
    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision()
    assert _tables(url) >= set(SQLModel.metadata.tables)

    migrate.downgrade(url, "base")
    assert migrate.current_revision(url) is None
    assert _tables(url) <= {"alembic_version"}

    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision()


def test_models_and_migrations_do_not_drift(database_url: str) -> None:
    """`alembic check`: autogenerate finds nothing to add, drop or alter."""
    migrate.check(database_url)


def test_check_constraints_match_the_models(database_url: str, tmp_path: object) -> None:
    """`alembic check` does not compare CHECK constraints (the vocabularies); this test does."""
    migrated = _check_texts(database_url)
    expected = {
        (table.name, constraint.name)
        for table in SQLModel.metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, sa.CheckConstraint)
    }
    assert set(migrated) == expected
    for table in SQLModel.metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, sa.CheckConstraint):
                assert _normal(str(constraint.sqltext)) in _normal(
                    migrated[(table.name, str(constraint.name))]
                ), f"{constraint.name} differs between the model and the migrated database"


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _check_texts(url: str) -> dict[tuple[str, str], str]:
    """Each CHECK constraint of the models' tables in the database, by table and name: its
    text as the engine gives it back."""
    engine = create_engine(url)
    try:
        inspector = sa.inspect(engine)
        return {
            (table, str(ck["name"])): str(ck["sqltext"])
            for table in SQLModel.metadata.tables
            for ck in inspector.get_check_constraints(table)
        }
    finally:
        engine.dispose()


def _normal(sql: str) -> str:
    """Compare constraint texts the way both engines print them: no spaces, parentheses, casts."""
    import re

    # The casts PostgreSQL adds (`kind::text`, `'a'::character varying`), and nothing after
    # them: in `kind::text = 'a'::text or kind::text = 'b'` a looser pattern ate `or kind`.
    sql = re.sub(r"::(text|character varying)(\[\])?", "", sql.lower())
    sql = sql.replace("= any (array[", "in (").replace("])", ")")
    return re.sub(r"[\s()]", "", sql)


def test_each_list_filter_column_is_indexed_with_the_id(database_url: str) -> None:
    """A filtered list page reads its records in id order from an index (revision 0009)."""
    from app.api.collections import COLLECTION_LIST, ColumnIn

    indexed = {
        (table, tuple(index["column_names"]))
        for table in sa.inspect(create_engine(database_url)).get_table_names()
        for index in sa.inspect(create_engine(database_url)).get_indexes(table)
    }
    wanted = {
        (collection.entity, (f.condition.column, "id"))
        for collection in COLLECTION_LIST
        for f in collection.filters
        if isinstance(f.condition, ColumnIn)
    }
    assert len(wanted) > 20
    assert wanted <= indexed


def test_a_filtered_page_is_read_in_order_from_the_index(migrated_sqlite_file: object) -> None:
    """SQLite's plan for a page filtered by a column: no sort of every match."""
    from app.api.collections import COLLECTION_LIST, ColumnIn
    from app.models import table

    engine = create_engine(f"sqlite:///{migrated_sqlite_file}")
    with engine.connect() as connection:
        for collection in COLLECTION_LIST:
            t = table(collection.entity)
            for f in collection.filters:
                if not isinstance(f.condition, ColumnIn):
                    continue
                page = (
                    sa.select(t.c.id)
                    .where(f.condition(t, ["x"]), t.c.id > "a")
                    .order_by(t.c.id)
                    .limit(51)
                )
                sql = str(page.compile(engine, compile_kwargs={"literal_binds": True}))
                plan = " ".join(
                    str(row) for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)
                )
                assert f"ix_{collection.entity}_{f.condition.column}_id" in plan, plan
                assert "TEMP B-TREE" not in plan, (collection.entity, f.name, plan)


def test_the_head_revision_the_code_expects_is_alembics_head() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert migrate.head_revision() == script.get_current_head()


def test_revision_0011_moves_each_stored_hash_and_the_digest_to_their_new_forms_and_back(
    loaded_database_url: str,
) -> None:
    """Before 0011 a hash sorted every list's rows, so SSP's members (schools, social services,
    police) hashed as if they were sorted, and the digest was one SHA-256 over every record in
    the database's order. The upgrade moves each stored hash to the form that sees order (which
    0012 moves on), and the digest to the sum a change can move; the downgrade moves them back.
    From head and back: a load of the same seeds then changes nothing."""
    url = loaded_database_url
    at_head = _hashes(url)
    migrate.downgrade(url, "0011")
    at_0011 = _hashes(url)
    with _connected(url) as connection:
        assert at_0011["state"] == stored_digest(connection)
    migrate.downgrade(url, "0010")
    at_0010 = _hashes(url)
    assert at_0010["cooperation/ssp"] != at_0011["cooperation/ssp"]
    assert at_0010["source/scn-viborg-profile"] == at_0011["source/scn-viborg-profile"]
    assert at_0010["state"] != at_0011["state"]
    migrate.upgrade(url, "0011")
    assert _hashes(url) == at_0011
    migrate.upgrade(url)
    assert _hashes(url) == at_head
    assert not _reloaded(url).changed


def test_revision_0012_moves_each_stored_hash_to_compact_json_and_back(
    loaded_database_url: str,
) -> None:
    """0012 hashes the same rows as orjson's compact JSON, not the standard library's. Its
    downgrade moves every stored hash, and the digest with them, to the 0011 form (which
    0011's own downgrade then recognises: the test above); the upgrade moves them back, and a
    load of the same seeds then changes nothing."""
    url = loaded_database_url
    at_head = _hashes(url)
    with _connected(url) as connection:
        assert at_head["state"] == stored_digest(connection)
    migrate.downgrade(url, "0011")
    at_0011 = _hashes(url)
    assert [key for key in at_head if at_0011[key] == at_head[key]] == []
    with _connected(url) as connection:
        assert at_0011["state"] == stored_digest(connection)
    migrate.upgrade(url)
    assert _hashes(url) == at_head
    assert not _reloaded(url).changed


def test_revision_0013_writes_the_vocabulary_checks_as_equalities_and_back(
    loaded_database_url: str,
) -> None:
    """0013 writes each vocabulary check (`ck_<table>_<column>_allowed`) as equalities joined
    by OR, which SQLite evaluates without building a temporary index for every row; the
    downgrade writes the IN lists of 0012 back. Either way the checks allow the same values,
    and refuse others, on a database that holds data."""
    url = loaded_database_url
    at_head = _vocabulary_checks(url)
    assert len(at_head) >= 20
    assert all(" OR " in text and " IN " not in text.upper() for text in at_head.values())
    _assert_kind_checked(url)
    migrate.downgrade(url, "0012")
    at_0012 = _vocabulary_checks(url)
    assert at_0012.keys() == at_head.keys()
    assert all(" OR " not in text.replace(" IS NULL OR ", "") for text in at_0012.values())
    assert {key: _quoted(text) for key, text in at_0012.items()} == {
        key: _quoted(text) for key, text in at_head.items()
    }
    _assert_kind_checked(url)
    migrate.upgrade(url)
    assert _vocabulary_checks(url) == at_head
    assert not _reloaded(url).changed


def _vocabulary_checks(url: str) -> dict[tuple[str, str], str]:
    return {key: text for key, text in _check_texts(url).items() if key[1].endswith("_allowed")}


def _quoted(text: str) -> list[str]:
    """The values a check's text names, in order."""
    import re

    return re.findall(r"'([^']*)'", text)


def _assert_kind_checked(url: str) -> None:
    """An organisation's kind outside its vocabulary is refused; one inside it is taken."""
    organisation = model_table("organisation")
    with _connected(url) as connection:
        transaction = connection.begin()
        connection.execute(sa.update(organisation).values(kind="agency"))
        transaction.rollback()
        with pytest.raises(sa.exc.IntegrityError), connection.begin():
            connection.execute(sa.update(organisation).values(kind="spaceship"))


def _reloaded(url: str) -> LoadResult:
    """A load of the same seeds again (it changes nothing where every hash is the loader's)."""
    engine = create_engine(url)
    try:
        return load(engine, SEEDS)
    finally:
        engine.dispose()


@contextmanager
def _connected(url: str) -> Iterator[sa.Connection]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _hashes(url: str) -> dict[str, str]:
    """Every record's stored content hash, and the data set's digest."""
    with _connected(url) as connection:
        hashes = {
            f"{entity}/{record_id}": content_hash
            for entity in ENTITIES
            for record_id, content_hash in connection.execute(
                sa.select(model_table(entity).c.id, model_table(entity).c.content_hash)
            )
        }
        state = connection.execute(sa.text("SELECT content_digest FROM dataset_state"))
        hashes["state"] = state.scalar_one()
    return hashes
