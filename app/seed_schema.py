"""The layout of the files in `seeds/`: one pydantic model per entity, strict and closed.

Strict mode refuses "96500" where a number belongs and `extra="forbid"` refuses a misspelt
field, so a mistake in a seed file stops the load instead of becoming a silent null.
docs/DATA.md describes every field for the people who edit the files.
"""

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, model_validator

from app import i18n, vocab

E = TypeVar("E")
Vocab = Annotated[E, Strict(False)]
"""A vocabulary value, written in YAML as its plain string (strict mode would want the enum)."""

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[str, Field(pattern=SLUG_PATTERN, max_length=64)]
Text = Annotated[str, Field(min_length=1)]
LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2}$")]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Url = Annotated[str, Field(pattern=r"^https?://\S+$")]
Count = Annotated[int, Field(ge=0)]
DOCUMENT_PATTERN = r"^(?:[\w-][\w.-]*/)*[\w-][\w.-]*\.txt$"
"""A text's path relative to the data set's root (`sources/x.en.txt`): no `..`, not absolute."""

_PARTIAL_DATE = re.compile(r"^(\d{3}0)s$|^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")


class PartialDate(BaseModel):
    """A date known to a decade ("1970s"), a year ("2009"), a month ("2016-12") or a day."""

    value: date
    precision: Vocab[vocab.DatePrecision]

    @classmethod
    def parse(cls, text: str) -> "PartialDate":
        match = _PARTIAL_DATE.match(text)
        if not match:
            raise ValueError("expected a date as YYYY-MM-DD, YYYY-MM, YYYY or a decade as 1970s")
        decade, year, month, day = match.groups()
        if decade:
            return cls(value=date(int(decade), 1, 1), precision=vocab.DatePrecision.DECADE)
        if day and not month:  # pragma: no cover - the pattern makes this impossible
            raise ValueError("a day needs a month")
        precision = (
            vocab.DatePrecision.DAY
            if day
            else vocab.DatePrecision.MONTH
            if month
            else vocab.DatePrecision.YEAR
        )
        try:
            value = date(int(year), int(month or 1), int(day or 1))
        except ValueError as exc:
            raise ValueError(f"not a real date: {exc}") from None
        return cls(value=value, precision=precision)


def _text_map(value: str | dict[str, str]) -> dict[str, str]:
    return {i18n.DEFAULT_LANGUAGE: value} if isinstance(value, str) else value


def _text_list_map(value: list[str] | dict[str, list[str]]) -> dict[str, list[str]]:
    if isinstance(value, list):
        return {i18n.DEFAULT_LANGUAGE: value} if value else {}
    return value


Translated = Annotated[
    Text | Annotated[dict[LanguageCode, Text], Field(min_length=1)], AfterValidator(_text_map)
]
"""A translatable text: plain text (English), or a map of ISO 639-1 code -> text. Loaded as a
map either way (app.i18n)."""
TranslatedList = Annotated[
    list[Text] | dict[LanguageCode, Annotated[list[Text], Field(min_length=1)]],
    AfterValidator(_text_list_map),
]
"""A translatable list of texts: a plain list (English), or a map of code -> list."""

DateText = Annotated[str, AfterValidator(lambda t: (PartialDate.parse(t), t)[1])]
"""A partial date as written in a seed file; `PartialDate.parse` turns it into value + precision."""


class SeedModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class CitationDetail(SeedModel):
    source: Slug
    section: Text | None = None


SourceRef = Slug | CitationDetail


class QuoteSeed(SeedModel):
    """A verbatim passage of a source that states a value (Wikidata: a reference's "stated in"
    and "quotation"; W3C PROV: the value wasDerivedFrom the source, the quote says where)."""

    quote: Text
    source: Slug | None = None
    """The source it is quoted from; may be left out when the record cites one source only."""
    section: Text | None = None
    """The heading it is printed under, when that helps a reader (and the lookup) find it."""


QuoteRef = Text | QuoteSeed
"""A quote: plain text (from the record's only source), or a mapping with its source."""
FieldPath = Annotated[str, Field(pattern=r"^[a-z_]+(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*$")]
"""A field of the record as error messages name it: `population`, `leaders[0]`, `cost.amount`."""


