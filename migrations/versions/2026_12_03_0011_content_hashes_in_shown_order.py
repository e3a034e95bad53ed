"""content hashes that see the order of a record's ordered lists

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

Before, a record's content hash sorted the rows of every table the record owns. A seed edit that
only reordered a list the API shows in its own order (a city's leaders, a practice's figures, a
cooperation's members, a record's evidence) gave the same hash: `scn load` saw no change and
kept the old order, and equal digests did not mean equal data. From this revision on, the hash
takes each table's rows in the order the API shows them (`app/representation.py shown_order`).

Upgrade moves each stored hash that is the old form of its record's rows to the new form, so a
load of unchanged seeds changes nothing and a mirror's digest still equals its publisher's.
Downgrade moves them back. A hash in neither form (one left by the code of an older revision,
which the next load replaces anyway) stays as it is. The rows are read back as `scn mirror`
reads a publisher's: its v2 export with evidence, each record through `app/record_rows.py`.
Where a hash moved, the data set's digest is computed again over the stored hashes.
"""

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

from app.api.records import V2, shown_order
from app.loader import EntityRows, stored_digest
from app.record_rows import record_rows
from app.sync import export_pieces

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HashForm = Callable[[EntityRows], str]


def upgrade() -> None:
    _move(_sorted_form, _shown_form)


def downgrade() -> None:
    _move(_shown_form, _sorted_form)


# Both forms are frozen here, so that this revision moves exactly these hashes whatever the
# loader computes later.


def _sorted_form(rows: EntityRows) -> str:
    return _sha256(
        {
            table: sorted(json.dumps(r, sort_keys=True, default=str) for r in link_rows)
            for table, link_rows in sorted(rows.links.items())
        },
        rows.row,
    )


def _shown_form(rows: EntityRows) -> str:
    return _sha256(
        {
            table: [
                json.dumps(r, sort_keys=True, default=str) for r in shown_order(table, link_rows)
            ]
            for table, link_rows in sorted(rows.links.items())
        },
        rows.row,
    )


def _sha256(links: dict[str, list[str]], row: dict[str, Any]) -> str:
    text = json.dumps({"row": row, "links": links}, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _move(old: HashForm, new: HashForm) -> None:
    """Every stored hash that is `old` of its record's rows becomes `new` of them."""
    connection = op.get_bind()
    moved = 0
    pieces = export_pieces(connection, None, personal_contacts=True, api=V2, with_evidence=True)
    next(pieces)  # the header
    for piece in pieces:
        records = [orjson.loads(line) for line in piece.splitlines()]
        entity = records[0]["type"]  # a piece holds one entity's records
        t = sa.table(entity, sa.column("id", sa.String), sa.column("content_hash", sa.String))
        stored = dict(
            connection.execute(
                sa.select(t.c.id, t.c.content_hash).where(t.c.id.in_([r["id"] for r in records]))
            ).all()
        )
        changes = []
        for record in records:
            evidence = record.pop("evidence")
            rows = record_rows(entity, record, evidence)
            was, becomes = old(rows), new(rows)
            if stored[record["id"]] == was and becomes != was:
                changes.append({"key": record["id"], "hash": becomes})
        if changes:
            write = sa.update(t).where(t.c.id == sa.bindparam("key"))
            connection.execute(write.values(content_hash=sa.bindparam("hash")), changes)
            moved += len(changes)
    if moved:
        state = sa.table("dataset_state", sa.column("content_digest", sa.String))
        connection.execute(sa.update(state).values(content_digest=stored_digest(connection)))
