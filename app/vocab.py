"""Controlled vocabularies: the allowed values of every enumerated field.

One list serves the seed validator, the database CHECK constraints and (later) the API contract,
so a value cannot be valid in one place and refused in another.
"""

from enum import StrEnum


class DatePrecision(StrEnum):
    """How much of a date the source gives: "1970s" is a decade, "December 2016" a month."""

    DECADE = "decade"
    YEAR = "year"
    MONTH = "month"
    DAY = "day"


class SourceKind(StrEnum):
    """What sort of document a source is."""

    CITY_PROFILE = "city_profile"
    WEB_PAGE = "web_page"
    PROJECT_CATALOGUE = "project_catalogue"


class ActionPlanStatus(StrEnum):
    """Whether an action plan is the current one."""

    CURRENT = "current"
    SUPERSEDED = "superseded"


class OrganisationKind(StrEnum):
    """What sort of body an organisation is."""

    MINISTRY = "ministry"
    AGENCY = "agency"
    CENTRE = "centre"
    POLICE = "police"
    SECURITY_SERVICE = "security_service"
    MUNICIPALITY = "municipality"
    ASSOCIATION = "association"
    NETWORK = "network"
    UNIT = "unit"
    COMPANY = "company"
    NON_PROFIT = "non_profit"
    UNIVERSITY = "university"
    INTERNATIONAL_BODY = "international_body"


class Sector(StrEnum):
    """The sector an organisation belongs to."""

    PUBLIC = "public"
    PRIVATE = "private"
    CIVIL_SOCIETY = "civil_society"


class Level(StrEnum):
    """The level an organisation works at."""

    INTERNATIONAL = "international"
    NATIONAL = "national"
    REGIONAL = "regional"
    LOCAL = "local"


class OrganisationRelationKind(StrEnum):
    """A typed edge between two organisations, besides "part of" (the parent)."""

    SUPPORTED_BY = "supported_by"
    LED_BY = "led_by"
    ANSWERABLE_TO = "answerable_to"
    COOPERATES_WITH = "cooperates_with"
    RECOGNISED_BY = "recognised_by"


class CooperationKind(StrEnum):
    """What sort of cooperation."""

    CRIME_PREVENTION_COOPERATION = "crime_prevention_cooperation"
    TASK_FORCE = "task_force"
    STANDBY_UNIT = "standby_unit"
    COORDINATION_TEAM = "coordination_team"
    AUTHORITY_PARTNERSHIP = "authority_partnership"


class CooperationScope(StrEnum):
    """A national model (SSP as Denmark runs it), one national body (the coordination team),
    or a local cooperation (SSP Viborg)."""

    NATIONAL_MODEL = "national_model"
    NATIONAL = "national"
    LOCAL = "local"


class MemberRole(StrEnum):
    """The role of a member in a cooperation."""

    MEMBER = "member"
    SUPPORTER = "supporter"
    CONSULTED = "consulted"


class PracticeKind(StrEnum):
    """What sort of practice."""

    PROGRAMME = "programme"
    PROJECT = "project"
    TRAINING = "training"
    MENTORING = "mentoring"
    TREATMENT = "treatment"
    INTERVENTION = "intervention"
    HOTLINE = "hotline"
    MEETINGS = "meetings"
    PLATFORM = "platform"
    PUBLICATION = "publication"
    POLICY = "policy"


class PracticeStatus(StrEnum):
    """Whether a practice runs, ran or is planned (only where a source states it)."""

    ACTIVE = "active"
    COMPLETED = "completed"
    PLANNED = "planned"


class FundingKind(StrEnum):
    """Who pays for a practice."""

    EU = "eu"
    NATIONAL_GOVERNMENT = "national_government"
    MUNICIPAL = "municipal"
    PRIVATE = "private"


class PracticeOrganisationRole(StrEnum):
    """An organisation's role in a practice."""

    LEAD = "lead"
    COORDINATOR = "coordinator"
    PARTNER = "partner"
    EXTERNAL_PARTNER = "external_partner"
    FUNDER = "funder"
    SUPPORTER = "supporter"


class PracticeCooperationRole(StrEnum):
    """A cooperation's role in a practice."""

    DELIVERED_BY = "delivered_by"
    TARGET = "target"
    INCLUDES = "includes"


class CountryStrategyRole(StrEnum):
    """An organisation's role in a country's prevention strategy."""

    LEAD = "lead"
    SUPPORT = "support"


class ContactKind(StrEnum):
    """What sort of contact point."""

    EMAIL = "email"
    PHONE = "phone"
    POSTAL_ADDRESS = "postal_address"
    WEBSITE = "website"


class ChangeOperation(StrEnum):
    """What a change did to a record."""

    UPSERT = "upsert"
    DELETE = "delete"
