"""content hashes of compact JSON: the same rows hashed at a quarter of the cost

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

A record's content hash was a SHA-256 of its rows written by the standard library's JSON encoder
(each link row encoded on its own, then the whole again, with `, ` and `: ` between items). That
encoding cost four times what orjson's compact one costs for the same rows, and a hash was an
eighth of the work of `scn mirror`'s preparing processes (docs/PERFORMANCE.md). From this
revision on, the hash is a SHA-256 of `orjson.dumps({"row": ..., "links": {table: rows in the
order the API shows them}}, OPT_SORT_KEYS)`: the same rows, in the same order, with the same
meaning (app/loader.py `EntityRows`).

Upgrade moves each stored hash that is the old form of its record's rows to the new form, so a
load of unchanged seeds changes nothing and a mirror's hashes still equal its publisher's; then,
if the stored digest was the digest of the hashes before, it becomes the digest of those after
(its form, a sum of one SHA-256 per record, does not change). Downgrade moves both back. A hash
in neither form (left by an older revision's code, which the next load replaces) stays as it
is. The rows are read back as `scn mirror` reads a publisher's, as revision 0011 reads them.
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

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The published tables at this revision (frozen here).
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


def upgrade() -> None:
    _move(_standard_library_form, _compact_form)


def downgrade() -> None:
    _move(_compact_form, _standard_library_form)


# Both forms are frozen here, so that this revision moves exactly these values whatever the
# loader computes later.


def _standard_library_form(rows: EntityRows) -> str:
    links = {
        table: [json.dumps(r, sort_keys=True, default=str) for r in shown_order(table, link_rows)]
        for table, link_rows in sorted(rows.links.items())
    }
    text = json.dumps(
        {"row": rows.row, "links": links}, sort_keys=True, default=str, ensure_ascii=False
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _compact_form(rows: EntityRows) -> str:
    links = {table: shown_order(table, link_rows) for table, link_rows in rows.links.items()}
    text = orjson.dumps({"row": rows.row, "links": links}, default=str, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(text).hexdigest()


def _digest(connection: sa.Connection) -> str:
    """The data set's digest (revision 0011's form): the sum, modulo 2^256, of one SHA-256 per
    record of its entity, id and stored hash."""
    total = 0
    for entity in ENTITIES:
        t = _hashes_of(entity)
        for record_id, content_hash in connection.execute(sa.select(t.c.id, t.c.content_hash)):
            term = hashlib.sha256(f"{entity}/{record_id}/{content_hash}".encode()).digest()
            total += int.from_bytes(term, "big")
    return format(total % (1 << 256), "064x")


def _hashes_of(entity: str) -> sa.TableClause:
    return sa.table(entity, sa.column("id", sa.String), sa.column("content_hash", sa.String))


def _move(old: HashForm, new: HashForm) -> None:
    """Every stored hash that is `old` of its record's rows becomes `new` of them; the digest,
    if it is the digest of the hashes before, becomes the digest of those after."""
    connection = op.get_bind()
    state = sa.table("dataset_state", sa.column("content_digest", sa.String))
    held = connection.execute(sa.select(state.c.content_digest)).scalar_one_or_none()
    digest_moves = held is not None and held == _digest(connection)
    pieces = export_pieces(connection, None, personal_contacts=True, api=V2, with_evidence=True)
    next(pieces)  # the header
    for piece in pieces:
        records: list[dict[str, Any]] = [orjson.loads(line) for line in piece.splitlines()]
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
            was = old(rows)
            if stored[record["id"]] == was:
                changes.append({"key": record["id"], "hash": new(rows)})
        if changes:
            write = sa.update(t).where(t.c.id == sa.bindparam("key"))
            connection.execute(write.values(content_hash=sa.bindparam("hash")), changes)
    if digest_moves:
        connection.execute(sa.update(state).values(content_digest=_digest(connection)))
