"""content hashes that see the order of a record's ordered lists; a digest a change can move

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

Before, a record's content hash sorted the rows of every table the record owns. A seed edit that
only reordered a list the API shows in its own order (a city's leaders, a cooperation's members,
a record's evidence) gave the same hash: `scn load` saw no change and kept the old order, and
equal digests did not mean equal data. From this revision on, the hash takes each table's rows
in the order the API shows them (`app/api/records.py shown_order`).

The data set's digest was one SHA-256 over every record's line, in the order the database
sorted them, so only reading every hash again could update it (a catch-up of ten changes read a
million), and a PostgreSQL database whose collation is not C computed another digest for the
same data. From this revision on it is the sum, modulo 2^256, of one SHA-256 per record
(`app/loader.py digest_of`), which a change moves by what changed.

Upgrade moves each stored hash that is the old form of its record's rows to the new form, so a
load of unchanged seeds changes nothing and a mirror's hashes still equal its publisher's; then,
if the stored digest was the old digest of the hashes before, it becomes the new digest of those
after. Downgrade moves both back. A hash or a digest in neither form (one left by the code of an
older revision, which the next load replaces anyway) stays as it is. The rows are read back as
`scn mirror` reads a publisher's: its v2 export with evidence, each record through
`app/record_rows.py`.
"""

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

from app.api.records import V2, shown_order
from app.loader import EntityRows
from app.record_rows import record_rows
from app.sync import export_pieces

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The published tables at this revision, in the order the old digest read them (frozen here).
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

HashForm = Callable[[EntityRows], str]
DigestForm = Callable[[sa.Connection], str]


def upgrade() -> None:
    _move(_sorted_form, _shown_form, _line_digest, _sum_digest)


def downgrade() -> None:
    _move(_shown_form, _sorted_form, _sum_digest, _line_digest)


# Every form is frozen here, so that this revision moves exactly these values whatever the
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


def _line_digest(connection: sa.Connection) -> str:
    digest = hashlib.sha256()
    for entity, record_id, content_hash in _stored_hashes(connection, ordered=True):
        digest.update(f"{entity}/{record_id}/{content_hash}\n".encode())
    return digest.hexdigest()


def _sum_digest(connection: sa.Connection) -> str:
    total = sum(
        int.from_bytes(
            hashlib.sha256(f"{entity}/{record_id}/{content_hash}".encode()).digest(), "big"
        )
        for entity, record_id, content_hash in _stored_hashes(connection, ordered=False)
    )
    return format(total % (1 << 256), "064x")


def _stored_hashes(connection: sa.Connection, *, ordered: bool) -> Any:
    for entity in ENTITIES:
        t = _hashes_of(entity)
        query = sa.select(t.c.id, t.c.content_hash)
        for record_id, content_hash in connection.execute(
            query.order_by(t.c.id) if ordered else query
        ):
            yield entity, record_id, content_hash


def _hashes_of(entity: str) -> sa.TableClause:
    return sa.table(entity, sa.column("id", sa.String), sa.column("content_hash", sa.String))


def _move(old: HashForm, new: HashForm, old_digest: DigestForm, new_digest: DigestForm) -> None:
    """Every stored hash that is `old` of its record's rows becomes `new` of them; the digest,
    if it is `old_digest` of the hashes before, becomes `new_digest` of those after."""
    connection = op.get_bind()
    state = sa.table("dataset_state", sa.column("content_digest", sa.String))
    held = connection.execute(sa.select(state.c.content_digest)).scalar_one_or_none()
    digest_moves = held is not None and held == old_digest(connection)
    pieces = export_pieces(connection, None, personal_contacts=True, api=V2, with_evidence=True)
    next(pieces)  # the header
    for piece in pieces:
        records = [orjson.loads(line) for line in piece.splitlines()]
        entity = records[0]["type"]  # a piece holds one entity's records
        t = _hashes_of(entity)
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
    if digest_moves:
        connection.execute(sa.update(state).values(content_digest=new_digest(connection)))
