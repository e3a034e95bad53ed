"""list filters indexed with the record id

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

A list page filtered by a column (`/v2/organisations?country=dk&cursor=...`) is
`WHERE column = ? AND id > ? ORDER BY id LIMIT n`. With the column indexed alone, both engines
read every matching record to sort them by id (740 organisations of a country at a million
records, 100,000 for a common kind). Indexed as (column, id), the page is read in order from
the index and the read stops after n records. Each such index replaces the column's own index,
which it also serves; `theme.scheme` had none. Downgrade restores the single-column indexes.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The filter columns at this revision (frozen here: app.models.LIST_FILTER_COLUMNS may grow).
FILTER_COLUMNS: dict[str, tuple[str, ...]] = {
    "source": ("kind", "language"),
    "theme": ("scheme",),
    "action_plan": ("country_id", "status"),
    "legal_basis": ("country_id",),
    "city": ("country_id",),
    "organisation": ("country_id", "city_id", "kind", "sector", "level", "parent_id"),
    "cooperation": ("country_id", "city_id", "kind", "scope", "model_id", "legal_basis_id"),
    "practice": ("country_id", "kind", "status", "funding_kind", "parent_id", "predecessor_id"),
    "contact_point": ("kind", "organisation_id", "practice_id"),
}
NOT_INDEXED_BEFORE = {("theme", "scheme")}


def upgrade() -> None:
    # Every new index first, the old ones last: on PostgreSQL an index build lets readers in,
    # a DROP INDEX locks its table out until the commit, which then follows at once.
    for table, columns in FILTER_COLUMNS.items():
        for column in columns:
            op.create_index(f"ix_{table}_{column}_id", table, [column, "id"])
    for table, columns in FILTER_COLUMNS.items():
        for column in columns:
            if (table, column) not in NOT_INDEXED_BEFORE:
                op.drop_index(f"ix_{table}_{column}", table_name=table)


def downgrade() -> None:
    for table, columns in FILTER_COLUMNS.items():
        for column in columns:
            if (table, column) not in NOT_INDEXED_BEFORE:
                op.create_index(f"ix_{table}_{column}", table, [column])
    for table, columns in FILTER_COLUMNS.items():
        for column in columns:
            op.drop_index(f"ix_{table}_{column}_id", table_name=table)
