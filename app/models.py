"""Schema v1: every table of the data set, in one place.

Entities (country, city, organisation, ...) carry an `id` taken from their key in `seeds/`, a
`version` that grows by one on every change, and the `content_hash` the loader compares to decide
whether a record changed. Relationships are rows of their own (link tables), each owned by one
entity: editing a practice's partners changes the practice, and only the practice.

Every foreign key is DEFERRABLE INITIALLY DEFERRED so the loader can write a whole data set in one
transaction, in any order, and let the database check the references at commit.
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app import vocab

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

ID_LENGTH = 64


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp that is always UTC and always aware, on SQLite (which keeps no zone) too."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must carry a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TIMESTAMP = UtcDateTime()

Text = dict[str, str]
"""A translatable text: language code -> text (app.i18n)."""
TextList = dict[str, list[str]]
"""A translatable list of texts: language code -> the list in that language (app.i18n)."""
NULLABLE_JSON = sa.JSON(none_as_null=True)
"""JSON whose Python None is SQL NULL (plain sa.JSON would store the JSON value null)."""


def ref(target: str, *, nullable: bool = True, index: bool = True, **kw: Any) -> Any:
    """A deferred foreign key column to `target` ("table.column")."""
    return Field(
        default=None if nullable else ...,
        sa_column_args=[sa.ForeignKey(target, deferrable=True, initially="DEFERRED")],
        max_length=ID_LENGTH,
        nullable=nullable,
        index=index,
        **kw,
    )


def one_of(column: str, values: type[StrEnum], *, nullable: bool = True) -> sa.CheckConstraint:
    """CHECK that `column` holds a value of the vocabulary (named `<column>_allowed`).

    Written as equalities joined by OR, not as `column IN (...)`: SQLite evaluates an IN list
    in a CHECK by building a small temporary index, again for every row written, and the
    vocabulary checks cost about half of each organisation's and practice's insert (revision
    0013)."""
    condition = " OR ".join(f"{column} = '{v.value}'" for v in values)
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return sa.CheckConstraint(condition, name=f"{column}_allowed")


def precision_pair(column: str) -> sa.CheckConstraint:
    """A partial date and its precision are set together or not at all."""
    return sa.CheckConstraint(
        f"({column} IS NULL) = ({column}_precision IS NULL)", name=f"{column}_has_precision"
    )


class Record(SQLModel):
    """Columns every published entity has."""

    id: str = Field(primary_key=True, max_length=ID_LENGTH)
    version: int = Field(default=1, ge=1)
    updated_at: datetime = Field(sa_type=TIMESTAMP, index=True)
    content_hash: str = Field(max_length=64)


# --- sources and citations -------------------------------------------------------------------


class Source(Record, table=True):
    title: Text = Field(sa_type=sa.JSON)
    publisher: str | None = None
    kind: str = Field(max_length=32, index=True)
    language: str = Field(max_length=2, index=True)
    url: str | None = None
    document: str = Field(description="Path of the text in the repository (sources/...)")
    last_modified: date | None = None
    last_modified_precision: str | None = Field(default=None, max_length=8)
    description: Text | None = Field(default=None, sa_type=NULLABLE_JSON)

    __table_args__ = (
        one_of("kind", vocab.SourceKind, nullable=False),
        one_of("last_modified_precision", vocab.DatePrecision),
        precision_pair("last_modified"),
    )


class Citation(SQLModel, table=True):
    """One record cites one source. `entity_type` names the entity's table."""

    id: int | None = Field(default=None, primary_key=True)
    entity_type: str = Field(max_length=32)
    entity_id: str = Field(max_length=ID_LENGTH)
    source_id: str = ref("source.id", nullable=False)
    section: str | None = Field(default=None, description="Heading in the source, when useful")

    __table_args__ = (
        sa.UniqueConstraint("entity_type", "entity_id", "source_id"),
        sa.Index(None, "entity_type", "entity_id"),
    )


