"""Key facts of the Denmark data set, read directly from the five source texts.

`KEY_FACTS` rows are (table, id, column, expected value) for a loaded database: partial dates are
ISO strings of their first day, with the precision in the matching `*_precision` column.
`KEY_LINKS` rows are (link table, columns a row of that table must match).
"""

KEY_FACTS: list[tuple[str, str, str, object]] = [
    # sources
    ("source", "who-does-what-in-denmark", "kind", "web_page"),
    ("source", "who-does-what-in-denmark", "last_modified", "2018-06-08"),
    ("source", "who-does-what-in-denmark", "last_modified_precision", "day"),
    ("source", "scn-viborg-profile-fr", "language", "fr"),
    ("source", "scn-viborg-profile-fr", "publisher", "Strong Cities Network"),
    ("source", "prova-projects-denmark", "kind", "project_catalogue"),
    # country, action plans, legal basis
    ("country", "dk", "iso_code", "DK"),
    ("country", "dk", "municipality_count", 98),
    ("country", "dk", "police_district_count", 12),
    ("country", "dk", "region_count", 5),
    ("country", "dk", "strategy_lead", "a Government ministry"),
    ("action_plan", "dk-action-plan-2016", "status", "current"),
    ("action_plan", "dk-action-plan-2009", "status", "superseded"),
    ("legal_basis", "dk-administration-justice-act-s115", "section", "115"),
    (
        "legal_basis",
        "dk-administration-justice-act-s115",
        "act",
        "Danish Administration Justice Act",
    ),
    # cities and themes
    ("city", "viborg", "population", 96500),
    ("city", "viborg", "scn_member", True),
    ("city", "viborg", "scn_member_since", "2016-12-01"),
    ("city", "viborg", "scn_member_since_precision", "month"),
    ("city", "viborg", "focus_age_min", 0),
    ("city", "viborg", "focus_age_max", 18),
    ("city", "viborg", "international_exchange_since", 2000),
    ("city", "viborg", "policy_basis", "Children and Youth Policy"),
    ("city", "viborg", "motto", "The best you can do for your child is what you do for community!"),
    # Unknown: the Copenhagen text does not say that Copenhagen is a member (no quote can back it).
    ("city", "copenhagen", "scn_member", None),
    ("city", "aarhus", "scn_member", None),
    ("theme", "community-resilience", "label", "Developpement de la résilience communautaire"),
    ("theme", "support-hotline", "label", {"fr": "Hotline de soutien"}),
    # organisations
    ("organisation", "pet", "acronym", "PET"),
    ("organisation", "pet", "parent_id", "ministry-of-justice"),
    ("organisation", "pet-centre-for-prevention", "established", "2007-01-01"),
    ("organisation", "pet-centre-for-prevention", "established_precision", "year"),
    ("organisation", "pet-centre-for-prevention", "parent_id", "pet"),
    ("organisation", "siri", "parent_id", "ministry-of-immigration-and-integration"),
    ("organisation", "stuk", "parent_id", "ministry-of-children-education-and-gender-equality"),
    ("organisation", "mhtconsult", "legal_form", "limited company"),
    ("organisation", "mhtconsult", "sector", "private"),
    ("organisation", "institute-for-strategic-dialogue", "registration_number", "1076660"),
    ("organisation", "institute-for-strategic-dialogue", "registration_country", "GB"),
    # cooperations
    ("cooperation", "ssp", "established", "1970-01-01"),
    ("cooperation", "ssp", "established_precision", "decade"),
    ("cooperation", "ssp", "legal_basis_id", "dk-administration-justice-act-s115"),
    ("cooperation", "psp", "established", "2009-01-01"),
    ("cooperation", "psp", "established_by_law", True),
    ("cooperation", "ssp-viborg", "established", "2000-01-01"),
    ("cooperation", "ssp-viborg", "model_id", "ssp"),
    ("cooperation", "ssp-viborg", "city_id", "viborg"),
    ("cooperation", "national-exit-contact-point", "kind", "authority_partnership"),
    # practices
    ("practice", "vink", "period_start", "2009-01-01"),
    ("practice", "vink", "period_start_precision", "year"),
    ("practice", "cocora", "period_end", "2017-01-01"),
    ("practice", "cocora", "funding_kind", "eu"),
    ("practice", "train-the-trainer", "cost_amount", 30000),
    ("practice", "train-the-trainer", "cost_currency", "EUR"),
    ("practice", "train-the-trainer", "cost_is_estimate", True),
    ("practice", "train-the-trainer-resource-persons", "period_start", "2016-10-01"),
    ("practice", "train-the-trainer-resource-persons", "period_start_precision", "month"),
    ("practice", "dignity-treatment-programme", "age_min", 18),
    ("practice", "dignity-treatment-programme", "age_max", 34),
    ("practice", "psp-training-course", "participants_pay_fee", False),
    ("practice", "psp-training-course", "funding_kind", "national_government"),
    ("practice", "viborg-hotline", "availability", "24/7"),
    ("practice", "back-on-track", "predecessor_id", "dti"),
    ("practice", "cocora-ambassador-programme", "parent_id", "cocora"),
    # contact points
    ("contact_point", "psp-training-contact-email", "is_personal", True),
    ("contact_point", "psp-training-contact-email", "person_name", "Kristian Walther"),
    ("contact_point", "pet-email", "is_personal", False),
    ("contact_point", "mhtconsult-address", "street_address", "Karlsgårdsvej 11"),
]

