"""`scn synth`: a synthetic data set of N records, for benchmarks and scale tests.

The records are made up (deterministically, from `--seed`) in the proportions of the real seeds:
per 125 records about 41 organisations, 25 practices, 23 contact points, 12 themes, 11
cooperations, 5 sources, 3 cities, 3 action plans, a legal basis and a country (countries stop at
676, the two-letter codes). Relationships come in the real seeds' densities (a practice has about
1.2 organisations, a city 4 themes, a record 1.3 citations, ...). They go through the same tables,
the search index and a change history of several loads (creations, updates, deletes), so the API
serves them exactly as it serves loaded seeds.

The data set says it is synthetic: its version is `synthetic-<N>-seed<S>`, and every source is
titled "Synthetic source ...". It is written in one transaction under the loader's lock, with the
database driver's bulk paths (SQLite executemany, PostgreSQL COPY), and only into a database that
holds no data set (or, with `force`, after deleting the one it holds).
"""

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache, partial
from typing import Any

import sqlalchemy as sa

from app import apart, i18n, models, representation, search, vocab
from app.bulk import BulkWriter, Converter, Key
from app.loader import EntityRows, digest_of, stored_row, write_transaction
from app.models import OWNED_LINKS
from app.progress import QUIET, Tracker

PROPORTIONS = {
    "source": 5,
    "theme": 12,
    "country": 1,
    "action_plan": 3,
    "legal_basis": 1,
    "city": 3,
    "organisation": 41,
    "cooperation": 11,
    "practice": 25,
    "contact_point": 23,
}
"""Records of each entity in the real seeds (seeds/*.yaml)."""

MAX_COUNTRIES = 26 * 26  # iso_code is two letters and unique
LOADS = 12  # the history: an initial load, then monthly loads that add, update and delete
INITIAL_SHARE = 0.7  # of the records, created by the first load
UPDATED_SHARE = 0.1  # of the records, updated by a later load
DELETED_SHARE = 0.01  # extra records, created and later deleted (their ids are never reused)
FIRST_LOAD = datetime(2024, 1, 15, 9, 0, tzinfo=UTC)
CHUNK = 20_000  # rows per bulk write
PIECE = 250  # records per piece of work for the processes that prepare them (app.apart)

ID_PREFIX = {
    "source": "source",
    "theme": "theme",
    "action_plan": "plan",
    "legal_basis": "law",
    "city": "city",
    "organisation": "org",
    "cooperation": "coop",
    "practice": "practice",
    "contact_point": "contact",
}


class SynthError(Exception):
    """The synthetic data set was not written (the database holds data, or is not migrated)."""