class Evidence(SQLModel, table=True):
    """A quote from a source that states one value of a record (docs/DATA.md, "Evidence").
    `quote_start`/`quote_end` are character offsets in the source's text as the repository
    stores it (`source.document`)."""

    id: int | None = Field(default=None, primary_key=True)
    entity_type: str = Field(max_length=32)
    entity_id: str = Field(max_length=ID_LENGTH)
    field_path: str = Field(description="The value's field path: population, leaders[0], ...")
    source_id: str = ref("source.id", nullable=False)
    quote: str
    section: str | None = Field(default=None, description="Heading the quote is printed under")
    quote_start: int = Field(ge=0)
    quote_end: int = Field(ge=0)

    __table_args__ = (
        sa.Index(None, "entity_type", "entity_id"),
        sa.CheckConstraint("quote_end > quote_start", name="quote_not_empty"),
    )


class Representation(SQLModel, table=True):
    """A record as each API version publishes it: the exact JSON bytes, rendered when the record
    was written (app/representation.py), and the languages of its v2 texts."""

    entity_type: str = Field(max_length=32, primary_key=True)
    entity_id: str = Field(max_length=ID_LENGTH, primary_key=True)
    v1: bytes = Field(sa_type=sa.LargeBinary, description="The record as /v1 gives it")
    v2: bytes = Field(sa_type=sa.LargeBinary, description="As /v2 gives it, every language")
    v2_languages: str = Field(description="Its texts' languages, comma-separated")


# --- countries, action plans, legal bases ------------------------------------------------------


class Country(Record, table=True):
    iso_code: str = Field(max_length=2, unique=True)
    name: Text = Field(sa_type=sa.JSON)
    national_overview: Text | None = Field(default=None, sa_type=NULLABLE_JSON)
    strategy_lead: Text | None = Field(
        default=None,
        sa_type=NULLABLE_JSON,
        description="Who leads the national strategy, as the sources word it",
    )
    municipality_count: int | None = Field(default=None, ge=0)
    police_district_count: int | None = Field(default=None, ge=0)
    region_count: int | None = Field(default=None, ge=0)


class CountryStrategyOrganisation(SQLModel, table=True):
    """An organisation that leads or supports a country's prevention strategy."""

    __tablename__ = "country_strategy_organisation"

    country_id: str = ref("country.id", nullable=False, primary_key=True)
    organisation_id: str = ref("organisation.id", nullable=False, primary_key=True)
    role: str = Field(max_length=16, primary_key=True)
    note: str | None = None

    __table_args__ = (one_of("role", vocab.CountryStrategyRole, nullable=False),)


class ActionPlan(Record, table=True):
    __tablename__ = "action_plan"

    country_id: str = ref("country.id", nullable=False)
    year: int = Field(index=True)
    title: Text = Field(sa_type=sa.JSON)
    status: str | None = Field(default=None, max_length=16, index=True)
    summary: Text | None = Field(default=None, sa_type=NULLABLE_JSON)
    emphases: TextList = Field(default_factory=dict, sa_type=sa.JSON)

    __table_args__ = (one_of("status", vocab.ActionPlanStatus),)


class LegalBasis(Record, table=True):
    __tablename__ = "legal_basis"

    country_id: str = ref("country.id", nullable=False)
    citation: Text = Field(sa_type=sa.JSON, description="The provision as the sources cite it")
    act: Text = Field(sa_type=sa.JSON)
    section: str | None = Field(default=None, max_length=16)
    allows: Text | None = Field(default=None, sa_type=NULLABLE_JSON)
    forbids: Text | None = Field(default=None, sa_type=NULLABLE_JSON)


# --- cities and themes -----------------------------------------------------------------------


class City(Record, table=True):
    country_id: str = ref("country.id", nullable=False)
    name: Text = Field(sa_type=sa.JSON)
    population: int | None = Field(default=None, ge=0)
    scn_member: bool | None = Field(default=None, index=True)
    scn_member_since: date | None = None
    scn_member_since_precision: str | None = Field(default=None, max_length=8)
    background: Text | None = Field(default=None, sa_type=NULLABLE_JSON)
    local_overview: Text | None = Field(default=None, sa_type=NULLABLE_JSON)
    policy_basis: Text | None = Field(default=None, sa_type=NULLABLE_JSON)
    tenets: TextList = Field(default_factory=dict, sa_type=sa.JSON)
    motto: Text | None = Field(default=None, sa_type=NULLABLE_JSON)
    focus_age_min: int | None = Field(default=None, ge=0)
    focus_age_max: int | None = Field(default=None, ge=0)
    international_exchange_since: int | None = None
    international_exchange_partners: TextList = Field(default_factory=dict, sa_type=sa.JSON)

    __table_args__ = (
        one_of("scn_member_since_precision", vocab.DatePrecision),
        precision_pair("scn_member_since"),
        sa.CheckConstraint("focus_age_min <= focus_age_max", name="focus_age_range"),
    )


