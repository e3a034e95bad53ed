"""evidence

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

The `evidence` table: one row per quote that states a value of a record (docs/DATA.md,
"Evidence"), with its source, section and character offsets in the source's stored text. Every
other table is untouched, so the data stays as it was; the table starts empty and the next
`scn load` fills it (the records whose quotes it adds get a new version in the change feed, as
for any other change). Downgrade drops the table: the schema before it has no place for quotes,
which stay in seeds/ and come back with the next upgrade and load.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("field_path", sa.String(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("quote", sa.String(), nullable=False),
        sa.Column("section", sa.String(), nullable=True),
        sa.Column("quote_start", sa.Integer(), nullable=False),
        sa.Column("quote_end", sa.Integer(), nullable=False),
        sa.CheckConstraint("quote_end > quote_start", name=op.f("ck_evidence_quote_not_empty")),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["source.id"],
            name=op.f("fk_evidence_source_id_source"),
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evidence_entity_type_entity_id"),
            ["entity_type", "entity_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_evidence_source_id"), ["source_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_source_id"))
        batch_op.drop_index(batch_op.f("ix_evidence_entity_type_entity_id"))

    op.drop_table("evidence")
