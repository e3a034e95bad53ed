"""The sync protocol's server side and its shared pieces.

- `changes`: the change feed after a sequence number. It is compacted: of each record only its
  latest change is listed, so every upsert carries the record exactly as it is now, and a client
  that applies a feed to its end holds exactly the publisher's data.
- `export_pieces`: every current record as NDJSON lines after a header, read in one transaction.
- `record_rows`: a v2 record back into database rows, for `scn mirror` (the inverse of
  app/api/records.py).
"""

import functools
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from app import codec, representation
from app.api.evidence import evidence_between, evidence_of
from app.api.records import V1, published, table, versioned_href
from app.db import in_recovery, set_deadline
from app.migrate import head_revision
from app.models import ENTITIES

EXPORT_BATCH = 500


class HistoryGone(Exception):
    """`since` is older than the kept history: the client must take a new snapshot."""

    def __init__(self, since: int, history_start: int) -> None:
        super().__init__(
            f"changes after {since} are no longer kept (history starts at {history_start})"
        )
        self.since = since
        self.history_start = history_start


class SinceInFuture(Exception):
    def __init__(self, since: int, last_seq: int) -> None:
        super().__init__(f"since={since} is after the last change ({last_seq})")
        self.since = since
        self.last_seq = last_seq


def state(connection: sa.Connection) -> dict[str, Any]:
    """The data set state row; before any load: no version, change 0, no `loaded_at`."""
    t = table("dataset_state")
    row = connection.execute(sa.select(t)).mappings().first()
    if row is None:
        return {"dataset_version": None, "content_digest": None, "last_seq": 0, "history_start": 0}
    return dict(row)


def changes(
    connection: sa.Connection,
    since: int,
    limit: int,
    *,
    personal_contacts: bool,
    api: str = V1,
    languages: list[str] | None = None,
    refuse_future: bool = True,
    with_evidence: bool = False,
) -> dict[str, Any]:
    """One page of the compacted change feed after `since`, with records as API `api` (and
    the reader's `languages`) shows them, and with each upsert's evidence if asked.

    A `since` past the last change, read on a replica that is behind, gets an empty page whose
    `next_since` is that `since` (the client keeps its place). On a primary it raises
    SinceInFuture when `refuse_future` (v1's protocol); otherwise it gets an empty page whose
    `next_since` is the last change (v2's, as CouchDB answers: nothing newer is known here;
    docs/SYNC.md says why)."""
    current = state(connection)
    last_seq, history_start = current["last_seq"], current["history_start"]
    if since < history_start:
        raise HistoryGone(since, history_start)
    if since > last_seq:
        if in_recovery(connection):
            # A replica that has not yet replayed changes the client already holds (read from the
            # primary, or from a replica further ahead): nothing new here, and the client keeps
            # its place. Sending it back to this replica's last_seq would make it apply changes
            # twice. (On every version: this is the replica's answer, not a protocol choice.)
            return {
                "since": since,
                "next_since": since,
                "last_seq": last_seq,
                "history_start": history_start,
                "has_more": False,
                "data": [],
            }
        if refuse_future:
            raise SinceInFuture(since, last_seq)
    if since >= last_seq:  # nothing after it (and no query with a number past any column's range)
        return page(since, last_seq, history_start, [], limit)
    rows = connection.execute(
        _page_query(api, personal_contacts), {"since": since, "last_seq": last_seq, "limit": limit}
    ).all()
    # Upserts without a stored document (a database `scn db check` would report): rendered as
    # the record and list endpoints do, from their rows.
    missing = [row for row in rows if row.op == "upsert" and row.body is None and row.published]
    fallback = _current_documents(connection, missing, personal_contacts, api, languages)
    quotes = _evidence_of_rows(connection, rows, api) if with_evidence else None
    items = page_items(rows, api, languages, fallback, quotes)
    return page(since, last_seq, history_start, items, limit)


def page_items(
    rows: Any,
    api: str,
    languages: list[str] | None,
    fallback: dict[tuple[str, str], representation.Document],
    quotes: dict[tuple[str, str], list[dict[str, Any]]] | None,
) -> list[dict[str, Any]]:
    """The items of a page of the feed, from the rows of its statement (`_page_query`): each
    upsert with its record as API `api` shows it to a reader of `languages` (the stored
    document, else its `fallback`; with its evidence from `quotes` if that is given), and an
    upsert of a record that is not published as a delete."""
    items = []
    for row in rows:
        key = (row.entity_type, row.entity_id)
        op = row.op
        document = None
        if op == "upsert" and row.published:
            document = (
                fallback.get(key)
                if row.body is None
                else representation.shown(
                    row.entity_type,
                    row.entity_id,
                    codec.unpack(row.body),
                    row.languages,
                    api,
                    languages,
                )
            )
        record = None
        if document is None:
            if op == "upsert":
                op = "delete"  # not published (a personal contact point): gone for this reader
        elif quotes is not None:
            # As in the export: the record, and beside its fields the quotes behind them.
            record = orjson.Fragment(document.with_member("evidence", quotes.get(key, [])))
        else:
            record = orjson.Fragment(document.body)
        items.append(
            {
                "seq": row.seq,
                "type": row.entity_type,
                "id": row.entity_id,
                "op": op,
                "version": row.version,
                "changed_at": row.changed_at,
                "href": versioned_href(api, row.entity_type, row.entity_id),
                "record": record,
            }
        )
    return items


