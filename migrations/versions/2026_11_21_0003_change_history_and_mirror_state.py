"""change history and mirror state

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

The change feed keeps history after `history_start` (older `since` values get 410); the index
finds a record's latest change; `mirror_state` is the cursor of a database kept by `scn mirror`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mirror_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_url", sa.String(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("snapshots", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_mirror_state_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mirror_state")),
    )
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_entity_type_entity_id"))
        batch_op.create_index(
            batch_op.f("ix_change_entity_type_entity_id_seq"),
            ["entity_type", "entity_id", "seq"],
            unique=False,
        )

    with op.batch_alter_table("dataset_state", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("history_start", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.create_check_constraint("history_within_log", "history_start <= last_seq")


def downgrade() -> None:
    with op.batch_alter_table("dataset_state", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_dataset_state_history_within_log"), type_="check")
        batch_op.drop_column("history_start")

    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_entity_type_entity_id_seq"))
        batch_op.create_index(
            batch_op.f("ix_change_entity_type_entity_id"),
            ["entity_type", "entity_id"],
            unique=False,
        )

    op.drop_table("mirror_state")