class SeedRecord(SeedModel):
    id: Slug
    sources: list[SourceRef] = Field(min_length=1)
    evidence: dict[FieldPath, QuoteRef | Annotated[list[QuoteRef], Field(min_length=1)]] = {}
    """Field path -> the quote(s) that state its value (docs/DATA.md, "Evidence"). A path covers
    the value there and everything in it (`leaders` covers `leaders[0].role`)."""

    def cited_sources(self) -> list[CitationDetail]:
        return [
            s if isinstance(s, CitationDetail) else CitationDetail(source=s) for s in self.sources
        ]

    def quotes(self) -> list[tuple[str, QuoteSeed]]:
        """(field path, quote) pairs, a plain-text quote given its source when the record cites
        exactly one (else its source stays None, which the reader reports)."""
        cited = self.cited_sources()
        only = cited[0].source if len(cited) == 1 else None
        pairs = []
        for path, given in self.evidence.items():
            for item in given if isinstance(given, list) else [given]:
                quote = item if isinstance(item, QuoteSeed) else QuoteSeed(quote=item)
                if quote.source is None and only is not None:
                    quote = quote.model_copy(update={"source": only})
                pairs.append((path, quote))
        return pairs


# --- sources and themes ----------------------------------------------------------------------


class SourceSeed(SeedModel):
    id: Slug
    title: Translated
    publisher: Text | None = None
    kind: Vocab[vocab.SourceKind]
    language: LanguageCode
    url: Url | None = None
    document: Annotated[str, Field(pattern=DOCUMENT_PATTERN)]
    last_modified: DateText | None = None
    description: Translated | None = None


class ThemeSeed(SeedRecord):
    label: Translated
    scheme: Slug
    description: Translated | None = None

    @model_validator(mode="before")
    @classmethod
    def _label_language(cls, data: Any) -> Any:
        """The data set's first layout wrote `label` as text with `label_language` beside it;
        that still reads, as the map {label_language: label}."""
        if isinstance(data, dict) and "label_language" in data:
            data = dict(data)
            language = data.pop("label_language")
            if not isinstance(data.get("label"), str):
                raise ValueError("label_language goes only with a label written as plain text")
            data["label"] = {language: data["label"]}
        return data


# --- countries ---------------------------------------------------------------------------------


class StrategyOrganisationSeed(SeedModel):
    organisation: Slug
    role: Vocab[vocab.CountryStrategyRole]
    note: Text | None = None


class CountrySeed(SeedRecord):
    iso_code: CountryCode
    name: Translated
    national_overview: Translated | None = None
    strategy_lead: Translated | None = None
    strategy_organisations: list[StrategyOrganisationSeed] = []
    municipality_count: Count | None = None
    police_district_count: Count | None = None
    region_count: Count | None = None


class ActionPlanSeed(SeedRecord):
    country: Slug
    year: Annotated[int, Field(ge=1900, le=2100)]
    title: Translated
    status: Vocab[vocab.ActionPlanStatus] | None = None
    summary: Translated | None = None
    emphases: TranslatedList = {}


class LegalBasisSeed(SeedRecord):
    country: Slug
    citation: Translated
    act: Translated
    section: Text | None = None
    allows: Translated | None = None
    forbids: Translated | None = None


# --- cities ------------------------------------------------------------------------------------


class AgeRange(SeedModel):
    min: Count
    max: Count

    @model_validator(mode="after")
    def _ordered(self) -> "AgeRange":
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class LeaderSeed(SeedModel):
    role: Text
    person_name: Text
    title: Text | None = None