@functools.cache
def _page_query(api: str, personal_contacts: bool) -> sa.Select[Any]:
    """One page of the compacted feed in one statement: each change after `since` (up to
    `last_seq`, at most `limit`) that no later change of its record supersedes, with its
    record's stored document (for an upsert) and whether the record is published (personal
    contact points may be withheld). Built once: building it cost more than running it."""
    return _feed_select(api, personal_contacts, sa.bindparam("last_seq"))


EVIDENCE_COLUMNS = (
    "field_path",
    "source_id",
    "document",
    "section",
    "quote",
    "quote_start",
    "quote_end",
)
"""The columns of an evidence item (app.api.evidence.evidence_item) in `feed_page_query`."""


def feed_page_query(api: str, personal_contacts: bool, with_evidence: bool) -> sa.Select[Any]:
    """`_page_query` up to the data set's last change, and beside each change the data set's
    `last_seq`, `history_start` and `loaded_at`: a page and its state in one statement, for a
    reader without a transaction around its statements (app/api/stored.py). With evidence:
    one row per evidence item of each upsert's record (by evidence id; one row with none for a
    change without), its columns named `evidence_<column>` (EVIDENCE_COLUMNS, then `id`)."""
    state = table("dataset_state")

    def current(column: str) -> Any:
        return sa.select(state.c[column]).where(state.c.id == 1).scalar_subquery()

    page = _feed_select(api, personal_contacts, current("last_seq")).add_columns(
        current("last_seq").label("last_seq"),
        current("history_start").label("history_start"),
        current("loaded_at").label("loaded_at"),
    )
    if not with_evidence:
        return page
    changes = page.cte("page")
    evidence, source = table("evidence"), table("source")
    found = sa.and_(
        changes.c.op == "upsert",
        evidence.c.entity_type == changes.c.entity_type,
        evidence.c.entity_id == changes.c.entity_id,
    )
    columns = [
        (source.c.document if name == "document" else evidence.c[name]).label(f"evidence_{name}")
        for name in (*EVIDENCE_COLUMNS, "id")
    ]
    return (
        sa.select(changes, *columns)
        .select_from(changes)
        .outerjoin(evidence, found)
        .outerjoin(source, source.c.id == evidence.c.source_id)
        .order_by(changes.c.seq, evidence.c.id)
    )


def _feed_select(api: str, personal_contacts: bool, last_seq: Any) -> sa.Select[Any]:
    change, r = table("change"), table(representation.TABLE)
    later = change.alias("later")
    superseded = (
        sa.select(sa.literal(1))
        .where(
            later.c.entity_type == change.c.entity_type,
            later.c.entity_id == change.c.entity_id,
            later.c.seq > change.c.seq,
        )
        .exists()
    )
    published_now: Any = sa.true()
    query = sa.select(
        change.c.seq,
        change.c.entity_type,
        change.c.entity_id,
        change.c.op,
        change.c.version,
        change.c.changed_at,
        r.c[representation.COLUMN[api]].label("body"),
        r.c[representation.LANGUAGES].label("languages"),
    ).outerjoin(
        r,
        sa.and_(
            change.c.op == "upsert",
            r.c.entity_type == change.c.entity_type,
            r.c.entity_id == change.c.entity_id,
        ),
    )
    if not personal_contacts:
        contact = table("contact_point")
        query = query.outerjoin(
            contact,
            sa.and_(change.c.entity_type == "contact_point", contact.c.id == change.c.entity_id),
        )
        published_now = sa.func.coalesce(contact.c.is_personal, sa.false()).is_not(True)
    return (
        query.add_columns(published_now.label("published"))
        .where(
            change.c.seq > sa.bindparam("since"),
            change.c.seq <= last_seq,
            ~superseded,
        )
        .order_by(change.c.seq)
        .limit(sa.bindparam("limit"))
    )


def page_links(api: str, since: int, limit: int, next_since: int) -> dict[str, str]:
    return {
        "self": f"{api}/changes?since={since}&limit={limit}",
        "next": f"{api}/changes?since={next_since}&limit={limit}",
    }


def page(
    since: int, last_seq: int, history_start: int, items: list[dict[str, Any]], limit: int
) -> dict[str, Any]:
    full = len(items) == limit
    next_since = items[-1]["seq"] if full else last_seq
    return {
        "since": since,
        "next_since": next_since,
        "last_seq": last_seq,
        "history_start": history_start,
        "has_more": full and next_since < last_seq,
        "data": items,
    }


