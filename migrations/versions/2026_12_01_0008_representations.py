"""stored representations: each record's v1 and v2 JSON, rendered when it is written

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

The `representation` table holds, per record, the exact bytes /v1 and /v2 send for it (v2 with
every language) and the languages of its v2 texts. From this revision on, whatever writes a
record (`scn load`, `scn mirror`, `scn synth`) renders it in the same transaction, and the API
serves the stored bytes (app/representation.py).

Upgrade renders every record the database holds, with the application's current builders (a
representation is by definition what the code publishes; `scn db check` compares the two).
Downgrade drops the table: nothing else is lost, the rows still hold every value.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app import representation
from app.bulk import BulkWriter

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The published tables at this revision (frozen here: app.models may grow later).
ENTITIES = (
    "source",
    "theme",
    "country",
    "action_plan",
    "legal_basis",
    "city",
    "organisation",
    "cooperation",
    "practice",
    "contact_point",
)


def upgrade() -> None:
    op.create_table(
        "representation",
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("v1", sa.LargeBinary(), nullable=False),
        sa.Column("v2", sa.LargeBinary(), nullable=False),
        sa.Column("v2_languages", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("entity_type", "entity_id", name=op.f("pk_representation")),
    )
    connection = op.get_bind()
    writer = BulkWriter(connection)
    for entity in ENTITIES:
        ids = representation.every_id(connection, entity)
        for rendered in representation.render(connection, entity, ids):
            writer.add("representation", rendered.row(packed=False))
    writer.flush()


def downgrade() -> None:
    op.drop_table("representation")