class CitySeed(SeedRecord):
    country: Slug
    name: Translated
    population: Count | None = None
    scn_member: bool | None = None
    scn_member_since: DateText | None = None
    background: Translated | None = None
    local_overview: Translated | None = None
    policy_basis: Translated | None = None
    tenets: TranslatedList = {}
    motto: Translated | None = None
    focus_ages: AgeRange | None = None
    international_exchange_since: Annotated[int, Field(ge=1900, le=2100)] | None = None
    international_exchange_partners: TranslatedList = {}
    leaders: list[LeaderSeed] = []
    themes: list[Slug] = []

    @model_validator(mode="after")
    def _membership(self) -> "CitySeed":
        if self.scn_member_since and self.scn_member is not True:
            raise ValueError("scn_member_since is set, so scn_member must be true")
        return self


# --- organisations and cooperations ------------------------------------------------------------


class RegistrationSeed(SeedModel):
    number: Text
    country: CountryCode


class OrganisationRelationSeed(SeedModel):
    kind: Vocab[vocab.OrganisationRelationKind]
    organisation: Slug
    note: Text | None = None


class OrganisationSeed(SeedRecord):
    name: Translated
    acronym: Text | None = None
    kind: Vocab[vocab.OrganisationKind]
    sector: Vocab[vocab.Sector] | None = None
    level: Vocab[vocab.Level] | None = None
    country: Slug | None = None
    city: Slug | None = None
    parent: Slug | None = None
    description: Translated | None = None
    website: Url | None = None
    established: DateText | None = None
    legal_form: Translated | None = None
    mission: TranslatedList = {}
    mission_keywords: TranslatedList = {}
    registration: RegistrationSeed | None = None
    relations: list[OrganisationRelationSeed] = []


class MemberSeed(SeedModel):
    organisation: Slug | None = None
    cooperation: Slug | None = None
    sector: Text | None = None
    role: Vocab[vocab.MemberRole] = vocab.MemberRole.MEMBER
    note: Text | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "MemberSeed":
        given = [f for f in ("organisation", "cooperation", "sector") if getattr(self, f)]
        if len(given) != 1:
            raise ValueError("give exactly one of organisation, cooperation or sector")
        return self


class CooperationSeed(SeedRecord):
    name: Translated
    acronym: Text | None = None
    kind: Vocab[vocab.CooperationKind]
    scope: Vocab[vocab.CooperationScope]
    country: Slug
    city: Slug | None = None
    model: Slug | None = None
    legal_basis: Slug | None = None
    established: DateText | None = None
    established_by_law: bool | None = None
    purpose: Translated | None = None
    target_group: Translated | None = None
    description: Translated | None = None
    members: list[MemberSeed] = []


# --- practices ---------------------------------------------------------------------------------


class PeriodSeed(SeedModel):
    start: DateText | None = None
    end: DateText | None = None

    @model_validator(mode="after")
    def _ordered(self) -> "PeriodSeed":
        start, end = self.start, self.end
        if start and end and PartialDate.parse(start).value > PartialDate.parse(end).value:
            raise ValueError(f"start ({self.start}) is after end ({self.end})")
        return self


class FundingSeed(SeedModel):
    kind: Vocab[vocab.FundingKind] | None = None
    description: Translated | None = None


Amount = Annotated[int | float, Field(ge=0)]


class CostSeed(SeedModel):
    amount: Amount
    currency: CurrencyCode
    estimate: bool = False


class FigureSeed(SeedModel):
    key: Slug
    label: Text
    value: Amount
    max: Amount | None = None
    unit: Text
    per: Text | None = None
    approximate: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> "FigureSeed":
        if self.max is not None and self.value > self.max:
            raise ValueError(f"value ({self.value}) is greater than max ({self.max})")
        return self

    def decimal_value(self) -> Decimal:
        return Decimal(str(self.value))


class PracticeOrganisationSeed(SeedModel):
    organisation: Slug
    role: Vocab[vocab.PracticeOrganisationRole]
    note: Text | None = None


class PracticeCooperationSeed(SeedModel):
    cooperation: Slug
    role: Vocab[vocab.PracticeCooperationRole]