class CityLeader(SQLModel, table=True):
    """An office holder of a city (Mayor Ulrik Wilbek). A public fact, not personal data."""

    __tablename__ = "city_leader"

    id: int | None = Field(default=None, primary_key=True)
    city_id: str = ref("city.id", nullable=False)
    role: str
    person_name: str
    title: str | None = None

    __table_args__ = (sa.UniqueConstraint("city_id", "role", "person_name"),)


class Theme(Record, table=True):
    """A keyword of a theme list; its `id` is the keyword's code."""

    label: Text = Field(sa_type=sa.JSON)
    scheme: str = Field(max_length=32, description="The keyword list the theme comes from")
    description: Text | None = Field(default=None, sa_type=NULLABLE_JSON)


class CityTheme(SQLModel, table=True):
    __tablename__ = "city_theme"

    city_id: str = ref("city.id", nullable=False, primary_key=True)
    theme_id: str = ref("theme.id", nullable=False, primary_key=True)


# --- organisations and cooperations ----------------------------------------------------------


class Organisation(Record, table=True):
    name: Text = Field(sa_type=sa.JSON)
    acronym: str | None = Field(default=None, max_length=32)
    kind: str = Field(max_length=32, index=True)
    sector: str | None = Field(default=None, max_length=16, index=True)
    level: str | None = Field(default=None, max_length=16, index=True)
    country_id: str | None = ref("country.id")
    city_id: str | None = ref("city.id")
    parent_id: str | None = ref("organisation.id")
    description: Text | None = Field(default=None, sa_type=NULLABLE_JSON)
    website: str | None = None
    established: date | None = None
    established_precision: str | None = Field(default=None, max_length=8)
    legal_form: Text | None = Field(default=None, sa_type=NULLABLE_JSON)
    registration_number: str | None = Field(default=None, max_length=32)
    registration_country: str | None = Field(default=None, max_length=2)
    mission: TextList = Field(
        default_factory=dict, sa_type=sa.JSON, description="What the organisation says it does"
    )
    mission_keywords: TextList = Field(
        default_factory=dict, sa_type=sa.JSON, description="The headings of its mission"
    )

    __table_args__ = (
        one_of("kind", vocab.OrganisationKind, nullable=False),
        one_of("sector", vocab.Sector),
        one_of("level", vocab.Level),
        one_of("established_precision", vocab.DatePrecision),
        precision_pair("established"),
        sa.CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
    )


class OrganisationRelation(SQLModel, table=True):
    """A typed edge from one organisation to another, owned by the first."""

    __tablename__ = "organisation_relation"

    organisation_id: str = ref("organisation.id", nullable=False, primary_key=True)
    kind: str = Field(max_length=32, primary_key=True)
    related_organisation_id: str = ref("organisation.id", nullable=False, primary_key=True)
    note: str | None = None

    __table_args__ = (
        one_of("kind", vocab.OrganisationRelationKind, nullable=False),
        sa.CheckConstraint("organisation_id <> related_organisation_id", name="not_self"),
    )


class Cooperation(Record, table=True):
    name: Text = Field(sa_type=sa.JSON)
    acronym: str | None = Field(default=None, max_length=32)
    kind: str = Field(max_length=32, index=True)
    scope: str = Field(max_length=16, index=True)
    country_id: str = ref("country.id", nullable=False)
    city_id: str | None = ref("city.id")
    model_id: str | None = ref(
        "cooperation.id", description="The national model a local cooperation builds on"
    )
    legal_basis_id: str | None = ref("legal_basis.id")
    established: date | None = None
    established_precision: str | None = Field(default=None, max_length=8)
    established_by_law: bool | None = None
    purpose: Text | None = Field(default=None, sa_type=NULLABLE_JSON)
    target_group: Text | None = Field(default=None, sa_type=NULLABLE_JSON)
    description: Text | None = Field(default=None, sa_type=NULLABLE_JSON)

    __table_args__ = (
        one_of("kind", vocab.CooperationKind, nullable=False),
        one_of("scope", vocab.CooperationScope, nullable=False),
        one_of("established_precision", vocab.DatePrecision),
        precision_pair("established"),
        sa.CheckConstraint("model_id IS NULL OR model_id <> id", name="not_own_model"),
    )


