"""multilingual texts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

Every translatable text becomes a language map stored as JSON: `"PET"` becomes
`{"en": "PET"}`, a list `["a", "b"]` becomes `{"en": ["a", "b"]}` (an empty list, `{}`). Theme
labels carry their language already (`label_language`), which becomes the map's key; the column
goes. Organisations gain `mission` and `mission_keywords`. The name indexes go: no query uses
them, and PostgreSQL's json type has no btree operator class.

Downgrade keeps, of each text, the value API v1 shows (English, else French, else Danish, else
the first language alphabetically); the other languages are dropped, as the old schema has no
place for them. The field lists below are frozen here on purpose (app.i18n may grow later).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (column, nullable)
TEXTS: dict[str, list[tuple[str, bool]]] = {
    "source": [("title", False), ("description", True)],
    "theme": [("label", False), ("description", True)],
    "country": [("name", False), ("national_overview", True), ("strategy_lead", True)],
    "action_plan": [("title", False), ("summary", True)],
    "legal_basis": [("citation", False), ("act", False), ("allows", True), ("forbids", True)],
    "city": [
        ("name", False),
        ("background", True),
        ("local_overview", True),
        ("policy_basis", True),
        ("motto", True),
    ],
    "organisation": [("name", False), ("description", True), ("legal_form", True)],
    "cooperation": [
        ("name", False),
        ("purpose", True),
        ("target_group", True),
        ("description", True),
    ],
    "practice": [("name", False), ("summary", True), ("funding", True)],
    "contact_point": [("label", True)],
}
TEXT_LISTS: dict[str, list[str]] = {
    "action_plan": ["emphases"],
    "city": ["tenets", "international_exchange_partners"],
    "practice": ["aims", "target_groups", "methods"],
}
NAME_INDEXES = {"city": "name", "organisation": "name", "cooperation": "name", "practice": "name"}
NEW_LISTS = ("mission", "mission_keywords")


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    for table, column in NAME_INDEXES.items():
        op.drop_index(f"ix_{table}_{column}", table_name=table)
    if _postgresql():
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()
    with op.batch_alter_table("theme") as batch_op:
        batch_op.drop_column("label_language")
    with op.batch_alter_table("organisation") as batch_op:
        for column in NEW_LISTS:
            batch_op.add_column(
                sa.Column(column, sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
            )
    with op.batch_alter_table("organisation") as batch_op:
        for column in NEW_LISTS:
            batch_op.alter_column(column, server_default=None, existing_type=sa.JSON())


def _upgrade_postgresql() -> None:
    for table, columns in TEXTS.items():
        for column, _nullable in columns:
            language = "label_language" if (table, column) == ("theme", "label") else "'en'"
            op.execute(
                f"ALTER TABLE {table} ALTER COLUMN {column} TYPE json USING "
                f"CASE WHEN {column} IS NULL THEN NULL "
                f"ELSE json_build_object({language}, {column}) END"
            )
    for table, lists in TEXT_LISTS.items():
        for column in lists:
            op.execute(
                f"ALTER TABLE {table} ALTER COLUMN {column} TYPE json USING "
                f"CASE WHEN json_array_length({column}) = 0 THEN '{{}}'::json "
                f"ELSE json_build_object('en', {column}) END"
            )


def _upgrade_sqlite() -> None:
    # SQLite keeps JSON as text: rewrite the values, then declare the new type.
    for table, columns in TEXTS.items():
        for column, _nullable in columns:
            language = "label_language" if (table, column) == ("theme", "label") else "'en'"
            op.execute(
                f"UPDATE {table} SET {column} = json_object({language}, {column}) "
                f"WHERE {column} IS NOT NULL"
            )
    for table, lists in TEXT_LISTS.items():
        for column in lists:
            op.execute(
                f"UPDATE {table} SET {column} = CASE WHEN json_array_length({column}) = 0 "
                f"THEN '{{}}' ELSE json_object('en', json({column})) END"
            )
    for table, columns in TEXTS.items():
        with op.batch_alter_table(table) as batch_op:
            for column, nullable in columns:
                batch_op.alter_column(
                    column, type_=sa.JSON(), existing_type=sa.String(), existing_nullable=nullable
                )


def downgrade() -> None:
    with op.batch_alter_table("organisation") as batch_op:
        for column in NEW_LISTS:
            batch_op.drop_column(column)
    with op.batch_alter_table("theme") as batch_op:
        batch_op.add_column(sa.Column("label_language", sa.String(length=2), nullable=True))
    if _postgresql():
        _downgrade_postgresql()
    else:
        _downgrade_sqlite()
    with op.batch_alter_table("theme") as batch_op:
        batch_op.alter_column("label_language", nullable=False, existing_type=sa.String(length=2))
    for table, column in NAME_INDEXES.items():
        op.create_index(f"ix_{table}_{column}", table, [column], unique=False)


def _downgrade_postgresql() -> None:
    # ALTER ... USING allows no subquery; these session-local functions hold the choice.
    op.execute(
        "CREATE FUNCTION pg_temp.v1_language(t json) RETURNS text LANGUAGE sql IMMUTABLE AS $$ "
        "SELECT CASE WHEN t IS NULL OR json_typeof(t) <> 'object' THEN NULL "
        "WHEN t->'en' IS NOT NULL THEN 'en' WHEN t->'fr' IS NOT NULL THEN 'fr' "
        "WHEN t->'da' IS NOT NULL THEN 'da' "
        "ELSE (SELECT key FROM json_each(t) ORDER BY key LIMIT 1) END $$"
    )
    op.execute("UPDATE theme SET label_language = pg_temp.v1_language(label)")
    for table, columns in TEXTS.items():
        for column, _nullable in columns:
            op.execute(
                f"ALTER TABLE {table} ALTER COLUMN {column} TYPE varchar USING "
                f"{column}->>pg_temp.v1_language({column})"
            )
    for table, lists in TEXT_LISTS.items():
        for column in lists:
            op.execute(
                f"ALTER TABLE {table} ALTER COLUMN {column} TYPE json USING "
                f"COALESCE({column}->pg_temp.v1_language({column}), '[]'::json)"
            )


def _downgrade_sqlite() -> None:
    def language(column: str) -> str:
        return (
            f"CASE WHEN json_type({column}, '$.en') IS NOT NULL THEN 'en' "
            f"WHEN json_type({column}, '$.fr') IS NOT NULL THEN 'fr' "
            f"WHEN json_type({column}, '$.da') IS NOT NULL THEN 'da' "
            f"ELSE (SELECT key FROM json_each({column}) ORDER BY key LIMIT 1) END"
        )

    op.execute(f"UPDATE theme SET label_language = {language('label')}")
    for table, columns in TEXTS.items():
        for column, _nullable in columns:
            op.execute(
                f"UPDATE {table} SET {column} = CASE WHEN json_type({column}) = 'object' "
                f"THEN json_extract({column}, '$.' || {language(column)}) END"
            )
        with op.batch_alter_table(table) as batch_op:
            for column, nullable in columns:
                batch_op.alter_column(
                    column, type_=sa.String(), existing_type=sa.JSON(), existing_nullable=nullable
                )
    for table, lists in TEXT_LISTS.items():
        for column in lists:
            op.execute(
                f"UPDATE {table} SET {column} = "
                f"COALESCE(json_extract({column}, '$.' || {language(column)}), '[]')"
            )
