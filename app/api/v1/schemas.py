"""The v1 wire format: what /v1 returns, separate from the tables so a table can change without
changing a published shape. Every field has a description and an example from the real data;
these models generate openapi/v1.json.
"""

from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from app import vocab


def described(description: str, *examples: Any) -> Any:
    return Field(description=description, examples=list(examples) if examples else None)


class WireModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- shared pieces --------------------------------------------------------------------------


class PartialDate(WireModel):
    """A date as precise as the source gives it: a decade, a year, a month or a day."""

    date: Annotated[date, described("First day of the period the source names", "2016-12-01")]
    precision: Annotated[
        vocab.DatePrecision, described("How much of `date` the source gives", "month")
    ]


class Ref(WireModel):
    """A reference to another record: its id, type and URL."""

    id: Annotated[str, described("The record's id", "viborg")]
    type: Annotated[str, described("The record's entity type", "city")]
    href: Annotated[str, described("The record's URL in this API", "/v1/cities/viborg")]


class RoleRef(Ref):
    """A link to another record, with the role it plays in the relationship."""

    role: Annotated[str, described("The related record's role in this relationship", "lead")]
    note: Annotated[str | None, described("The source's wording, where useful", None)] = None


class SourceRef(Ref):
    """A source this record was curated from."""

    section: Annotated[
        str | None, described("Heading in the source where the facts stand", "BACKGROUND")
    ] = None


