"""JSON Schemas of what the HSDS profile publishes, for its OpenAPI document.

They describe the subset of HSDS 3.0 this profile fills (docs/HSDS.md), with HSDS's field names,
types and formats; the official schemas remain the authority, and the tests validate every
response against them. Fields are never null: a field without a value is absent.
"""

from typing import Any

Schema = dict[str, Any]


def text(description: str, fmt: str | None = None) -> Schema:
    return {"type": "string", "description": description} | ({"format": fmt} if fmt else {})


def uuid(description: str) -> Schema:
    return text(description, "uuid")


def many(ref: str, description: str) -> Schema:
    return {"type": "array", "description": description, "items": {"$ref": ref}}


def obj(summary: str, required: list[str], /, **properties: Schema) -> Schema:
    return {
        "type": "object",
        "description": summary,
        "required": required,
        "properties": properties,
    }


def ref(name: str) -> str:
    return f"#/components/schemas/{name}"


TAXONOMY = obj(
    "A taxonomy: one of this API's vocabularies, its theme lists or its sources.",
    ["id", "name", "description"],
    id=uuid("uuid5 of `taxonomy/<name>`"),
    name=text("The taxonomy's name"),
    description=text("What the taxonomy classifies"),
    uri=text("Where the taxonomy's terms are listed", "uri"),
)
TAXONOMY_TERM = obj(
    "A term of a taxonomy: a theme, a vocabulary value, or a source document.",
    ["id", "name", "description"],
    id=uuid("uuid5 of `theme/<id>`, `source/<id>` or `<vocabulary>/<code>`"),
    code=text("The term's code in this API (the theme's or source's id, the vocabulary value)"),
    name=text("The term's label"),
    description=text("The term's description (its label where no source describes it)"),
    taxonomy=text("The taxonomy's name"),
    taxonomy_id=uuid("The taxonomy's id"),
    taxonomy_detail={"$ref": ref("Taxonomy")},
    language=text("Language of the label (ISO 639-1)"),
    term_uri=text("The term's record in this API's v1", "uri"),
)
ATTRIBUTE = obj(
    "A taxonomy term attached to a service or organization; `value` is the cited section for "
    "sources.",
    ["id"],
    id=uuid("uuid5 of `<type>/<id>/attribute/<link_type>/<code>`"),
    link_id=uuid("The service's or organization's id"),
    link_type=text("practice_kind, theme, source, organisation_kind, sector or level"),
    link_entity=text("service or organization"),
    taxonomy_term_id=uuid("The term's id"),
    value=text("For a source: the heading of the section the facts stand in"),
    taxonomy_term={"$ref": ref("TaxonomyTerm")},
)
PHONE = obj(
    "A telephone number, as the source prints it.",
    ["id", "number"],
    id=uuid("uuid5 of `contact_point/<id>` (`.../phone` inside a contact)"),
    service_id=uuid("The service it belongs to"),
    organization_id=uuid("The organization it belongs to"),
    contact_id=uuid("The contact it belongs to"),
    number=text("The number"),
    description=text("The source's label for it"),
)
CONTACT = obj(
    "An e-mail address, or a named person's telephone number.",
    ["id"],
    id=uuid("uuid5 of `contact_point/<id>`"),
    service_id=uuid("The service it belongs to"),
    organization_id=uuid("The organization it belongs to"),
    name=text("The person's name (only where personal contacts are published)"),
    email=text("The e-mail address", "email"),
    phones=many(ref("Phone"), "The person's telephone number"),
)
ADDRESS = obj(
    "A postal address. Danish addresses have no state or province: that field is empty.",
    ["id", "address_1", "city", "state_province", "postal_code", "country", "address_type"],
    id=uuid("uuid5 of `contact_point/<id>/address`"),
    location_id=uuid("The location's id"),
    address_1=text("Street and number"),
    city=text("The locality"),
    state_province=text("Always empty (no such part in Danish addresses)"),
    postal_code=text("The postal code"),
    country=text("ISO 3166-1 alpha-2 country code"),
    address_type=text("Always postal"),
)
LOCATION = obj(
    "A postal address of an organization or service.",
    ["id", "location_type"],
    id=uuid("uuid5 of `contact_point/<id>/location`"),
    location_type=text("Always postal"),
    organization_id=uuid("The organization at this address"),
    name=text("The address as the source prints it"),
    addresses=many(ref("Address"), "The structured address"),
)
SERVICE_FIELDS: dict[str, Schema] = {
    "id": uuid("uuid5 of `practice/<v1 id>`"),
    "organization_id": uuid("The lead organization (the first by v1 id where there are two)"),
    "program_id": uuid("The parent practice, as a program: uuid5 of `practice/<parent>/program`"),
    "name": text("The practice's name"),
    "alternate_name": text("Its acronym"),
    "description": text("Its summary"),
    "url": text("Its website", "uri"),
    "email": text("Its first published e-mail contact", "email"),
    "status": {
        "type": "string",
        "enum": ["active", "inactive", "defunct", "temporarily closed"],
        "description": "inactive if completed, planned or its period has ended; else active",
    },
    "fees_description": text("Whether participants pay a fee, where the source says"),
    "eligibility_description": text("Its target groups, separated by semicolons"),
    "minimum_age": {"type": "number", "description": "Youngest age it is for"},
    "maximum_age": {"type": "number", "description": "Oldest age it is for"},
    "last_modified": text("When the practice's record last changed", "date-time"),
}
SERVICE_LIST = obj("A practice as an HSDS service (list form).", ["id", "name", "status"])
SERVICE_LIST["properties"] = SERVICE_FIELDS
SERVICE = obj(
    "A practice as an HSDS service, with its related data.",
    ["id", "name", "status"],
    **SERVICE_FIELDS,
    phones=many(ref("Phone"), "Telephone numbers not tied to a named person"),
    contacts=many(ref("Contact"), "E-mail addresses and named people's numbers"),
    schedules=many(
        ref("Schedule"),
        "When it is available, where the source says (description only)",
    ),
    service_areas=many(ref("ServiceArea"), "The cities it runs in"),
    service_at_locations=many(ref("ServiceAtLocation"), "Its postal addresses"),
    funding=many(ref("Funding"), "Its funding, and its funder organizations"),
    organization={"$ref": ref("OrganizationListItem")},
    program={"$ref": ref("Program")},
    attributes=many(ref("Attribute"), "Its kind, themes and sources"),
)
SCHEDULE = obj(
    "When a service is available, in the source's words.",
    ["id"],
    id=uuid("uuid5 of `practice/<id>/schedule`"),
    service_id=uuid("The service's id"),
    description=text("The availability (24/7)"),
)
SERVICE_AREA = obj(
    "A city a practice runs in.",
    ["id"],
    id=uuid("uuid5 of `practice/<id>/service_area/<city id>`"),
    service_id=uuid("The service's id"),
    name=text("The city's name"),
    uri=text("The city's record in this API's v1"),
)
SERVICE_AT_LOCATION = obj(
    "A postal address printed for a practice.",
    ["id"],
    id=uuid("uuid5 of `practice/<id>/service_at_location/<contact point id>`"),
    service_id=uuid("The service's id"),
    location_id=uuid("The location's id"),
    location={"$ref": ref("Location")},
)
FUNDING = obj(
    "Who or what funds a practice.",
    ["id"],
    id=uuid("uuid5 of `practice/<id>/funding[/organisation/<id>]`"),
    service_id=uuid("The service's id"),
    source=text("The funding as the source describes it, or the funder's name"),
)
PROGRAM = obj(
    "The parent practice a practice is part of.",
    ["id", "name", "description"],
    id=uuid("uuid5 of `practice/<parent id>/program`"),
    name=text("The parent practice's name"),
    alternate_name=text("Its acronym"),
    description=text("Its summary (its name where it has none)"),
)
ORGANIZATION_FIELDS: dict[str, Schema] = {
    "id": uuid("uuid5 of `organisation/<v1 id>`"),
    "name": text("The organisation's name"),
    "alternate_name": text("Its acronym"),
    "description": text("Its description; where no source gives one: its kind, level and sector"),
    "email": text("Its first published e-mail contact", "email"),
    "website": text("Its website", "uri"),
    "year_incorporated": {"type": "number", "description": "The year it was established"},
    "legal_status": text("Its legal form"),
    "uri": text("Its record in this API's v1", "uri"),
    "parent_organization_id": uuid("The organisation it is part of"),
}
ORGANIZATION_LIST = obj(
    "An organisation as an HSDS organization (list form).", ["id", "name", "description"]
)
ORGANIZATION_LIST["properties"] = ORGANIZATION_FIELDS
IDENTIFIER = obj(
    "A registration number.",
    ["id", "identifier_type", "identifier"],
    id=uuid("uuid5 of `organisation/<id>/identifier`"),
    organization_id=uuid("The organization's id"),
    identifier_type=text("Registration number (country)"),
    identifier=text("The number"),
)
ORGANIZATION = obj(
    "An organisation as an HSDS organization, with its related data.",
    ["id", "name", "description"],
    **ORGANIZATION_FIELDS,
    contacts=many(ref("Contact"), "E-mail addresses and named people's numbers"),
    phones=many(ref("Phone"), "Telephone numbers not tied to a named person"),
    locations=many(ref("Location"), "Postal addresses"),
    organization_identifiers=many(ref("OrganizationIdentifier"), "Registration numbers"),
    attributes=many(ref("Attribute"), "Its kind, sector, level and sources"),
    services=many(ref("ServiceListItem"), "The practices it leads"),
)
PAGE_FIELDS: dict[str, Schema] = {
    "total_items": {"type": "integer", "description": "How many records match"},
    "total_pages": {"type": "integer", "description": "ceil(total_items / per_page)"},
    "page_number": {"type": "integer", "description": "This page's number (from 1)"},
    "size": {"type": "integer", "description": "How many records this page holds"},
    "first_page": {"type": "boolean", "description": "Whether this is page 1"},
    "last_page": {"type": "boolean", "description": "Whether no page follows"},
    "empty": {"type": "boolean", "description": "Whether this page holds no record"},
}


