"""Texts in several languages: which fields are translatable, how they are stored, and which
language a reader gets.

A translatable field holds a language map: ISO 639-1 code -> the text in that language
(`{"en": "Danish Prison and Probation Service", "da": "Kriminalforsorgen"}`), or, for a list of
texts (aims, tenets), code -> the list in that language. The database stores the map as JSON.

API v1 has one language per field: it shows the English text, or, where there is none, the text
in the first language of FALLBACK_ORDER the map has (the French theme labels). API v2 shows the
maps, whole or narrowed to the reader's language (`negotiate`, `narrow`).
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any

LANGUAGE = re.compile(r"^[a-z]{2}$")
DEFAULT_LANGUAGE = "en"
FALLBACK_ORDER = ("en", "fr", "da")
"""After the reader's own languages: English, then the languages the sources are written in."""

TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "source": ("title", "description"),
    "theme": ("label", "description"),
    "country": ("name", "national_overview", "strategy_lead"),
    "action_plan": ("title", "summary"),
    "legal_basis": ("citation", "act", "allows", "forbids"),
    "city": ("name", "background", "local_overview", "policy_basis", "motto"),
    "organisation": ("name", "description", "legal_form"),
    "cooperation": ("name", "purpose", "target_group", "description"),
    "practice": ("name", "summary", "funding"),
    "contact_point": ("label",),
}
"""Per entity: the single texts that may hold several languages."""

TEXT_LIST_FIELDS: dict[str, tuple[str, ...]] = {
    "action_plan": ("emphases",),
    "city": ("tenets", "international_exchange_partners"),
    "organisation": ("mission", "mission_keywords"),
    "practice": ("aims", "target_groups", "methods"),
}
"""Per entity: the lists of texts that may hold several languages (a list per language)."""


def translatable(entity: str) -> tuple[str, ...]:
    return TEXT_FIELDS.get(entity, ()) + TEXT_LIST_FIELDS.get(entity, ())


def ordered_languages(text: Mapping[str, Any]) -> list[str]:
    """The languages of `text`, in the fallback order, then alphabetically."""
    known = [code for code in FALLBACK_ORDER if code in text]
    return known + sorted(code for code in text if code not in FALLBACK_ORDER)


def primary(text: Mapping[str, Any] | None) -> tuple[str | None, Any]:
    """(language, value) that API v1 shows for `text`: English if there is English, else the
    first language in the fallback order. (None, None) for a missing or empty text."""
    if not text:
        return None, None
    for language in FALLBACK_ORDER:  # ordered_languages(text)[0], without making the list
        if language in text:
            return language, text[language]
    language = min(text)
    return language, text[language]


def narrow(text: Mapping[str, Any] | None, wanted: Iterable[str]) -> dict[str, Any] | None:
    """`text` narrowed to one language: the first of `wanted` it has, else the first of the
    fallback order, else its first language alphabetically. None stays None."""
    if text is None:
        return None
    for code in [*wanted, *ordered_languages(text)]:
        if code in text:
            return {code: text[code]}
    return {}


def reader_languages(lang: str | None, accept_language: str | None) -> list[str] | None:
    """The reader's languages, best first: `lang` (`*`: every one) wins over Accept-Language;
    None when neither names one (every text in every language)."""
    if lang is not None:
        return None if lang == "*" else [lang]
    if accept_language:
        return parse_accept_language(accept_language) or None
    return None


def parse_accept_language(header: str) -> list[str]:
    """Primary language subtags of an Accept-Language header (RFC 9110 section 12.5.4), best
    first; `*` and ranges with q=0 are dropped, malformed parts ignored."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        code = tag.strip().split("-")[0].lower()
        if not LANGUAGE.match(code):
            continue
        quality = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                continue
        if quality > 0:
            ranked.append((-quality, position, code))
    out: list[str] = []
    for _, _, code in sorted(ranked):
        if code not in out:
            out.append(code)
    return out
