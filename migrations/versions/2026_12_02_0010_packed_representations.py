"""stored representations packed: each document compressed with zstd and dictionary 1

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

The documents revision 0008 stored as they are (2.2 KB of JSON a record, most of the database)
are kept packed (app/codec.py): about a quarter of the size, so more of a database fits in
memory. The API reads both forms, so a database serves the same bytes before and after.

Upgrade packs every document not packed yet; downgrade gives every document back as it is.
Both rewrite the table a batch at a time, in the migration's transaction. On SQLite the file
keeps the pages it frees until `VACUUM` (docs/OPERATIONS.md).
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from app import codec

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    _rewrite(lambda stored: stored if stored[:1] == codec.FORMAT_1 else codec.pack(stored))


def downgrade() -> None:
    _rewrite(codec.unpack)


def _rewrite(convert: Callable[[bytes], bytes]) -> None:
    """Every stored document through `convert`, in primary-key order, a batch at a time."""
    connection = op.get_bind()
    r = sa.table(
        "representation",
        sa.column("entity_type", sa.String),
        sa.column("entity_id", sa.String),
        sa.column("v1", sa.LargeBinary),
        sa.column("v2", sa.LargeBinary),
    )
    read = (
        sa.select(r.c.entity_type, r.c.entity_id, r.c.v1, r.c.v2)
        .where(
            sa.tuple_(r.c.entity_type, r.c.entity_id)
            > sa.tuple_(sa.bindparam("t"), sa.bindparam("i"))
        )
        .order_by(r.c.entity_type, r.c.entity_id)
        .limit(BATCH)
    )
    write = (
        sa.update(r)
        .where(r.c.entity_type == sa.bindparam("key_t"), r.c.entity_id == sa.bindparam("key_i"))
        .values(v1=sa.bindparam("new_v1"), v2=sa.bindparam("new_v2"))
    )
    after = ("", "")
    while rows := connection.execute(read, {"t": after[0], "i": after[1]}).all():
        connection.execute(
            write,
            [
                {
                    "key_t": entity,
                    "key_i": record_id,
                    "new_v1": convert(bytes(v1)),
                    "new_v2": convert(bytes(v2)),
                }
                for entity, record_id, v1, v2 in rows
            ],
        )
        after = (rows[-1][0], rows[-1][1])