class RecordLinks(WireModel):
    """Links of a record: itself, and for each relationship that other records own, the
    filtered collection of those records (`children`: `/v1/organisations?parent=pet`)."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"additionalProperties": {"type": "string"}}
    )

    self: Annotated[str, described("This record's URL", "/v1/cities/viborg")]


class RecordBase(WireModel):
    id: Annotated[
        str,
        described("Stable identifier, never changed or reused (the key in seeds/)", "viborg"),
    ]
    version: Annotated[int, described("1 when created, +1 at every change", 1)]
    updated_at: Annotated[
        datetime, described("When the record last changed (UTC)", "2026-11-21T13:36:00Z")
    ]
    sources: Annotated[list[SourceRef], described("The sources this record was curated from")]
    links: RecordLinks


# --- entities -------------------------------------------------------------------------------


class Source(RecordBase):
    """A document the data was curated from."""

    type: Annotated[Literal["source"], described("The entity type", "source")] = "source"
    title: Annotated[
        str, described("The document's title", "Strong Cities Network city profile: Viborg")
    ]
    publisher: Annotated[str | None, described("Who publishes it", "Strong Cities Network")]
    kind: Annotated[vocab.SourceKind, described("What sort of document", "city_profile")]
    language: Annotated[str, described("ISO 639-1 language of the document", "en")]
    url: Annotated[str | None, described("The document's own address, where it gives one")]
    document: Annotated[
        str,
        described(
            "Path of the source's text in the project repository (sources/README.md)",
            "sources/scn-viborg-profile.en.txt",
        ),
    ]
    last_modified: Annotated[
        PartialDate | None, described("Last modification date the document states")
    ]
    description: Annotated[str | None, described("What the document covers")]


class Theme(RecordBase):
    """A keyword of a theme list, with the cities and practices that have it."""

    type: Annotated[Literal["theme"], described("The entity type", "theme")] = "theme"
    label: Annotated[str, described("The label as the source prints it", "Hotline de soutien")]
    label_language: Annotated[str, described("ISO 639-1 language of the label", "fr")]
    scheme: Annotated[str, described("The keyword list the theme belongs to", "scn-keywords")]
    description: Annotated[str | None, described("What the theme covers")]


class Country(RecordBase):
    """A country and its national prevention structure."""

    type: Annotated[Literal["country"], described("The entity type", "country")] = "country"
    iso_code: Annotated[str, described("ISO 3166-1 alpha-2 code", "DK")]
    name: Annotated[str, described("English name", "Denmark")]
    national_overview: Annotated[str | None, described("The sources' national overview")]
    strategy_lead: Annotated[
        str | None,
        described(
            "Who leads the national strategy, in the sources' words", "a Government ministry"
        ),
    ]
    strategy_organisations: Annotated[
        list[RoleRef], described("Organisations that lead or support the national strategy")
    ]
    municipality_count: Annotated[int | None, described("Number of municipalities", 98)]
    police_district_count: Annotated[int | None, described("Number of police districts", 12)]
    region_count: Annotated[int | None, described("Number of regions", 5)]


class ActionPlan(RecordBase):
    """A national action plan."""

    type: Annotated[Literal["action_plan"], described("The entity type", "action_plan")] = (
        "action_plan"
    )
    country: Ref
    year: Annotated[int, described("Year the plan was launched", 2016)]
    title: Annotated[str, described("The plan's name", "Danish National Action Plan")]
    status: Annotated[vocab.ActionPlanStatus | None, described("current or superseded", "current")]
    summary: Annotated[str | None, described("The sources' summary")]
    emphases: Annotated[
        list[str],
        described(
            "Each emphasis or measure the sources list",
            ["guidance and training for local police districts"],
        ),
    ]


class LegalBasis(RecordBase):
    """A legal provision the prevention model rests on."""

    type: Annotated[Literal["legal_basis"], described("The entity type", "legal_basis")] = (
        "legal_basis"
    )
    country: Ref
    citation: Annotated[
        str,
        described(
            "The provision as the sources cite it",
            "Section 115 of the Danish Administration Justice Act",
        ),
    ]
    act: Annotated[str, described("The act", "Danish Administration Justice Act")]
    section: Annotated[str | None, described("Section number", "115")]
    allows: Annotated[str | None, described("What the provision allows")]
    forbids: Annotated[
        str | None,
        described(
            "What it forbids",
            "Information may not, however, be shared for the purposes of criminal investigations.",
        ),
    ]


class Leader(WireModel):
    """An office holder of a city (a public fact)."""

    role: Annotated[str, described("The office", "Mayor")]
    person_name: Annotated[str, described("The office holder", "Ulrik Wilbek")]
    title: Annotated[str | None, described("The title as printed", "Mayor of Viborg")]


class AgeRange(WireModel):
    """An age range in years, both ends included."""

    min: Annotated[int, described("Youngest age, in years", 0)]
    max: Annotated[int, described("Oldest age, in years", 18)]


class City(RecordBase):
    """A city: its profile, leadership, themes, and what runs there."""

    type: Annotated[Literal["city"], described("The entity type", "city")] = "city"
    name: Annotated[str, described("The city's name", "Viborg")]
    country: Ref
    population: Annotated[int | None, described("Inhabitants, as the source states", 96500)]
    scn_member: Annotated[
        bool | None,
        described("Member of the Strong Cities Network; null where no source says", True),
    ]
    scn_member_since: Annotated[
        PartialDate | None, described("When the city joined the Strong Cities Network")
    ]
    leaders: Annotated[list[Leader], described("Office holders (public facts)")]
    background: Annotated[str | None, described("The profile's background (prose)")]
    local_overview: Annotated[str | None, described("The profile's local overview (prose)")]
    policy_basis: Annotated[
        str | None,
        described("The local policy the prevention work starts from", "Children and Youth Policy"),
    ]
    tenets: Annotated[list[str], described("Key tenets of the city's prevention work")]
    motto: Annotated[str | None, described("The city's mantra, as printed")]
    focus_ages: Annotated[AgeRange | None, described("Ages the city's prevention work focuses on")]
    international_exchange_since: Annotated[
        int | None, described("Year since which the city shares expertise abroad", 2000)
    ]
    international_exchange_partners: Annotated[
        list[str], described("With whom", ["Baltic countries", "Jordan"])
    ]
    themes: Annotated[list[Ref], described("The city's theme keywords")]


class Registration(WireModel):
    """Where and under which number an organisation is registered."""

    number: Annotated[str, described("Registration number", "1076660")]
    country: Annotated[str, described("ISO 3166-1 alpha-2 code of the register", "GB")]


class Organisation(RecordBase):
    """A ministry, agency, unit, company or NGO, and its relationships."""

    type: Annotated[Literal["organisation"], described("The entity type", "organisation")] = (
        "organisation"
    )
    name: Annotated[
        str, described("Name as the sources write it", "Danish Security and Intelligence Service")
    ]
    acronym: Annotated[str | None, described("Acronym", "PET")]
    kind: Annotated[vocab.OrganisationKind, described("What sort of body", "security_service")]
    sector: Annotated[vocab.Sector | None, described("public, private or civil_society", "public")]
    level: Annotated[vocab.Level | None, described("Level it works at", "national")]
    country: Ref | None
    city: Ref | None
    parent: Annotated[Ref | None, described("The body it is part of")]
    description: Annotated[str | None, described("The sources' description")]
    website: Annotated[
        str | None, described("Website, as the source gives it", "http://www.pet.dk")
    ]
    established: Annotated[PartialDate | None, described("When it was set up")]
    legal_form: Annotated[str | None, described("Legal form", "limited company")]
    registration: Registration | None
    relations: Annotated[
        list[RoleRef], described("Typed edges to other organisations; `role` is the edge kind")
    ]


class CooperationMember(WireModel):
    """A member of a cooperation: an organisation, a cooperation or a sector."""

    organisation: Ref | None = None
    cooperation: Ref | None = None
    sector: Annotated[str | None, described("A sector named as member", "schools")] = None
    role: Annotated[vocab.MemberRole, described("member, supporter or consulted", "member")]
    note: Annotated[str | None, described("The source's wording")] = None


class Cooperation(RecordBase):
    """A multi-agency cooperation: a national model or a local cooperation."""

    type: Annotated[Literal["cooperation"], described("The entity type", "cooperation")] = (
        "cooperation"
    )
    name: Annotated[str, described("Name", "Schools, Social Services & Police")]
    acronym: Annotated[str | None, described("Acronym", "SSP")]
    kind: Annotated[vocab.CooperationKind, described("Kind", "crime_prevention_cooperation")]
    scope: Annotated[vocab.CooperationScope, described("Scope", "national_model")]
    country: Ref
    city: Ref | None
    model: Annotated[Ref | None, described("The national model a local cooperation builds on")]
    legal_basis: Ref | None
    established: Annotated[PartialDate | None, described("When it began")]
    established_by_law: Annotated[bool | None, described("A source says a law set it up")]
    purpose: Annotated[str | None, described("Purpose")]
    target_group: Annotated[str | None, described("Whom it works with")]
    description: Annotated[str | None, described("Description")]
    members: Annotated[list[CooperationMember], described("Members and their roles")]


class Figure(WireModel):
    """A number a source gives about a practice, with its unit."""

    key: Annotated[str, described("What is counted", "meetings-per-year")]
    label: Annotated[str, described("Readable label", "meetings with local groups of parents")]
    value: Annotated[float, described("The number (lower bound of a range)", 170)]
    max: Annotated[float | None, described("Upper bound of a range", None)]
    unit: Annotated[str, described("What is counted", "meeting")]
    per: Annotated[str | None, described("Rate period", "year")]
    approximate: Annotated[bool, described("The source says some, about or estimated", False)]


class Period(WireModel):
    """When something ran or runs; either end may be unknown."""

    start: PartialDate | None
    end: PartialDate | None


class Money(WireModel):
    """An amount of money in a currency."""

    amount: Annotated[float, described("Amount", 30000)]
    currency: Annotated[str, described("ISO 4217 currency", "EUR")]
    estimate: Annotated[bool | None, described("The source calls it an estimate", True)]


class Funding(WireModel):
    """How a practice is funded."""

    kind: Annotated[vocab.FundingKind | None, described("Who pays", "eu")]
    description: Annotated[str | None, described("As the source words it")]


class Practice(RecordBase):
    """A practice, programme, project, training, service or activity."""

    type: Annotated[Literal["practice"], described("The entity type", "practice")] = "practice"
    name: Annotated[str, described("Name", "Community Counteracting Radicalisation")]
    acronym: Annotated[str | None, described("Acronym", "CoCoRa")]
    kind: Annotated[vocab.PracticeKind, described("Kind", "project")]
    status: Annotated[vocab.PracticeStatus | None, described("Only where a source states it")]
    country: Ref
    parent: Annotated[Ref | None, described("The practice this one is part of")]
    predecessor: Annotated[Ref | None, described("The practice this one follows")]
    summary: Annotated[str | None, described("Summary in the source's words")]
    aims: Annotated[list[str], described("Aims, one each")]
    target_groups: Annotated[list[str], described("Target groups, one each")]
    methods: Annotated[list[str], described("Methods, one each")]
    ages: Annotated[AgeRange | None, described("Target ages")]
    period: Annotated[Period | None, described("When it ran or runs")]
    availability: Annotated[str | None, described("Service hours", "24/7")]
    funding: Funding | None
    cost: Money | None
    participants_pay_fee: Annotated[bool | None, described("Participants pay to take part")]
    website: Annotated[str | None, described("Website", "http://cocoraproject.eu/")]
    figures: Annotated[list[Figure], described("Numbers the sources give")]
    organisations: Annotated[list[RoleRef], described("Lead, partners, funders, with roles")]
    cooperations: Annotated[list[RoleRef], described("Cooperations, with roles")]
    cities: Annotated[list[Ref], described("Cities it runs in")]
    themes: Annotated[list[Ref], described("Theme keywords")]


class Address(WireModel):
    """A postal address."""

    street: Annotated[str | None, described("Street", "Landemærket 9")]
    postal_code: Annotated[str | None, described("Postal code", "1119")]
    locality: Annotated[str | None, described("Locality", "Copenhagen K")]
    country: Annotated[str | None, described("ISO 3166-1 alpha-2", "DK")]


class ContactPoint(RecordBase):
    """An e-mail address, phone number, postal address or website."""

    type: Annotated[Literal["contact_point"], described("The entity type", "contact_point")] = (
        "contact_point"
    )
    kind: Annotated[vocab.ContactKind, described("Kind", "email")]
    value: Annotated[str, described("As printed", "pet@pet.dk")]
    label: Annotated[str | None, described("What it is for")]
    is_personal: Annotated[
        bool, described("Reaches a private person (published only if the operator allows)", False)
    ]
    person_name: Annotated[str | None, described("The person it reaches (personal data)")]
    organisation: Ref | None
    practice: Ref | None
    address: Address | None


# --- envelopes ------------------------------------------------------------------------------

T = TypeVar("T")


class ListLinks(WireModel):
    """Links of a page."""

    self: Annotated[str, described("This page's URL", "/v1/cities?limit=50")]
    next: Annotated[str | None, described("The next page's URL; null on the last page", None)] = (
        None
    )


class Page(WireModel, Generic[T]):
    """One page of a collection, in `id` order."""

    data: Annotated[list[T], described("The records on this page")]
    next_cursor: Annotated[
        str | None, described("Opaque cursor of the next page; null on the last page", None)
    ]
    links: ListLinks


class SearchHit(Ref):
    """A record that matches a search."""

    name: Annotated[str, described("The record's name or title", "24/7 local hotline")]
    rank: Annotated[float, described("Relevance: higher is better", 10.5)]
    snippet: Annotated[str | None, described("Where the words were found")] = None


class SearchResults(WireModel):
    """Search matches, best first."""

    query: Annotated[str, described("The query as understood", "hotline")]
    data: Annotated[list[SearchHit], described("Matches, best first")]
    next_cursor: Annotated[str | None, described("Opaque cursor of the next page")] = None
    links: ListLinks


class Problem(WireModel):
    """An error, as RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: Annotated[str, described("A URI naming the problem type", "about:blank")]
    title: Annotated[str, described("Short summary of the problem type", "Not Found")]
    status: Annotated[int, described("The HTTP status code", 404)]
    detail: Annotated[
        str | None, described("What went wrong, for this request", "No city with id 'atlantis'.")
    ] = None
    instance: Annotated[str | None, described("The request path", "/v1/cities/atlantis")] = None
    errors: Annotated[
        list[dict[str, Any]] | None, described("For invalid parameters: one entry each")
    ] = None


