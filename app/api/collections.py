"""What each v1 collection can be filtered by, declared once.

A filter is a query parameter; its values of one repetition are ORed (`?kind=ministry&kind=agency`)
and different filters are ANDed. The declarations below produce the SQL conditions, the FastAPI
parameters and so the OpenAPI documentation.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import AfterValidator, BeforeValidator

from app import vocab
from app.api.records import COLLECTIONS, table

Condition = Callable[[sa.Table, list[Any]], sa.ColumnElement[bool]]


def storable(values: list[Any]) -> list[Any]:
    """The values a stored record could have: a NUL character is in no id (and PostgreSQL
    refuses it in a query), so such a value simply matches nothing. A bound parameter (a
    statement compiled once for many values, app/api/stored.py) is kept as it is."""
    plain = [v if isinstance(v, sa.BindParameter) else getattr(v, "value", v) for v in values]
    return [v for v in plain if not (isinstance(v, str) and "\x00" in v)]


@dataclass(frozen=True)
class ColumnIn:
    """The record's `column` is one of the values (an index of the column with `id` serves
    the page: app.models.LIST_FILTER_COLUMNS)."""

    column: str

    def __call__(self, t: sa.Table, values: list[Any]) -> sa.ColumnElement[bool]:
        return t.c[self.column].in_(storable(values))


def column_in(column: str) -> Condition:
    return ColumnIn(column)


def linked(link_table: str, owner: str, column: str, **where: str) -> Condition:
    """The record has a row in `link_table` whose `column` is one of the values."""

    def condition(t: sa.Table, values: list[Any]) -> sa.ColumnElement[bool]:
        link = table(link_table)
        query = sa.select(link.c[owner]).where(link.c[column].in_(storable(values)))
        for name, value in where.items():
            query = query.where(link.c[name] == value)
        return t.c.id.in_(query)

    return condition


@dataclass(frozen=True)
class Filter:
    name: str
    type: Any
    description: str
    example: Any
    condition: Condition


@dataclass(frozen=True)
class Collection:
    entity: str
    title: str
    filters: list[Filter] = field(default_factory=list)

    @property
    def path(self) -> str:
        return COLLECTIONS[self.entity]


def country_filter(entity: str) -> Filter:
    return Filter(
        "country",
        str,
        f"Only {COLLECTIONS[entity].replace('-', ' ')} of this country (its id)",
        "dk",
        column_in("country_id"),
    )


def kind_filter(values: type, example: str) -> Filter:
    return Filter("kind", values, "Only records of this kind", example, column_in("kind"))


PRACTICE_ORGANISATION = "practice_organisation"

COLLECTION_LIST = [
    Collection(
        "country",
        "Countries",
    ),
    Collection(
        "action_plan",
        "National action plans",
        [
            country_filter("action_plan"),
            Filter(
                "status",
                vocab.ActionPlanStatus,
                "Only plans with this status",
                "current",
                column_in("status"),
            ),
        ],
    ),
    Collection("legal_basis", "Legal bases", [country_filter("legal_basis")]),
    Collection(
        "city",
        "Cities",
        [
            country_filter("city"),
            Filter(
                "theme",
                str,
                "Only cities with this theme (its id)",
                "support-hotline",
                linked("city_theme", "city_id", "theme_id"),
            ),
            Filter(
                "scn_member",
                bool,
                "Only Strong Cities Network members (true) or cities not known to be (false)",
                True,
                lambda t, values: sa.or_(
                    *[
                        t.c.scn_member.is_(True) if v else t.c.scn_member.is_not(True)
                        for v in values
                    ]
                ),
            ),
        ],
    ),
    Collection(
        "organisation",
        "Organisations",
        [
            country_filter("organisation"),
            Filter(
                "city",
                str,
                "Only organisations of this city (its id)",
                "copenhagen",
                column_in("city_id"),
            ),
            kind_filter(vocab.OrganisationKind, "ministry"),
            Filter("sector", vocab.Sector, "Only this sector", "public", column_in("sector")),
            Filter("level", vocab.Level, "Only this level", "national", column_in("level")),
            Filter(
                "parent",
                str,
                "Only parts of this organisation (its id)",
                "ministry-of-justice",
                column_in("parent_id"),
            ),
            Filter(
                "cooperation",
                str,
                "Only members of this cooperation (its id)",
                "ksp",
                linked("cooperation_member", "organisation_id", "cooperation_id"),
            ),
            Filter(
                "related_to",
                str,
                "Only organisations with a typed relation (supported by, led by, ...) to this one",
                "danish-national-board-of-health",
                linked("organisation_relation", "organisation_id", "related_organisation_id"),
            ),
        ],
    ),
    Collection(
        "cooperation",
        "Cooperations",
        [
            country_filter("cooperation"),
            Filter(
                "city",
                str,
                "Only cooperations of this city (its id)",
                "viborg",
                column_in("city_id"),
            ),
            kind_filter(vocab.CooperationKind, "crime_prevention_cooperation"),
            Filter("scope", vocab.CooperationScope, "Only this scope", "local", column_in("scope")),
            Filter(
                "organisation",
                str,
                "Only cooperations this organisation is a member of (its id)",
                "vink-unit",
                linked("cooperation_member", "cooperation_id", "organisation_id"),
            ),
            Filter(
                "model",
                str,
                "Only local instances of this national model (its id)",
                "ssp",
                column_in("model_id"),
            ),
            Filter(
                "member_cooperation",
                str,
                "Only cooperations that have this cooperation as a member (its id)",
                "ssp-copenhagen",
                linked("cooperation_member", "cooperation_id", "member_cooperation_id"),
            ),
            Filter(
                "legal_basis",
                str,
                "Only cooperations regulated by this legal basis (its id)",
                "dk-administration-justice-act-s115",
                column_in("legal_basis_id"),
            ),
        ],
    ),
    Collection(
        "practice",
        "Practices",
        [
            country_filter("practice"),
            Filter(
                "city",
                str,
                "Only practices that run in this city (its id)",
                "viborg",
                linked("practice_city", "practice_id", "city_id"),
            ),
            Filter(
                "theme",
                str,
                "Only practices with this theme (its id)",
                "support-hotline",
                linked("practice_theme", "practice_id", "theme_id"),
            ),
            Filter(
                "organisation",
                str,
                "Only practices this organisation takes part in, in any role (its id)",
                "mhtconsult",
                linked(PRACTICE_ORGANISATION, "practice_id", "organisation_id"),
            ),
            Filter(
                "lead",
                str,
                "Only practices this organisation leads (its id)",
                "pet-centre-for-prevention",
                linked(PRACTICE_ORGANISATION, "practice_id", "organisation_id", role="lead"),
            ),
            Filter(
                "cooperation",
                str,
                "Only practices tied to this cooperation, in any role (its id)",
                "ssp-viborg",
                linked("practice_cooperation", "practice_id", "cooperation_id"),
            ),
            kind_filter(vocab.PracticeKind, "training"),
            Filter(
                "status", vocab.PracticeStatus, "Only this status", "active", column_in("status")
            ),
            Filter(
                "funding_kind",
                vocab.FundingKind,
                "Only practices with this kind of funding",
                "eu",
                column_in("funding_kind"),
            ),
            Filter(
                "parent",
                str,
                "Only parts of this practice (its id)",
                "cocora",
                column_in("parent_id"),
            ),
            Filter(
                "predecessor",
                str,
                "Only practices that follow this one (its id)",
                "dti",
                column_in("predecessor_id"),
            ),
        ],
    ),
    Collection(
        "theme",
        "Themes",
        [Filter("scheme", str, "Only this keyword list", "scn-keywords", column_in("scheme"))],
    ),
    Collection(
        "contact_point",
        "Contact points",
        [
            kind_filter(vocab.ContactKind, "email"),
            Filter(
                "organisation",
                str,
                "Only contact points of this organisation (its id)",
                "pet",
                column_in("organisation_id"),
            ),
            Filter(
                "practice",
                str,
                "Only contact points given for this practice (its id)",
                "cocora",
                column_in("practice_id"),
            ),
        ],
    ),
    Collection(
        "source",
        "Sources",
        [
            kind_filter(vocab.SourceKind, "city_profile"),
            Filter("language", str, "Only this language (ISO 639-1)", "fr", column_in("language")),
        ],
    ),
]


def _iso_datetime(value: Any) -> Any:
    # pydantic would read "0.5" as a Unix timestamp; the contract says ISO 8601 date-time.
    if isinstance(value, str) and not re.match(r"^\d{4}-\d{2}-\d{2}", value):
        raise ValueError("expected an ISO 8601 date-time such as 2026-01-01T00:00:00Z")
    return value


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:
        # Within a day of year 1 or 9999: as early or as late as a timestamp can be.
        return (
            datetime.min.replace(tzinfo=UTC) if value.year < 2 else datetime.max.replace(tzinfo=UTC)
        )


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime), AfterValidator(_utc)]


def _cites(entity: str) -> Condition:
    def condition(t: sa.Table, values: list[Any]) -> sa.ColumnElement[bool]:
        citation = table("citation")
        query = sa.select(citation.c.entity_id).where(
            citation.c.entity_type == entity, citation.c.source_id.in_(storable(values))
        )
        return t.c.id.in_(query)

    return condition


for _collection in COLLECTION_LIST:
    if _collection.entity != "source":
        _collection.filters.append(
            Filter(
                "source",
                str,
                "Only records curated from this source (its id)",
                "prova-projects-denmark",
                _cites(_collection.entity),
            )
        )

COMMON_FILTERS = [
    Filter(
        "updated_since",
        IsoDateTime,
        "Only records changed at or after this time (ISO 8601; without a zone, UTC)",
        "2026-01-01T00:00:00Z",
        lambda t, values: t.c.updated_at >= values[0],
    ),
]