class CooperationMember(SQLModel, table=True):
    """A member of a cooperation: an organisation, another cooperation, or a whole sector."""

    __tablename__ = "cooperation_member"

    id: int | None = Field(default=None, primary_key=True)
    cooperation_id: str = ref("cooperation.id", nullable=False)
    organisation_id: str | None = ref("organisation.id")
    member_cooperation_id: str | None = ref("cooperation.id")
    sector: str | None = Field(default=None, description="A sector named as a member (schools)")
    role: str = Field(max_length=16)
    note: str | None = None

    __table_args__ = (
        one_of("role", vocab.MemberRole, nullable=False),
        sa.CheckConstraint(
            "(CASE WHEN organisation_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN member_cooperation_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN sector IS NULL THEN 0 ELSE 1 END) = 1",
            name="exactly_one_member",
        ),
    )


# --- practices -------------------------------------------------------------------------------


class Practice(Record, table=True):
    name: Text = Field(sa_type=sa.JSON)
    acronym: str | None = Field(default=None, max_length=32)
    kind: str = Field(max_length=32, index=True)
    status: str | None = Field(default=None, max_length=16, index=True)
    country_id: str = ref("country.id", nullable=False)
    parent_id: str | None = ref("practice.id")
    predecessor_id: str | None = ref("practice.id")
    summary: Text | None = Field(default=None, sa_type=NULLABLE_JSON)
    aims: TextList = Field(default_factory=dict, sa_type=sa.JSON)
    target_groups: TextList = Field(default_factory=dict, sa_type=sa.JSON)
    methods: TextList = Field(default_factory=dict, sa_type=sa.JSON)
    age_min: int | None = Field(default=None, ge=0)
    age_max: int | None = Field(default=None, ge=0)
    period_start: date | None = None
    period_start_precision: str | None = Field(default=None, max_length=8)
    period_end: date | None = None
    period_end_precision: str | None = Field(default=None, max_length=8)
    availability: str | None = Field(default=None, max_length=32)
    funding_kind: str | None = Field(default=None, max_length=32, index=True)
    funding: Text | None = Field(default=None, sa_type=NULLABLE_JSON)
    cost_amount: Decimal | None = Field(default=None, max_digits=14, decimal_places=2)
    cost_currency: str | None = Field(default=None, max_length=3)
    cost_is_estimate: bool | None = None
    participants_pay_fee: bool | None = None
    website: str | None = None

    __table_args__ = (
        one_of("kind", vocab.PracticeKind, nullable=False),
        one_of("status", vocab.PracticeStatus),
        one_of("funding_kind", vocab.FundingKind),
        one_of("period_start_precision", vocab.DatePrecision),
        one_of("period_end_precision", vocab.DatePrecision),
        precision_pair("period_start"),
        precision_pair("period_end"),
        sa.CheckConstraint("age_min <= age_max", name="age_range"),
        sa.CheckConstraint("period_start <= period_end", name="period_order"),
        sa.CheckConstraint("(cost_amount IS NULL) = (cost_currency IS NULL)", name="cost_currency"),
        sa.CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
    )


class PracticeFigure(SQLModel, table=True):
    """A number the sources give about a practice: 170 parent meetings a year, a 2-5 day course."""

    __tablename__ = "practice_figure"

    id: int | None = Field(default=None, primary_key=True)
    practice_id: str = ref("practice.id", nullable=False)
    key: str = Field(max_length=ID_LENGTH)
    label: str
    value: Decimal = Field(max_digits=14, decimal_places=2)
    value_max: Decimal | None = Field(default=None, max_digits=14, decimal_places=2)
    unit: str = Field(max_length=32)
    per: str | None = Field(default=None, max_length=16, description="Rate basis: year, day, ...")
    approximate: bool = False

    __table_args__ = (
        sa.UniqueConstraint("practice_id", "key"),
        sa.CheckConstraint("value_max IS NULL OR value <= value_max", name="value_range"),
    )


