"""HSDS identifiers: every HSDS `id` is a UUID derived from our own stable ids.

HSDS 3.0 wants UUIDs; ours are readable keys (`vink`, `pet`). Each HSDS object gets
`uuid5(NAMESPACE, name)` where `name` is a path built from our ids (`practice/vink`,
`practice/vink/service_area/copenhagen`): the same on every server, engine and reload, and anyone
can compute it (docs/HSDS.md lists every name). A UUID cannot be turned back into its name, so the
ids the API must resolve (services, organizations, taxonomy terms) are looked up in a small map
built once per loaded data set.
"""

import threading
import uuid
from collections.abc import Iterable

import sqlalchemy as sa

from app import sync, vocab
from app.models import table

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:scn-open-data:hsds")
"""= 8436d3d4-6a77-5c9c-9293-97aef16f1a73. Never change it: every id would change."""

# Our vocabularies published as HSDS taxonomies: taxonomy name -> its terms (codes).
VOCABULARIES: dict[str, list[str]] = {
    "practice_kind": [k.value for k in vocab.PracticeKind],
    "organisation_kind": [k.value for k in vocab.OrganisationKind],
    "sector": [k.value for k in vocab.Sector],
    "level": [k.value for k in vocab.Level],
}


def hsds_id(*parts: str) -> str:
    """The HSDS UUID of the object named by `parts` (joined with "/")."""
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


class Resolver:
    """UUID -> our id, for the objects a client can name in a URL or a filter.

    Rebuilt when the loaded data set changes (its last change number), so a new record is found
    and a deleted one is not. The map holds one entry per practice, organisation, theme and source.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: tuple[object, ...] | None = None
        self._names: dict[str, tuple[str, str]] = {}

    def lookup(self, connection: sa.Connection, value: str) -> tuple[str, str] | None:
        """(kind, our id) for an HSDS UUID, or None. Kind: practice, organisation, theme,
        source, or a vocabulary of VOCABULARIES."""
        state = sync.state(connection)
        key = (state["content_digest"], state["last_seq"])
        with self._lock:
            if key != self._state:
                self._names = dict(self._build(connection))
                self._state = key
            return self._names.get(value.lower())

    @staticmethod
    def _build(connection: sa.Connection) -> Iterable[tuple[str, tuple[str, str]]]:
        for entity in ("practice", "organisation", "theme", "source"):
            t = table(entity)
            for (record_id,) in connection.execute(sa.select(t.c.id)):
                yield hsds_id(entity, record_id), (entity, record_id)
        for name, codes in VOCABULARIES.items():
            for code in codes:
                yield hsds_id(name, code), (name, code)


RESOLVER = Resolver()
