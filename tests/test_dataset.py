"""The curated Danish data set: it loads on both engines, holds the sources' key facts as
structured values, cites a source for every record, and docs/DATA.md describes every field."""

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from app import i18n
from app.loader import load
from app.models import ENTITIES
from app.seed_reader import read_seeds
from app.settings import PROJECT_ROOT
from tests.conftest import SEEDS
from tests.key_facts import KEY_FACTS, KEY_LINKS

SOURCE_TEXTS = PROJECT_ROOT / "sources"


@pytest.fixture
def loaded(engine: sa.Engine) -> sa.Engine:
    result = load(engine, SEEDS)
    assert result.created > 100
    return engine


def _normal(value: Any, expected: Any) -> Any:
    """Compare database values with the table's plain Python ones; a text in several languages
    is compared whole where a map is expected, else by the text v1 shows (English first)."""
    if isinstance(value, dict) and not isinstance(expected, dict):
        return i18n.primary(value)[1] or ([] if isinstance(expected, list) else None)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def test_the_seed_documents_key_facts_are_structured_values(loaded: sa.Engine) -> None:
    missing = []
    with loaded.connect() as connection:
        for table_name, record_id, column, expected in KEY_FACTS:
            table = SQLModel.metadata.tables[table_name]
            value = connection.execute(
                sa.select(table.c[column]).where(table.c.id == record_id)
            ).scalar_one_or_none()
            if _normal(value, expected) != expected:
                missing.append(f"{table_name}/{record_id}.{column}: {value!r} != {expected!r}")
    assert not missing, "\n".join(missing)


def test_the_seed_documents_key_relationships_are_rows(loaded: sa.Engine) -> None:
    missing = []
    with loaded.connect() as connection:
        for table_name, match in KEY_LINKS:
            table = SQLModel.metadata.tables[table_name]
            query = sa.select(sa.func.count()).select_from(table)
            for column, value in match.items():
                query = query.where(table.c[column] == value)
            if connection.execute(query).scalar_one() == 0:
                missing.append(f"{table_name} {match}")
    assert not missing, "\n".join(missing)


def test_every_record_cites_a_source_and_every_source_is_cited(loaded: sa.Engine) -> None:
    with loaded.connect() as connection:
        cited = set(connection.execute(sa.text("SELECT entity_type, entity_id FROM citation")))
        sources_cited = set(connection.execute(sa.text("SELECT DISTINCT source_id FROM citation")))
        for entity, model in ENTITIES.items():
            if entity == "source":
                continue
            ids = connection.execute(sa.select(model.__table__.c.id)).scalars()  # type: ignore[attr-defined]
            uncited = [i for i in ids if (entity, i) not in cited]
            assert not uncited, f"{entity} records citing no source: {uncited}"
        sources = set(connection.execute(sa.text("SELECT id FROM source")))
    assert sources == sources_cited


def test_every_source_text_is_a_source_and_every_source_a_text() -> None:
    seeds = read_seeds(SEEDS)
    sources = seeds.records["source"].values()
    documents = {s.document for s in sources}  # type: ignore[attr-defined]
    texts = {p.relative_to(PROJECT_ROOT).as_posix() for p in SOURCE_TEXTS.glob("*.txt")}
    assert len(texts) == 5
    assert documents == texts
    for source in sources:  # sources/<id>.<language>.txt, as sources/README.md says
        expected = f"sources/{source.id}.{source.language}.txt"  # type: ignore[attr-defined]
        assert source.document == expected  # type: ignore[attr-defined]


def test_danish_letters_and_typography_survive_the_round_trip(loaded: sa.Engine) -> None:
    tables = SQLModel.metadata.tables
    columns = [
        tables["contact_point"].c.value,
        tables["practice"].c.summary,
        tables["practice"].c.methods,
        tables["city"].c.motto,
    ]
    with loaded.connect() as connection:
        stored = [v for c in columns for v in connection.execute(sa.select(c)).scalars()]
        raw = " ".join(
            str(v)
            for v in connection.execute(
                sa.text("SELECT CAST(summary AS TEXT) FROM practice WHERE summary IS NOT NULL")
            ).scalars()
        )
    values = json.dumps(stored, ensure_ascii=False)
    left_double_quote, apostrophe = "\u201c", "\u2019"
    for text in ("Landemærket", "Karlsgårdsvej", "tilværelsesmestring.dk", left_double_quote):
        assert text in values
    assert apostrophe in values
    # Stored as readable UTF-8, not as JSON escapes.
    assert "tilværelsesmestring.dk" in raw


def test_personal_contact_points_are_flagged(loaded: sa.Engine) -> None:
    with loaded.connect() as connection:
        table = SQLModel.metadata.tables["contact_point"]
        rows = connection.execute(
            sa.select(table.c.value, table.c.is_personal, table.c.person_name)
        ).all()
    named = [r for r in rows if r.person_name]
    assert named and all(r.is_personal for r in named)
    by_value = {r.value: r.is_personal for r in rows}
    assert by_value["krwa@socialstyrelsen.dk"] is True
    assert by_value["pet@pet.dk"] is False


def test_docs_data_md_describes_every_table_and_column() -> None:
    text = (PROJECT_ROOT / "docs" / "DATA.md").read_text(encoding="utf-8")
    sections = re.split(r"^### ", text, flags=re.MULTILINE)
    by_table = {s.split("`")[1]: s for s in sections[1:] if s.startswith("`")}
    undocumented = []
    common = {"id", "version", "updated_at", "content_hash"}
    for name, table in SQLModel.metadata.tables.items():
        section = by_table.get(name)
        if section is None:
            undocumented.append(f"table {name}")
            continue
        for column in table.columns:
            if column.name in common and name in ENTITIES:
                continue
            if f"`{column.name}`" not in section:
                undocumented.append(f"{name}.{column.name}")
    assert not undocumented, f"docs/DATA.md does not describe: {undocumented}"


def test_the_seed_layout_in_docs_matches_the_files() -> None:
    text = (PROJECT_ROOT / "docs" / "DATA.md").read_text(encoding="utf-8")
    for path in sorted(Path(SEEDS).glob("*.yaml")):
        assert f"`{path.name}`" in text