class PracticeOrganisation(SQLModel, table=True):
    __tablename__ = "practice_organisation"

    practice_id: str = ref("practice.id", nullable=False, primary_key=True)
    organisation_id: str = ref("organisation.id", nullable=False, primary_key=True)
    role: str = Field(max_length=32, primary_key=True, index=True)
    note: str | None = None

    __table_args__ = (one_of("role", vocab.PracticeOrganisationRole, nullable=False),)


class PracticeCooperation(SQLModel, table=True):
    __tablename__ = "practice_cooperation"

    practice_id: str = ref("practice.id", nullable=False, primary_key=True)
    cooperation_id: str = ref("cooperation.id", nullable=False, primary_key=True)
    role: str = Field(max_length=32, primary_key=True)

    __table_args__ = (one_of("role", vocab.PracticeCooperationRole, nullable=False),)


class PracticeCity(SQLModel, table=True):
    __tablename__ = "practice_city"

    practice_id: str = ref("practice.id", nullable=False, primary_key=True)
    city_id: str = ref("city.id", nullable=False, primary_key=True)


class PracticeTheme(SQLModel, table=True):
    __tablename__ = "practice_theme"

    practice_id: str = ref("practice.id", nullable=False, primary_key=True)
    theme_id: str = ref("theme.id", nullable=False, primary_key=True)


# --- contact points --------------------------------------------------------------------------


class ContactPoint(Record, table=True):
    __tablename__ = "contact_point"

    kind: str = Field(max_length=16, index=True)
    value: str
    label: Text | None = Field(default=None, sa_type=NULLABLE_JSON)
    is_personal: bool = Field(
        index=True, description="Identifies a private person; withheld from the public API"
    )
    person_name: str | None = None
    organisation_id: str | None = ref("organisation.id")
    practice_id: str | None = ref("practice.id")
    street_address: str | None = None
    postal_code: str | None = Field(default=None, max_length=16)
    locality: str | None = None
    country_code: str | None = Field(default=None, max_length=2)

    __table_args__ = (
        one_of("kind", vocab.ContactKind, nullable=False),
        sa.CheckConstraint(
            "organisation_id IS NOT NULL OR practice_id IS NOT NULL", name="has_owner"
        ),
    )


# --- change log and data set state -----------------------------------------------------------


class DatasetLoad(SQLModel, table=True):
    """One run of the loader that changed something (or the first run)."""

    __tablename__ = "dataset_load"

    id: int | None = Field(default=None, primary_key=True)
    dataset_version: str = Field(max_length=64)
    content_digest: str = Field(max_length=64)
    loaded_at: datetime = Field(sa_type=TIMESTAMP)
    first_seq: int | None = Field(default=None, sa_type=sa.BigInteger)
    last_seq: int | None = Field(default=None, sa_type=sa.BigInteger)
    created: int = 0
    updated: int = 0
    deleted: int = 0


class Change(SQLModel, table=True):
    """Every create, update and delete, numbered in commit order (`seq`)."""

    seq: int = Field(
        sa_type=sa.BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    entity_type: str = Field(max_length=32)
    entity_id: str = Field(max_length=ID_LENGTH)
    op: str = Field(max_length=8)
    version: int
    changed_at: datetime = Field(sa_type=TIMESTAMP)
    load_id: int = ref("dataset_load.id", nullable=False)

    __table_args__ = (
        one_of("op", vocab.ChangeOperation, nullable=False),
        # Finds a record's latest change without reading the table (the change feed's compaction).
        sa.Index(None, "entity_type", "entity_id", "seq"),
    )


class DatasetState(SQLModel, table=True):
    """The single row saying which data set is loaded and the last change number."""

    __tablename__ = "dataset_state"

    id: int = Field(default=1, primary_key=True)
    dataset_version: str = Field(max_length=64)
    content_digest: str = Field(max_length=64)
    loaded_at: datetime = Field(sa_type=TIMESTAMP)
    last_seq: int = Field(default=0, sa_type=sa.BigInteger)
    history_start: int = Field(
        default=0,
        sa_type=sa.BigInteger,
        sa_column_kwargs={"server_default": "0"},
        description="Changes after this number are kept; an older `since` must re-snapshot",
    )

    __table_args__ = (
        sa.CheckConstraint("id = 1", name="single_row"),
        sa.CheckConstraint("history_start <= last_seq", name="history_within_log"),
    )


class MirrorState(SQLModel, table=True):
    """On a mirror (`scn mirror`): which API it copies and how far it has applied its changes.
    Written in the same transaction as the data it describes."""

    __tablename__ = "mirror_state"

    id: int = Field(default=1, primary_key=True)
    source_url: str
    last_seq: int = Field(sa_type=sa.BigInteger)
    synced_at: datetime = Field(sa_type=TIMESTAMP)
    snapshots: int = Field(default=0, description="How many full snapshots it has taken")

    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)


