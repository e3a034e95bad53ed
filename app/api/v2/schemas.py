"""The v2 wire format, derived from v1's: the same models, except that every translatable text
is a language map (ISO 639-1 code -> text), `theme.label_language` is gone (the label's map says
its language), and organisations have `mission` and `mission_keywords`. docs/CHANGELOG.md lists
every difference; openapi/v2.json is generated from these models."""

from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, create_model

from app import i18n, vocab
from app.api.examples import stored_examples
from app.api.records import V2
from app.api.v1 import schemas as v1

LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
LanguageText = dict[LanguageCode, str]
LanguageTextList = dict[LanguageCode, list[str]]

TEXT_NOTE = (
    " A language map: ISO 639-1 code -> the text in that language; with `lang` or "
    "Accept-Language, only the best available language."
)
DROPPED = {"theme": {"label_language"}}
ADDED: dict[str, dict[str, tuple[Any, Any]]] = {
    "organisation": {
        "mission": (
            LanguageTextList,
            Field(
                description="What the organisation says it does, as printed." + TEXT_NOTE,
                examples=[{"fr": ["Faciliter le partage systématique de connaissances ..."]}],
            ),
        ),
        "mission_keywords": (
            LanguageTextList,
            Field(
                description="The headings printed with its mission." + TEXT_NOTE,
                examples=[{"fr": ["Connecter", "Construire"]}],
            ),
        ),
    }
}


def _field(info: Any, annotation: Any, note: str = "") -> tuple[Any, Any]:
    description = (info.description or "") + note
    default = ... if info.is_required() else info.default
    return annotation, Field(default=default, description=description, examples=None)


def _record_model(entity: str, model: type[v1.RecordBase]) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in DROPPED.get(entity, set()):
            continue
        optional = not info.is_required() or _allows_none(info.annotation)
        if name in i18n.TEXT_FIELDS.get(entity, ()) and name != "funding":
            annotation: Any = LanguageText | None if optional else LanguageText
            fields[name] = _field(info, annotation, TEXT_NOTE)
        elif name in i18n.TEXT_LIST_FIELDS.get(entity, ()):
            fields[name] = _field(info, LanguageTextList, TEXT_NOTE)
        else:
            fields[name] = (info.annotation, info)
    fields |= ADDED.get(entity, {})
    built: type[BaseModel] = create_model(
        model.__name__, __base__=v1.WireModel, __doc__=model.__doc__, **fields
    )
    return built


def _allows_none(annotation: Any) -> bool:
    return type(None) in getattr(annotation, "__args__", ())


class Funding(v1.WireModel):
    """How a practice is funded."""

    kind: Annotated[vocab.FundingKind | None, v1.described("Who pays", "eu")]
    description: Annotated[
        LanguageText | None, v1.described("The funding as the source words it." + TEXT_NOTE)
    ]


RECORDS: dict[str, type[BaseModel]] = {e: _record_model(e, m) for e, m in v1.RECORDS.items()}
# A practice's funding description is a translatable text in a nested object.
RECORDS["practice"] = create_model(
    "Practice",
    __base__=RECORDS["practice"],
    __doc__=v1.Practice.__doc__,
    funding=(Funding | None, Field(description="How the practice is funded")),
)


class SearchHit(v1.Ref):
    """A record that matches a search."""

    name: Annotated[
        LanguageText | str,
        v1.described(
            "The record's name or title: a language map, or the value of a contact point",
            {"en": "24/7 local hotline"},
        ),
    ]
    rank: Annotated[float, v1.described("Relevance: higher is better", 10.5)]
    snippet: Annotated[str | None, v1.described("Where the words were found")] = None


class SearchResults(v1.WireModel):
    """Search matches, best first."""

    query: Annotated[str, v1.described("The query as understood", "hotline")]
    data: Annotated[list[SearchHit], v1.described("Matches, best first")]
    next_cursor: Annotated[str | None, v1.described("Opaque cursor of the next page")] = None
    links: v1.ListLinks


class EvidenceItem(v1.WireModel):
    """A verbatim quote from a source that states one value of a record (Wikidata: the
    statement's reference, "stated in" + "quotation"; W3C PROV: the value wasQuotedFrom it)."""

    field: Annotated[
        str,
        v1.described(
            "The value's field path in the record as the API shows it (`population`, "
            "`leaders[0]`, `period`; an index counts in the list as the record lists it; a "
            "path covers everything inside it)",
            "population",
        ),
    ]
    source: Annotated[v1.Ref, v1.described("The source quoted")]
    document: Annotated[
        str,
        v1.described(
            "The source's text in the project repository (`source.document`)",
            "sources/scn-viborg-profile-fr.fr.txt",
        ),
    ]
    section: Annotated[
        str | None, v1.described("The heading the quote is printed under", "Key Information")
    ]
    quote: Annotated[
        str, v1.described("The passage, as the curators copied it", "Population 96,500")
    ]
    start: Annotated[
        int,
        v1.described(
            "Offset of the passage's first character in the stored text (Unicode code points, "
            "from 0); whitespace and typographic quotes may differ from `quote`",
            6838,
        ),
    ]
    end: Annotated[int, v1.described("Offset just after the passage's last character", 6855)]


class Evidence(v1.WireModel):
    """Every quote behind a record's structured values, in the order the seeds give them."""

    id: Annotated[str, v1.described("The record's id", "viborg")]
    type: Annotated[str, v1.described("The record's entity type", "city")]
    href: Annotated[str, v1.described("The record's URL", "/v2/cities/viborg")]
    evidence: Annotated[
        list[EvidenceItem], v1.described("The quotes, in the order the seeds give them")
    ]


class ChangeItem(v1.ChangeItem):
    """One change of one record: an upsert with the record as it is now, or a tombstone."""

    record: Annotated[
        dict[str, Any] | None,
        v1.described(
            "For an upsert: the record as /v2/<collection>/{id} gives it, with `evidence`: the "
            "quotes /v2/<collection>/{id}/evidence lists (so a copy can serve them too); null "
            "for a delete"
        ),
    ]


class ChangePage(v1.ChangePage):
    """Changes after `since`, oldest first; of each record only its latest change is listed."""

    data: Annotated[list[ChangeItem], v1.described("The changes, in `seq` order")]  # type: ignore[assignment]


def _attach_examples() -> None:
    examples = stored_examples(V2)
    for entity, model in RECORDS.items():
        if entity in examples:
            model.model_config["json_schema_extra"] = {"examples": [examples[entity]]}
            model.model_rebuild(force=True)


_attach_examples()


class MetaLinks(v1.WireModel):
    """Links from /v2/meta."""

    self: Annotated[str, v1.described("This document", "/v2/meta")]
    sources: Annotated[str, v1.described("The sources of the data", "/v2/sources")]
    openapi: Annotated[str, v1.described("The v2 contract", "/v2/openapi.json")]


class Meta(v1.Meta):
    """What is published: data set version, schema revision, change number, counts, licence."""

    links: MetaLinks  # type: ignore[assignment]