class Licence(WireModel):
    """The licence of the data and the attribution owed."""

    name: Annotated[str, described("Licence of the data", "CC BY 4.0")]
    url: Annotated[str, described("Licence text", "https://creativecommons.org/licenses/by/4.0/")]
    attribution: Annotated[str, described("The attribution owed when reusing the data")]


class Contact(WireModel):
    """How to reach the publisher."""

    email: Annotated[str | None, described("Contact e-mail of the publisher")]
    url: Annotated[str | None, described("Contact page of the publisher")]


class MetaLinks(WireModel):
    """Links from /v1/meta."""

    self: Annotated[str, described("This document", "/v1/meta")]
    sources: Annotated[str, described("The sources of the data", "/v1/sources")]
    openapi: Annotated[str, described("The v1 contract", "/v1/openapi.json")]


class Meta(WireModel):
    """What is published: data set version, schema revision, change number, counts, licence."""

    dataset_version: Annotated[str, described("Version of the curated data set", "1.0.0")]
    content_digest: Annotated[
        str, described("SHA-256 over every record: equal digests, equal data")
    ]
    schema_revision: Annotated[str, described("Database schema revision", "0002")]
    last_seq: Annotated[int, described("Sequence number of the last change", 125)]
    history_start: Annotated[
        int, described("The change feed answers `since` values from this number on", 0)
    ]
    loaded_at: Annotated[datetime, described("When the data last changed (UTC)")]
    record_counts: Annotated[
        dict[str, int], described("Published records per collection", {"cities": 3})
    ]
    licence: Licence
    contact: Contact
    links: MetaLinks