def table(name: str) -> sa.Table:
    """A table of the schema by its name ("city", "practice_theme", ...)."""
    return SQLModel.metadata.tables[name]


ENTITIES: dict[str, type[Record]] = {
    "source": Source,
    "theme": Theme,
    "country": Country,
    "action_plan": ActionPlan,
    "legal_basis": LegalBasis,
    "city": City,
    "organisation": Organisation,
    "cooperation": Cooperation,
    "practice": Practice,
    "contact_point": ContactPoint,
}
"""Every published entity, by the name used in citations and the change log."""


LIST_FILTER_COLUMNS: dict[str, tuple[str, ...]] = {
    "source": ("kind", "language"),
    "theme": ("scheme",),
    "action_plan": ("country_id", "status"),
    "legal_basis": ("country_id",),
    "city": ("country_id",),
    "organisation": ("country_id", "city_id", "kind", "sector", "level", "parent_id"),
    "cooperation": ("country_id", "city_id", "kind", "scope", "model_id", "legal_basis_id"),
    "practice": ("country_id", "kind", "status", "funding_kind", "parent_id", "predecessor_id"),
    "contact_point": ("kind", "organisation_id", "practice_id"),
}
"""Per entity: the columns its list is filtered by (app/api/collections.py, `column_in`).
Each is indexed together with `id` (revision 0009), so a page (`WHERE column = ? AND id > ?
ORDER BY id LIMIT n`) reads its rows in order from the index and stops after n, however many
records match; indexed alone, every match was read and sorted."""


def _index_filter_columns_with_id() -> None:
    for entity, columns in LIST_FILTER_COLUMNS.items():
        t = table(entity)
        for column in columns:
            alone = [i for i in t.indexes if [c.name for c in i.columns] == [column]]
            for index in alone:
                t.indexes.discard(index)
            sa.Index(None, t.c[column], t.c.id)


_index_filter_columns_with_id()


OWNED_LINKS: dict[str, list[tuple[str, str]]] = {
    "country": [("country_strategy_organisation", "country_id")],
    "city": [("city_leader", "city_id"), ("city_theme", "city_id")],
    "organisation": [("organisation_relation", "organisation_id")],
    "cooperation": [("cooperation_member", "cooperation_id")],
    "practice": [
        (name, "practice_id")
        for name in (
            "practice_figure",
            "practice_organisation",
            "practice_cooperation",
            "practice_city",
            "practice_theme",
        )
    ],
}
"""entity -> the link tables (and their owner column) that are part of its records."""
LIST_FIELDS: dict[str, dict[str, str]] = {
    "country": {"strategy_organisations": "country_strategy_organisation"},
    "city": {"leaders": "city_leader", "themes": "city_theme"},
    "organisation": {"relations": "organisation_relation"},
    "cooperation": {"members": "cooperation_member"},
    "practice": {
        "figures": "practice_figure",
        "organisations": "practice_organisation",
        "cooperations": "practice_cooperation",
        "cities": "practice_city",
        "themes": "practice_theme",
    },
}
"""entity -> its list fields (as the seeds and API v2 name them) whose items are the rows of a
link table it owns, one row an item."""
RECORD_LINKS = [("citation", "entity_id"), ("evidence", "entity_id")]
"""Link tables every entity's records own, told apart by `entity_type`."""