class PracticeSeed(SeedRecord):
    name: Translated
    acronym: Text | None = None
    kind: Vocab[vocab.PracticeKind]
    status: Vocab[vocab.PracticeStatus] | None = None
    country: Slug
    parent: Slug | None = None
    predecessor: Slug | None = None
    summary: Translated | None = None
    aims: TranslatedList = {}
    target_groups: TranslatedList = {}
    methods: TranslatedList = {}
    ages: AgeRange | None = None
    period: PeriodSeed | None = None
    availability: Text | None = None
    funding: FundingSeed | None = None
    cost: CostSeed | None = None
    participants_pay_fee: bool | None = None
    website: Url | None = None
    figures: list[FigureSeed] = []
    organisations: list[PracticeOrganisationSeed] = []
    cooperations: list[PracticeCooperationSeed] = []
    cities: list[Slug] = []
    themes: list[Slug] = []


# --- contact points ----------------------------------------------------------------------------


class AddressSeed(SeedModel):
    street: Text | None = None
    postal_code: Text | None = None
    locality: Text
    country: CountryCode


class ContactPointSeed(SeedRecord):
    kind: Vocab[vocab.ContactKind]
    value: Text
    label: Translated | None = None
    personal: bool
    person_name: Text | None = None
    organisation: Slug | None = None
    practice: Slug | None = None
    address: AddressSeed | None = None

    @model_validator(mode="after")
    def _owner_and_address(self) -> "ContactPointSeed":
        if not (self.organisation or self.practice):
            raise ValueError("give organisation, practice or both: whose contact point this is")
        if self.person_name and not self.personal:
            raise ValueError("person_name is set, so personal must be true")
        if self.address and self.kind is not vocab.ContactKind.POSTAL_ADDRESS:
            raise ValueError("address is only for kind postal_address")
        return self


class DatasetSeed(SeedModel):
    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
    title: Text
    description: Text | None = None
    evidence: Literal["required", "optional"] = "required"
    """`required`: every value EVIDENCED lists needs a quote. `optional` is for the test fixtures
    that exercise the loader's mechanics only (their quotes, where given, are still checked)."""


EVIDENCED: dict[str, list[str]] = {
    "country": [
        "strategy_lead",
        "strategy_organisations[]",
        "municipality_count",
        "police_district_count",
        "region_count",
    ],
    "action_plan": ["year", "status"],
    "legal_basis": ["section"],
    "city": [
        "population",
        "scn_member",
        "scn_member_since",
        "focus_ages",
        "international_exchange_since",
        "international_exchange_partners",
        "leaders[]",
        "themes[]",
    ],
    "organisation": ["parent", "city", "established", "website", "registration", "relations[]"],
    "cooperation": [
        "city",
        "model",
        "legal_basis",
        "established",
        "established_by_law",
        "members[]",
    ],
    "practice": [
        "status",
        "parent",
        "predecessor",
        "ages",
        "period",
        "availability",
        "funding.kind",
        "cost",
        "participants_pay_fee",
        "website",
        "figures[]",
        "organisations[]",
        "cooperations[]",
        "cities[]",
        "themes[]",
    ],
    "contact_point": ["value", "person_name"],
}
"""The structured values that need a quote, per entity: numbers, dates, periods, age ranges,
amounts, leaders, legal bases, memberships and relationships, and what a contact point reaches.
Prose (descriptions, overviews) is itself the source's words; names, acronyms and the curators'
classifications (`kind`, `sector`, `level`) are not quoted. The country every Danish record
names is not quoted either: every source is about Denmark."""


SEED_FILES: dict[str, tuple[str, type[SeedModel]]] = {
    "source": ("sources.yaml", SourceSeed),
    "theme": ("themes.yaml", ThemeSeed),
    "country": ("countries.yaml", CountrySeed),
    "action_plan": ("action_plans.yaml", ActionPlanSeed),
    "legal_basis": ("legal_bases.yaml", LegalBasisSeed),
    "city": ("cities.yaml", CitySeed),
    "organisation": ("organisations.yaml", OrganisationSeed),
    "cooperation": ("cooperations.yaml", CooperationSeed),
    "practice": ("practices.yaml", PracticeSeed),
    "contact_point": ("contact_points.yaml", ContactPointSeed),
}
"""Entity name -> (file in seeds/, record model). Every file holds a YAML list of records."""

DATASET_FILE = "dataset.yaml"