class ChangeItem(WireModel):
    """One change of one record: an upsert with the record as it is now, or a tombstone."""

    seq: Annotated[int, described("Sequence number, in commit order", 118)]
    type: Annotated[str, described("The record's entity type", "city")]
    id: Annotated[str, described("The record's id", "viborg")]
    op: Annotated[
        vocab.ChangeOperation, described("upsert: store `record`; delete: remove", "upsert")
    ]
    version: Annotated[int, described("The record's version after this change", 2)]
    changed_at: Annotated[datetime, described("When the change was made (UTC)")]
    href: Annotated[str, described("The record's URL", "/v1/cities/viborg")]
    record: Annotated[
        dict[str, Any] | None,
        described("For an upsert: the record as /v1/<collection>/{id} gives it; null for a delete"),
    ]


class ChangeLinks(WireModel):
    """Links of a change page."""

    self: Annotated[str, described("This page", "/v1/changes?since=0")]
    next: Annotated[str, described("The page to ask for next", "/v1/changes?since=125")]


class ChangePage(WireModel):
    """Changes after `since`, oldest first; of each record only its latest change is listed."""

    since: Annotated[int, described("The `since` asked for", 0)]
    next_since: Annotated[
        int, described("Ask for `since` = this next; store it with the data", 125)
    ]
    last_seq: Annotated[int, described("The publisher's last change number now", 125)]
    history_start: Annotated[
        int, described("The oldest `since` still answered; older ones get 410", 0)
    ]
    has_more: Annotated[bool, described("More changes are waiting: ask again at once", False)]
    data: Annotated[list[ChangeItem], described("The changes, in `seq` order")]
    links: ChangeLinks