def _upserted(rows: Any) -> dict[str, list[str]]:
    """Entity -> the ids of the records that the upserts among change `rows` name."""
    wanted: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row.op == "upsert":
            wanted[row.entity_type].append(row.entity_id)
    return wanted


def _evidence_of_rows(
    connection: sa.Connection, rows: Any, api: str
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    return {
        (entity, record_id): items
        for entity, ids in _upserted(rows).items()
        for record_id, items in evidence_of(connection, entity, ids, api).items()
    }


def _current_documents(
    connection: sa.Connection,
    rows: Any,
    personal_contacts: bool,
    api: str,
    languages: list[str] | None,
) -> dict[tuple[str, str], representation.Document]:
    """The published records the upserts of `rows` name, as their stored documents."""
    found: dict[tuple[str, str], representation.Document] = {}
    for entity, ids in _upserted(rows).items():
        t = table(entity)
        query = published(
            sa.select(t).where(t.c.id.in_(ids)).order_by(t.c.id),
            entity,
            t,
            personal_contacts=personal_contacts,
        )
        for document in representation.documents(connection, entity, query, api, languages):
            found[(entity, document.record_id)] = document
    return found


def export_header(
    connection: sa.Connection, types: list[str] | None, api: str = V1
) -> dict[str, Any]:
    current = state(connection)
    return {
        "type": "header",
        "api_version": api.strip("/"),
        "dataset_version": current["dataset_version"],
        "content_digest": current["content_digest"],
        "schema_revision": head_revision(),
        "last_seq": current["last_seq"],
        "history_start": current["history_start"],
        "types": types or list(ENTITIES),
    }


def export_count(
    connection: sa.Connection, types: list[str] | None, *, personal_contacts: bool
) -> int:
    """How many records `export_pieces` gives (its lines after the header)."""
    total = 0
    for entity in types or list(ENTITIES):
        t = table(entity)
        query = published(
            sa.select(sa.func.count()).select_from(t),
            entity,
            t,
            personal_contacts=personal_contacts,
        )
        total += int(connection.execute(query).scalar_one())
    return total


def export_pieces(
    connection: sa.Connection,
    types: list[str] | None,
    *,
    personal_contacts: bool,
    batch_timeout: float | None = None,
    api: str = V1,
    languages: list[str] | None = None,
    with_evidence: bool = False,
) -> Iterator[bytes]:
    """NDJSON in pieces of whole lines: the header, then every current record in entity then
    id order (each with its `evidence` if asked), a batch of records a piece.

    Call it inside one read transaction: the header's `last_seq` and the records then describe
    the same state. Records are read in batches, so memory does not grow with the data set.
    """
    yield orjson.dumps(export_header(connection, types, api), default=_json_default) + b"\n"
    for entity in types or list(ENTITIES):
        t = table(entity)
        # Built once, each batch bound to it: building it cost more than running it.
        batch = representation.joined(
            published(
                sa.select(t.c.id)
                .where(t.c.id > sa.bindparam("after"))
                .order_by(t.c.id)
                .limit(EXPORT_BATCH),
                entity,
                t,
                personal_contacts=personal_contacts,
            ),
            entity,
            api,
        )
        after = ""
        while True:
            if batch_timeout is not None:
                # Each batch gets its own deadline: an export is long, its statements are not.
                set_deadline(connection, batch_timeout)
            rows = connection.execute(batch, {"after": after}).all()
            if not rows:
                break
            quotes = (
                evidence_between(connection, entity, after, rows[-1][0], api)
                if with_evidence
                else None
            )
            yield _export_piece(connection, entity, rows, api, languages, quotes)
            after = rows[-1][0]


def _export_piece(
    connection: sa.Connection,
    entity: str,
    rows: Sequence[Any],
    api: str,
    languages: list[str] | None,
    quotes: dict[str, list[dict[str, Any]]] | None,
) -> bytes:
    """The lines of a batch of records, from their rows read with `representation.joined`,
    each with its evidence from `quotes` if that is given."""
    bodies: list[tuple[str, bytes]]
    if (api != V1 and languages) or any(body is None for _, body, _ in rows):
        documents = representation.documents_of(connection, entity, rows, api, languages)
        bodies = [(document.record_id, document.body) for document in documents]
    else:
        # Stored documents sent as they are: the export's common case, a few microseconds a
        # record (a Document each, and a line each, cost more than reading them).
        bodies = [(record_id, codec.unpack(body)) for record_id, body, _ in rows]
    if quotes is None:
        return b"\n".join([body for _, body in bodies]) + b"\n"
    return b"".join(
        [
            representation.with_member(body, "evidence", quotes.get(record_id, [])) + b"\n"
            for record_id, body in bodies
        ]
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


# --- a v2 record back into rows (for the mirror) ----------------------------------------------