def counts(records: int) -> dict[str, int]:
    """How many records of each entity make `records` in the real proportions (each at least 1)."""
    if records < len(PROPORTIONS):
        raise SynthError(f"at least {len(PROPORTIONS)} records are needed (one of each entity)")
    total = sum(PROPORTIONS.values())
    out = {e: max(1, records * w // total) for e, w in PROPORTIONS.items()}
    out["country"] = min(out["country"], MAX_COUNTRIES)
    # What rounding (or the country limit) left over goes to the largest entity.
    out["organisation"] += records - sum(out.values())
    return out


def dataset_version(records: int, seed: int) -> str:
    return f"synthetic-{records}-seed{seed}"


def country_id(index: int) -> str:
    return chr(ord("a") + index // 26) + chr(ord("a") + index % 26)


@dataclass
class Ids:
    """Every id of the data set: live ones (in the tables) and deleted ones (in the history)."""

    live: dict[str, list[str]] = field(default_factory=dict)
    deleted: dict[str, list[str]] = field(default_factory=dict)


def make_ids(per_entity: dict[str, int], rng: random.Random) -> Ids:
    ids = Ids()
    for entity, count in per_entity.items():
        if entity == "country":
            ids.live[entity], ids.deleted[entity] = [country_id(i) for i in range(count)], []
            continue
        gone = int(count * DELETED_SHARE)
        slots = count + gone
        deleted_slots = set(rng.sample(range(slots), gone))
        prefix, width = ID_PREFIX[entity], max(7, len(str(slots)))
        all_ids = [f"{prefix}-{i:0{width}d}" for i in range(slots)]
        ids.live[entity] = [x for i, x in enumerate(all_ids) if i not in deleted_slots]
        ids.deleted[entity] = [x for i, x in enumerate(all_ids) if i in deleted_slots]
    return ids


def as_language_maps(entity: str, row: dict[str, Any]) -> dict[str, Any]:
    """The texts of a row as the database keeps them (app.i18n): one language each, English,
    but for theme labels, in the language drawn for them."""
    out = dict(row)
    language = out.pop("label_language", i18n.DEFAULT_LANGUAGE)
    for name in i18n.TEXT_FIELDS.get(entity, ()):
        text = out.get(name)
        if text is not None:
            out[name] = {language if name == "label" else i18n.DEFAULT_LANGUAGE: text}
    for name in i18n.TEXT_LIST_FIELDS.get(entity, ()):
        texts = out.get(name) or []
        out[name] = {i18n.DEFAULT_LANGUAGE: texts} if texts else {}
    return out


# --- text -----------------------------------------------------------------------------------

PLACE_START = ["Ny", "Nørre", "Sønder", "Vester", "Øster", "Store", "Lille", "Gammel", "Å", "Hede"]
PLACE_END = ["borg", "by", "købing", "havn", "rup", "sted", "lev", "bæk", "holm", "strand", "skov"]
TOPICS = [
    "community resilience",
    "multi-agency partnerships",
    "support hotline",
    "mentoring",
    "parent coaching",
    "exit programmes",
    "youth work",
    "online radicalisation",
    "prison and probation",
    "school outreach",
    "social media literacy",
    "family support",
    "early intervention",
    "critical aftercare",
    "dialogue and inclusion",
    "training of frontline workers",
]
ACTIONS = [
    "strengthens",
    "coordinates",
    "trains practitioners in",
    "supports municipalities with",
    "evaluates",
    "funds local work on",
    "brings schools, social services and police together around",
    "offers counselling on",
]
AUDIENCES = [
    "young people at risk",
    "parents and relatives",
    "teachers",
    "social workers",
    "police officers",
    "former extremists",
    "local communities",
    "municipal staff",
]
NOUNS = ["Centre", "Network", "Unit", "Council", "Institute", "Office", "Team", "Association"]
FIRST_NAMES = ["Anne", "Søren", "Mette", "Jørgen", "Ida", "Lars", "Freja", "Mads", "Åse", "Niels"]
LAST_NAMES = ["Jensen", "Nielsen", "Hansen", "Pedersen", "Sørensen", "Møller", "Kjær", "Østergaard"]


class Text:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def place(self) -> str:
        return self.rng.choice(PLACE_START) + self.rng.choice(PLACE_END)

    def topic(self) -> str:
        return self.rng.choice(TOPICS)

    def sentence(self, subject: str) -> str:
        r = self.rng
        return f"{subject} {r.choice(ACTIONS)} {r.choice(TOPICS)} for {r.choice(AUDIENCES)}."

    def paragraph(self, subject: str, sentences: int = 3) -> str:
        return " ".join(self.sentence(subject) for _ in range(sentences))

    def topics(self, low: int, high: int) -> list[str]:
        return self.rng.sample(TOPICS, self.rng.randint(low, high))

    def person(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"


# --- records ----------------------------------------------------------------------------------


Record = tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]


def _day(rng: random.Random, first_year: int, last_year: int) -> date:
    return date(rng.randint(first_year, last_year), rng.randint(1, 12), rng.randint(1, 28))


class Maker:
    """Builds each record's row and owned link rows, referring only to live records."""

    def __init__(self, ids: Ids, rng: random.Random) -> None:
        self.ids = ids.live
        self.rng = rng
        self.text = Text(rng)
        self.national_models = self.ids["cooperation"][: max(1, len(self.ids["cooperation"]) // 20)]

    def pick(self, entity: str) -> str:
        return self.rng.choice(self.ids[entity])

    def distinct(self, entity: str, count: int) -> list[str]:
        pool = self.ids[entity]
        return sorted({self.rng.choice(pool) for _ in range(min(count, len(pool)))})

    def earlier(self, entity: str, index: int) -> str | None:
        """An earlier record of the same entity (parents before children: no cycles)."""
        return self.ids[entity][self.rng.randrange(index)] if index else None

    def source(self, i: int, rid: str) -> Record:
        r = self.rng
        kind = r.choice(list(vocab.SourceKind)).value
        return {
            "title": f"Synthetic source {i + 1}: {self.text.topic()} in {self.text.place()}",
            "publisher": f"{self.text.place()} {r.choice(NOUNS)}",
            "kind": kind,
            "language": r.choice(["en", "en", "en", "fr", "da"]),
            "url": f"https://example.org/synthetic/{rid}",
            "document": f"synthetic/{rid}.txt",
            "last_modified": _day(r, 2015, 2024),
            "last_modified_precision": "day",
            "description": "A made-up document of the synthetic benchmark data set.",
        }, {}

    def theme(self, i: int, rid: str) -> Record:
        topic = self.text.topic()
        return {
            "label": f"{topic} {i + 1}",
            "label_language": self.rng.choice(["en", "fr"]),
            "scheme": "scn-keywords" if i % 3 else "synthetic-keywords",
            "description": f"Work on {topic}.",
        }, {}

    def country(self, i: int, rid: str) -> Record:
        r = self.rng
        name = f"Synthland {rid.upper()}"
        strategy = [
            {
                "country_id": rid,
                "organisation_id": self.pick("organisation"),
                "role": "lead",
                "note": None,
            }
        ]
        return {
            "iso_code": rid.upper(),
            "name": name,
            "national_overview": self.text.paragraph(name, 4),
            "strategy_lead": f"The {r.choice(NOUNS).lower()} of {name}",
            "municipality_count": r.randint(5, 400),
            "police_district_count": r.randint(1, 40),
            "region_count": r.randint(1, 20),
        }, {"country_strategy_organisation": strategy}

    def action_plan(self, i: int, rid: str) -> Record:
        r = self.rng
        return {
            "country_id": self.pick("country"),
            "year": r.randint(2005, 2024),
            "title": f"National action plan on {self.text.topic()}",
            "status": r.choice(["current", "superseded", None]),
            "summary": self.text.paragraph("The plan", 2),
            "emphases": self.text.topics(1, 4),
        }, {}

    def legal_basis(self, i: int, rid: str) -> Record:
        section = str(self.rng.randint(1, 300))
        return {
            "country_id": self.pick("country"),
            "citation": f"Section {section} of the Synthetic Act {i + 1}",
            "act": f"Synthetic Act {i + 1}",
            "section": section,
            "allows": "Authorities may share information to prevent crime.",
            "forbids": "Sharing for any other purpose.",
        }, {}

    def city(self, i: int, rid: str) -> Record:
        r = self.rng
        name = self.text.place()
        member = r.random() < 0.5
        low = r.randint(10, 18)
        since = date(r.randint(2015, 2024), r.randint(1, 12), 1) if member else None
        leaders = (
            [{"city_id": rid, "role": "mayor", "person_name": self.text.person(), "title": None}]
            if r.random() < 0.33
            else []
        )
        themes = [{"city_id": rid, "theme_id": t} for t in self.distinct("theme", 4)]
        return {
            "country_id": self.pick("country"),
            "name": name,
            "population": r.randint(2_000, 800_000),
            "scn_member": member,
            "scn_member_since": since,
            "scn_member_since_precision": "month" if member else None,
            "background": self.text.paragraph(name, 3),
            "local_overview": self.text.paragraph(f"{name} municipality", 2),
            "policy_basis": f"{name}'s policy on {self.text.topic()}",
            "tenets": self.text.topics(0, 3),
            "motto": None,
            "focus_age_min": low,
            "focus_age_max": low + r.randint(5, 15),
            "international_exchange_since": r.choice([None, r.randint(2010, 2024)]),
            "international_exchange_partners": [],
        }, {"city_leader": leaders, "city_theme": themes}

    def organisation(self, i: int, rid: str) -> Record:
        r = self.rng
        kind = r.choice(list(vocab.OrganisationKind)).value
        name = f"{self.text.place()} {r.choice(NOUNS)} for {self.text.topic()}"
        established = _day(r, 1950, 2024) if r.random() < 0.4 else None
        related = self.pick("organisation") if r.random() < 0.25 else None
        relations = (
            [
                {
                    "organisation_id": rid,
                    "kind": r.choice(list(vocab.OrganisationRelationKind)).value,
                    "related_organisation_id": related,
                    "note": None,
                }
            ]
            if related and related != rid
            else []
        )
        registered = r.random() < 0.2
        return {
            "name": name,
            "acronym": "".join(w[0] for w in name.split()).upper()[:32],
            "kind": kind,
            "sector": r.choice(list(vocab.Sector)).value,
            "level": r.choice(list(vocab.Level)).value,
            "country_id": self.pick("country"),
            "city_id": self.pick("city") if r.random() < 0.17 else None,
            "parent_id": self.earlier("organisation", i) if r.random() < 0.27 else None,
            "description": self.text.paragraph("The organisation", 2),
            "website": f"https://example.org/{rid}",
            "established": established,
            "established_precision": "day" if established else None,
            "legal_form": None,
            "registration_number": f"{r.randint(10**7, 10**8 - 1)}" if registered else None,
            "registration_country": "DK" if registered else None,
        }, {"organisation_relation": relations}

    def cooperation(self, i: int, rid: str) -> Record:
        r = self.rng
        is_model = i < len(self.national_models)
        scope = "national_model" if is_model else r.choice(["national", "local", "local"])
        model = r.choice(self.national_models) if scope == "local" else None
        members = []
        for _ in range(r.randint(1, 3)):
            if r.random() < 0.8:
                members.append({"organisation_id": self.pick("organisation"), "sector": None})
            else:
                members.append({"organisation_id": None, "sector": r.choice(AUDIENCES)})
        seen: set[tuple[Any, Any]] = set()
        member_rows = []
        for m in members:
            key = (m["organisation_id"], m["sector"])
            if key in seen:
                continue
            seen.add(key)
            member_rows.append(
                {
                    "cooperation_id": rid,
                    "organisation_id": m["organisation_id"],
                    "member_cooperation_id": None,
                    "sector": m["sector"],
                    "role": r.choice(list(vocab.MemberRole)).value,
                    "note": None,
                }
            )
        established = date(r.randint(1975, 2024), 1, 1) if r.random() < 0.5 else None
        name = f"{self.text.place()} cooperation on {self.text.topic()}"
        return {
            "name": name,
            "acronym": None,
            "kind": r.choice(list(vocab.CooperationKind)).value,
            "scope": scope,
            "country_id": self.pick("country"),
            "city_id": self.pick("city") if scope == "local" else None,
            "model_id": model,
            "legal_basis_id": self.pick("legal_basis") if r.random() < 0.3 else None,
            "established": established,
            "established_precision": "year" if established else None,
            "established_by_law": r.choice([None, True, False]),
            "purpose": self.text.sentence("The cooperation"),
            "target_group": r.choice(AUDIENCES),
            "description": self.text.paragraph("It", 2),
        }, {"cooperation_member": member_rows}

    def practice(self, i: int, rid: str) -> Record:
        r = self.rng
        topic = self.text.topic()
        name = f"{self.text.place()} {topic} {r.choice(['programme', 'project', 'course'])}"
        start = date(r.randint(2000, 2022), 1, 1) if r.random() < 0.6 else None
        end = date(start.year + r.randint(1, 3), 12, 31) if start and r.random() < 0.4 else None
        low = r.randint(10, 25) if r.random() < 0.3 else None
        cost = Decimal(r.randint(1, 500) * 1000) if r.random() < 0.1 else None
        roles = list(vocab.PracticeOrganisationRole)
        organisations = [
            {"practice_id": rid, "organisation_id": o, "role": r.choice(roles).value, "note": None}
            for o in self.distinct("organisation", 1 + (r.random() < 0.2))
        ]
        figures = (
            [
                {
                    "practice_id": rid,
                    "key": "participants",
                    "label": "Participants a year",
                    "value": Decimal(r.randint(5, 500)),
                    "value_max": None,
                    "unit": "people",
                    "per": "year",
                    "approximate": r.random() < 0.5,
                }
            ]
            if r.random() < 0.45
            else []
        )
        cooperations = (
            [
                {
                    "practice_id": rid,
                    "cooperation_id": self.pick("cooperation"),
                    "role": r.choice(list(vocab.PracticeCooperationRole)).value,
                }
            ]
            if r.random() < 0.15
            else []
        )
        cities = [{"practice_id": rid, "city_id": self.pick("city")}] if r.random() < 0.5 else []
        themes = [{"practice_id": rid, "theme_id": self.pick("theme")}] if r.random() < 0.3 else []
        parent = self.earlier("practice", i) if r.random() < 0.36 else None
        return {
            "name": name,
            "acronym": None,
            "kind": r.choice(list(vocab.PracticeKind)).value,
            "status": r.choice([None, None, "active", "completed", "planned"]),
            "country_id": self.pick("country"),
            "parent_id": parent,
            "predecessor_id": None,
            "summary": self.text.paragraph("The practice", 3),
            "aims": self.text.topics(1, 3),
            "target_groups": r.sample(AUDIENCES, r.randint(1, 2)),
            "methods": [],
            "age_min": low,
            "age_max": low + r.randint(2, 15) if low is not None else None,
            "period_start": start,
            "period_start_precision": "year" if start else None,
            "period_end": end,
            "period_end_precision": "day" if end else None,
            "availability": None,
            "funding_kind": r.choice([None, None, *[k.value for k in vocab.FundingKind]]),
            "funding": None,
            "cost_amount": cost,
            "cost_currency": "EUR" if cost is not None else None,
            "cost_is_estimate": (r.random() < 0.5) if cost is not None else None,
            "participants_pay_fee": None,
            "website": f"https://example.org/{rid}" if r.random() < 0.3 else None,
        }, {
            "practice_figure": figures,
            "practice_organisation": organisations,
            "practice_cooperation": cooperations,
            "practice_city": cities,
            "practice_theme": themes,
        }

    def contact_point(self, i: int, rid: str) -> Record:
        r = self.rng
        kind = r.choices(["email", "phone", "postal_address", "website"], [9, 8, 5, 1])[0]
        personal = kind in ("email", "phone") and r.random() < 0.4
        person = self.text.person() if personal and r.random() < 0.5 else None
        place = self.text.place()
        value = {
            "email": f"{'person' if personal else 'info'}.{i}@example.org",
            "phone": f"(+45) {r.randint(10**7, 10**8 - 1)}",
            "postal_address": f"{place}vej {r.randint(1, 200)}, DK-{r.randint(1000, 9990)} {place}",
            "website": f"https://example.org/contact/{i}",
        }[kind]
        postal = kind == "postal_address"
        owner_org = r.random() < 0.6
        return {
            "kind": kind,
            "value": value,
            "label": None if r.random() < 0.5 else f"{place} office",
            "is_personal": personal,
            "person_name": person,
            "organisation_id": self.pick("organisation") if owner_org else None,
            "practice_id": None if owner_org else self.pick("practice"),
            "street_address": f"{place}vej {r.randint(1, 200)}" if postal else None,
            "postal_code": str(r.randint(1000, 9990)) if postal else None,
            "locality": place if postal else None,
            "country_code": "DK" if postal else None,
        }, {}

    def citations(self, entity: str, rid: str) -> list[dict[str, Any]]:
        count = 1 + (self.rng.random() < 0.33)
        return [
            {"entity_type": entity, "entity_id": rid, "source_id": s, "section": None}
            for s in self.distinct("source", count)
        ]

    def record(self, entity: str, i: int, rid: str) -> EntityRows:
        maker: Callable[[int, str], Record] = getattr(self, entity)
        row, links = maker(i, rid)
        row = as_language_maps(entity, row)
        links = {t: links.get(t, []) for t, _ in OWNED_LINKS.get(entity, [])}
        if entity != "source":
            links["citation"] = self.citations(entity, rid)
        return EntityRows(row, links)


# --- writing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """Records `start` to `stop` of one entity in the data set of (`records`, `seed`): a piece
    of work that any process can make alone (app.apart)."""

    records: int
    seed: int
    entity: str
    start: int
    stop: int


@dataclass
class Made:
    """A record made: its content hash, the loads that created and updated it, and its search
    entry (its rows are in its piece's `Rows`)."""

    id: str
    content_hash: str
    created: int
    updated: int | None
    entry: search.Entry | None


@dataclass
class Rows:
    """The records of a piece, and their rows converted for the writer's driver, by table and
    columns (with their representations when they were made in memory)."""

    records: list[Made]
    rows: dict[Key, list[tuple[Any, ...]]]


@cache
def _ids(records: int, seed: int) -> Ids:
    """The data set's ids (each process that makes records makes them once)."""
    return make_ids(counts(records), random.Random(seed))


def make(piece: Piece, *, render: bool, dialect: str) -> Rows:
    """The records of `piece`, with their content hash, search entry and (with `render`)
    representations made from their rows in memory, their rows converted for `dialect`'s
    driver. Each piece has a random generator of its own, seeded by the data set's seed and
    the piece: the data set is the same whichever process makes which piece."""
    entity = piece.entity
    rng = random.Random(f"{piece.seed}:{entity}:{piece.start}")
    maker = Maker(_ids(piece.records, piece.seed), rng)
    converter = Converter.named(dialect)
    made = Rows([], defaultdict(list))

    def add(table: str, row: dict[str, Any]) -> None:
        key, values = converter.convert(table, row)
        made.rows[key].append(values)

    held = []
    for i in range(piece.start, piece.stop):
        rid = maker.ids[entity][i]
        created = 0 if rng.random() < INITIAL_SHARE else rng.randrange(LOADS)
        updated = (
            rng.randrange(created + 1, LOADS)
            if (created < LOADS - 1 and rng.random() < UPDATED_SHARE)
            else None
        )
        rows = maker.record(entity, i, rid)
        content_hash = rows.content_hash()
        row = stored_row(
            rid,
            rows,
            1 if updated is None else 2,
            _load_time(created if updated is None else updated),
            content_hash,
        )
        made.records.append(
            Made(rid, content_hash, created, updated, rows.search_entry(entity, rid))
        )
        add(entity, row)
        for link_table, link_rows in rows.links.items():
            for link in link_rows:
                add(link_table, link)
        held.append((row, rows.shown_links()))
    if render:
        for rendered in representation.render_held(entity, held):
            add(representation.TABLE, rendered.row())
    return made


@dataclass
class SynthResult:
    dataset_version: str
    records: dict[str, int]
    changes: int
    last_seq: int


def _holds_data(connection: sa.Connection) -> bool:
    state = connection.execute(sa.select(models.table("dataset_state").c.id)).first()
    return state is not None or any(
        connection.execute(sa.select(models.table(e).c.id).limit(1)).first() is not None
        for e in models.ENTITIES
    )


def _delete_everything(connection: sa.Connection) -> None:
    search.clear(connection)
    for t in reversed(models.SQLModel.metadata.sorted_tables):
        connection.execute(sa.delete(t))


def _load_time(load: int) -> datetime:
    return FIRST_LOAD + timedelta(days=30 * load)


def synthesise(
    engine: sa.Engine,
    records: int,
    *,
    seed: int = 1,
    force: bool = False,
    tracker: Tracker = QUIET,
    apart_from: int = apart.WORTH_FROM,
) -> SynthResult:
    """Write a synthetic data set of `records` records (with their history) in one transaction."""
    per_entity = counts(records)
    ids = _ids(records, seed)
    rng = random.Random(f"{seed}:deleted")  # the deleted records' history
    version = dataset_version(records, seed)

    # A whole data set in one transaction: on SQLite, through a rollback journal (no second
    # copy of every page, see write_transaction).
    with write_transaction(engine, rollback_journal=True) as connection:
        if _holds_data(connection):
            if not force:
                raise SynthError(
                    "the database already holds a data set; synthetic records go only into an "
                    "empty database (use a new DATABASE_URL, or --force to delete what it holds)"
                )
            tracker.say("deleting the data set the database holds (--force)")
            _delete_everything(connection)
        writer = BulkWriter(connection, chunk=CHUNK)
        # (load, entity order, id, op, version) of every change, sorted into commit order below.
        events: list[tuple[int, int, int, str, int, int]] = []
        hashes: list[tuple[str, str, str]] = []
        entries: list[search.Entry] = []
        render = representation.orders_by_code_point(connection)
        pieces = [
            Piece(records, seed, entity, start, min(start + PIECE, len(ids.live[entity])))
            for entity in models.ENTITIES
            for start in range(0, len(ids.live[entity]), PIECE)
        ]
        position = {entity: index for index, entity in enumerate(models.ENTITIES)}
        with (
            tracker.step("records", total=sum(per_entity.values())) as step,
            apart.preparer(records >= apart_from) as executor,
        ):
            work = partial(make, render=render, dialect=Converter.name_of(connection.dialect))
            for piece, made in apart.in_order(executor, work, pieces):
                entity = piece.entity
                for key, rows in made.rows.items():
                    writer.extend(key, rows)
                for record in made.records:
                    hashes.append((entity, record.id, record.content_hash))
                    if record.entry is not None:
                        entries.append(record.entry)
                    events.append((record.created, 1, position[entity], record.id, 1, 0))
                    if record.updated is not None:
                        events.append((record.updated, 1, position[entity], record.id, 2, 0))
                if len(entries) >= CHUNK:
                    search.add_many(connection, entries)
                    entries = []
                step.advance(len(made.records))
            search.add_many(connection, entries)
            writer.flush()
        for entity in models.ENTITIES:
            for rid in ids.deleted[entity]:
                created = rng.randrange(LOADS - 1)
                events.append((created, 1, position[entity], rid, 1, 0))
                events.append((rng.randrange(created + 1, LOADS), 0, position[entity], rid, 2, 1))
        if not render:
            with tracker.step("rendering", total=sum(per_entity.values())) as step:
                for entity in models.ENTITIES:
                    for rendered in representation.render(connection, entity, ids.live[entity]):
                        writer.add(representation.TABLE, rendered.row())
                        step.advance()
                writer.flush()

        tracker.say(f"change history: {len(events):,} changes in {LOADS} loads")
        events.sort()
        entity_names = list(models.ENTITIES)
        load_stats = [{"created": 0, "updated": 0, "deleted": 0} for _ in range(LOADS)]
        first_seq: list[int | None] = [None] * LOADS
        last_seq: list[int | None] = [None] * LOADS
        for seq, (load, _, order, rid, record_version, is_delete) in enumerate(events, start=1):
            writer.add(
                "change",
                {
                    "seq": seq,
                    "entity_type": entity_names[order],
                    "entity_id": rid,
                    "op": "delete" if is_delete else "upsert",
                    "version": record_version,
                    "changed_at": _load_time(load),
                    "load_id": load + 1,
                },
            )
            counted = "deleted" if is_delete else ("created" if record_version == 1 else "updated")
            load_stats[load][counted] += 1
            first_seq[load] = first_seq[load] or seq
            last_seq[load] = seq
        digest = digest_of(hashes)
        for load in range(LOADS):
            writer.add(
                "dataset_load",
                {
                    "id": load + 1,
                    "dataset_version": version,
                    "content_digest": digest,
                    "loaded_at": _load_time(load),
                    "first_seq": first_seq[load],
                    "last_seq": last_seq[load],
                    **load_stats[load],
                },
            )
        # The change rows refer to the loads: both are in before the commit checks them.
        writer.flush()
        connection.execute(
            sa.insert(models.table("dataset_state")).values(
                id=1,
                dataset_version=version,
                content_digest=digest,
                loaded_at=_load_time(LOADS - 1),
                last_seq=len(events),
                history_start=0,
            )
        )
        if not writer.sqlite:
            # COPY set explicit ids: move the sequence past them for any later insert.
            connection.execute(
                sa.text(
                    "SELECT setval(pg_get_serial_sequence('dataset_load', 'id'), "
                    "(SELECT max(id) FROM dataset_load))"
                )
            )
        tracker.say("committing")
    return SynthResult(version, per_entity, len(events), len(events))