class GraphNode(WireModel):
    """A record drawn as a node of the prevention model."""

    id: Annotated[
        str,
        described(
            "The node's id: its type and record id (record ids are unique per collection only)",
            "organisation:pet",
        ),
    ]
    type: Annotated[
        Literal["organisation", "cooperation", "practice", "city"],
        described("The record's entity type", "organisation"),
    ]
    record_id: Annotated[str, described("The record's id", "pet")]
    label: Annotated[
        str, described("The record's name", "Danish Security and Intelligence Service")
    ]
    acronym: Annotated[str | None, described("The record's acronym, if it has one", "PET")]
    kind: Annotated[
        str | None, described("The record's kind (none for a city)", "security_service")
    ]
    href: Annotated[str, described("The record's URL in this API", "/v1/organisations/pet")]


class GraphEdge(WireModel):
    """A relationship between two nodes; it reads "source <type> target"."""

    source: Annotated[str, described("The node the edge starts from", "organisation:pet")]
    target: Annotated[
        str, described("The node the edge points to", "organisation:ministry-of-justice")
    ]
    type: Annotated[
        str,
        described(
            "The relationship (part_of, member_of, leads, runs_in, ...; see the `edge` "
            "parameter for every type and the v1 field it comes from)",
            "part_of",
        ),
    ]
    role: Annotated[
        str | None,
        described(
            "The role as the owning record gives it (member, supporter, lead, partner, "
            "external_partner, delivered_by, a relation's kind); null where there is none",
            None,
        ),
    ]


class GraphLinks(WireModel):
    """Links of a graph."""

    self: Annotated[str, described("This graph's URL", "/v1/graph?city=viborg")]
    svg: Annotated[str, described("The same graph drawn as SVG", "/v1/graph.svg?city=viborg")]


class Graph(WireModel):
    """The prevention model as nodes and typed edges, as the filters select them."""

    nodes: Annotated[list[GraphNode], described("The nodes, by type then id")]
    edges: Annotated[list[GraphEdge], described("The edges among the nodes, by type then ends")]
    links: GraphLinks


def _attach_examples() -> None:
    """Each entity schema shows one real record (examples.json, from the Danish data)."""
    from app.api.examples import stored_examples

    examples = stored_examples()
    models: list[type[RecordBase]] = [
        Source,
        Theme,
        Country,
        ActionPlan,
        LegalBasis,
        City,
        Organisation,
        Cooperation,
        Practice,
        ContactPoint,
    ]
    for model in models:
        _attach(model, examples)


def _attach(model: type[RecordBase], examples: dict[str, Any]) -> None:
    entity = model.model_fields["type"].default
    if entity in examples:
        model.model_config["json_schema_extra"] = {"examples": [examples[entity]]}
        model.model_rebuild(force=True)


_attach_examples()


RECORDS: dict[str, type[RecordBase]] = {
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