KEY_LINKS: list[tuple[str, dict[str, object]]] = [
    (
        "city_leader",
        {
            "city_id": "viborg",
            "role": "Mayor",
            "person_name": "Ulrik Wilbek",
            "title": "Mayor of Viborg",
        },
    ),
    ("city_theme", {"city_id": "viborg", "theme_id": "community-resilience"}),
    ("city_theme", {"city_id": "viborg", "theme_id": "support-hotline"}),
    (
        "country_strategy_organisation",
        {"country_id": "dk", "organisation_id": "pet-centre-for-prevention", "role": "support"},
    ),
    (
        "organisation_relation",
        {
            "organisation_id": "strong-cities-network",
            "kind": "led_by",
            "related_organisation_id": "institute-for-strategic-dialogue",
        },
    ),
    (
        "organisation_relation",
        {
            "organisation_id": "stuk",
            "kind": "answerable_to",
            "related_organisation_id": "ministry-of-education",
        },
    ),
    ("cooperation_member", {"cooperation_id": "ssp", "sector": "schools"}),
    ("cooperation_member", {"cooperation_id": "ssp", "sector": "police"}),
    (
        "cooperation_member",
        {"cooperation_id": "ksp", "organisation_id": "danish-prison-and-probation-service"},
    ),
    (
        "cooperation_member",
        {
            "cooperation_id": "copenhagen-radicalisation-standby-unit",
            "member_cooperation_id": "ssp-copenhagen",
        },
    ),
    (
        "cooperation_member",
        {
            "cooperation_id": "copenhagen-radicalisation-standby-unit",
            "organisation_id": "copenhagen-police",
        },
    ),
    (
        "cooperation_member",
        {
            "cooperation_id": "national-exit-contact-point",
            "organisation_id": "nfc",
            "role": "supporter",
        },
    ),
    (
        "cooperation_member",
        {
            "cooperation_id": "dk-coordination-team",
            "organisation_id": "danish-centre-for-prevention-of-extremism",
            "role": "consulted",
        },
    ),
    ("practice_figure", {"practice_id": "viborg-parent-meetings", "value": 170, "per": "year"}),
    (
        "practice_figure",
        {
            "practice_id": "train-the-trainer",
            "key": "resource-person-course-length",
            "value": 2,
            "value_max": 5,
            "unit": "day",
        },
    ),
    ("practice_figure", {"practice_id": "train-the-trainer", "key": "institutions", "value": 98}),
    (
        "practice_figure",
        {
            "practice_id": "national-corps-of-mentors-and-parent-coaches",
            "key": "professionals-trained",
            "value": 100,
            "approximate": True,
        },
    ),
    (
        "practice_figure",
        {
            "practice_id": "national-corps-of-mentors-and-parent-coaches",
            "key": "municipalities",
            "value": 22,
        },
    ),
    (
        "practice_figure",
        {"practice_id": "psp-training-course", "key": "course-length", "value": 2, "unit": "day"},
    ),
    (
        "practice_figure",
        {
            "practice_id": "copenhagen-integration-agenda",
            "key": "duration",
            "value": 4,
            "unit": "year",
        },
    ),
    (
        "practice_organisation",
        {"practice_id": "cocora", "organisation_id": "mhtconsult", "role": "coordinator"},
    ),
    (
        "practice_organisation",
        {"practice_id": "cocora", "organisation_id": "european-commission", "role": "funder"},
    ),
    (
        "practice_organisation",
        {
            "practice_id": "national-corps-of-mentors-and-parent-coaches",
            "organisation_id": "danish-centre-for-prevention-of-extremism",
            "role": "lead",
        },
    ),
    (
        "practice_organisation",
        {
            "practice_id": "aarhus-prevention-of-radicalisation-and-discrimination",
            "organisation_id": "university-of-aarhus",
            "role": "external_partner",
        },
    ),
    (
        "practice_cooperation",
        {
            "practice_id": "viborg-parent-meetings",
            "cooperation_id": "ssp-viborg",
            "role": "delivered_by",
        },
    ),
    (
        "practice_cooperation",
        {"practice_id": "psp-training-course", "cooperation_id": "psp", "role": "target"},
    ),
    ("practice_city", {"practice_id": "dti", "city_id": "aarhus"}),
    ("practice_theme", {"practice_id": "viborg-hotline", "theme_id": "support-hotline"}),
    ("citation", {"entity_type": "city", "entity_id": "viborg", "source_id": "scn-viborg-profile"}),
    (
        "citation",
        {
            "entity_type": "theme",
            "entity_id": "community-resilience",
            "source_id": "scn-viborg-profile-fr",
        },
    ),
]