def page(item: str, description: str) -> Schema:
    return obj(
        description,
        [*PAGE_FIELDS, "contents"],
        **PAGE_FIELDS,
        contents=many(ref(item), "The records of this page"),
    )


ROOT = obj(
    "About this API and its relationship with HSDS.",
    ["version", "profile", "openapi_url"],
    version=text("The HSDS version: 3.0"),
    profile=text("Where this HSDS profile is described", "uri"),
    openapi_url=text("This API's OpenAPI document", "uri"),
)

SCHEMAS: dict[str, Schema] = {
    "HsdsRoot": ROOT,
    "ServicePage": page("ServiceListItem", "One page of services, in v1 id order."),
    "ServiceListItem": SERVICE_LIST,
    "Service": SERVICE,
    "OrganizationPage": page("OrganizationListItem", "One page of organizations."),
    "OrganizationListItem": ORGANIZATION_LIST,
    "Organization": ORGANIZATION,
    "Phone": PHONE,
    "Contact": CONTACT,
    "Schedule": SCHEDULE,
    "ServiceArea": SERVICE_AREA,
    "ServiceAtLocation": SERVICE_AT_LOCATION,
    "Location": LOCATION,
    "Address": ADDRESS,
    "Funding": FUNDING,
    "Program": PROGRAM,
    "OrganizationIdentifier": IDENTIFIER,
    "Attribute": ATTRIBUTE,
    "TaxonomyTerm": TAXONOMY_TERM,
    "Taxonomy": TAXONOMY,
}
