"""Evidence: every structured value in seeds/ carries a verbatim quote, and every quote is in
the text of the source it names. Read here independently of the loader (plain YAML, plain string
search), so a slip in app/evidence.py cannot hide a missing quote."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.evidence import SourceText
from app.seed_reader import SeedError, read_seeds
from app.seed_schema import EVIDENCED, SEED_FILES
from app.settings import PROJECT_ROOT
from tests.conftest import SEEDS
from tests.helpers import edit_record

TYPOGRAPHIC = str.maketrans("\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f", "''''\"\"\"\"")


def plain(text: str) -> str:
    """Whitespace runs as one space, typographic quotes as straight ones."""
    return re.sub(r"\s+", " ", text.translate(TYPOGRAPHIC)).strip()


def seed_texts() -> dict[str, str]:
    sources = yaml.safe_load((SEEDS / "sources.yaml").read_text(encoding="utf-8"))
    return {
        s["id"]: plain((PROJECT_ROOT / s["document"]).read_text(encoding="utf-8")) for s in sources
    }


def every_quote() -> list[tuple[str, str, str, str, str]]:
    """(file, record id, field path, source id, quote) for every quote in seeds/."""
    found = []
    for name, _ in SEED_FILES.values():
        for record in yaml.safe_load((SEEDS / name).read_text(encoding="utf-8")) or []:
            cited = [s if isinstance(s, str) else s["source"] for s in record.get("sources", [])]
            for path, given in (record.get("evidence") or {}).items():
                for item in given if isinstance(given, list) else [given]:
                    quote: dict[str, Any] = item if isinstance(item, dict) else {"quote": item}
                    source = quote.get("source") or (cited[0] if len(cited) == 1 else "?")
                    found.append((name, record["id"], path, source, quote["quote"]))
    return found


def test_every_quote_is_in_its_source_text() -> None:
    texts = seed_texts()
    quotes = every_quote()
    assert len(quotes) > 200
    missing = [
        f"{name}: {record_id}: {path}: {quote!r} not in {source}"
        for name, record_id, path, source, quote in quotes
        if plain(quote) not in texts.get(source, "")
    ]
    assert not missing, "\n".join(missing)


def test_every_structured_value_has_a_quote() -> None:
    dataset = yaml.safe_load((SEEDS / "dataset.yaml").read_text(encoding="utf-8"))
    assert dataset.get("evidence", "required") == "required"
    seeds = read_seeds(SEEDS)  # refuses a value with no quote; this asserts it does not
    quoted = {(e, r) for e, by_id in seeds.evidence.items() for r, q in by_id.items() if q}
    for entity, fields in EVIDENCED.items():
        for record_id, record in seeds.records[entity].items():
            values = [getattr(record, f.split(".")[0].removesuffix("[]")) for f in fields]
            if any(v not in (None, [], {}) for v in values):
                assert (entity, record_id) in quoted, f"{entity} {record_id} has no quote"


def test_offsets_point_at_the_quoted_passage() -> None:
    seeds = read_seeds(SEEDS)
    documents = {i: s.document for i, s in seeds.records["source"].items()}  # type: ignore[attr-defined]
    checked = 0
    for by_id in seeds.evidence.values():
        for quotes in by_id.values():
            for q in quotes:
                text = (PROJECT_ROOT / documents[q.source]).read_text(encoding="utf-8")
                assert plain(text[q.start : q.end]) == plain(q.quote)
                checked += 1
    assert checked > 200


def _refusal(seeds: Path) -> list[str]:
    with pytest.raises(SeedError) as refused:
        read_seeds(seeds)
    return refused.value.problems


def test_a_value_without_a_quote_is_refused_with_file_record_and_field(seeds: Path) -> None:
    edit_record(seeds, "cities.yaml", "viborg", lambda r: r["evidence"].pop("population"))
    problems = _refusal(seeds)
    assert problems == [
        f"{seeds / 'cities.yaml'}: record 'viborg': field 'population': no quote from a source "
        "states this value (add it under evidence: population: {source: ..., quote: ...})"
    ]


def test_a_quote_not_in_its_source_is_refused(seeds: Path) -> None:
    def misquote(record: dict[str, Any]) -> None:
        record["evidence"]["population"]["quote"] = "Population 97,500"

    edit_record(seeds, "cities.yaml", "viborg", misquote)
    (problem,) = _refusal(seeds)
    assert problem.startswith(f"{seeds / 'cities.yaml'}: record 'viborg': field ")
    assert (
        "'evidence.population': quote not found in sources/scn-viborg-profile-fr.fr.txt" in problem
    )
    assert "'Population 97,500'" in problem


def test_a_quote_from_a_source_the_record_does_not_cite_is_refused(seeds: Path) -> None:
    def other_source(record: dict[str, Any]) -> None:
        record["evidence"]["population"]["source"] = "prova-projects-denmark"

    edit_record(seeds, "cities.yaml", "viborg", other_source)
    (problem,) = _refusal(seeds)
    assert "field 'evidence.population': source 'prova-projects-denmark' is not among" in problem


def test_evidence_for_a_field_the_record_does_not_have_is_refused(seeds: Path) -> None:
    edit_record(
        seeds,
        "cities.yaml",
        "viborg",
        lambda r: r["evidence"].update(
            {"leaders[3]": {"source": "scn-viborg-profile-fr", "quote": "Mayor Ulrik Wilbek"}}
        ),
    )
    (problem,) = _refusal(seeds)
    assert "field 'evidence.leaders[3]': the record has no value at 'leaders[3]'" in problem


def test_typography_and_line_breaks_do_not_matter_other_characters_do(seeds: Path) -> None:
    def retype(record: dict[str, Any]) -> None:
        # The text prints a typographic apostrophe (U+2019) and one line per paragraph.
        record["evidence"]["focus_ages"]["quote"] = (
            "Fundamental for Viborg\u2019s prevention\n   strategy is its focus on children"
        )

    edit_record(seeds, "cities.yaml", "viborg", retype)
    read_seeds(seeds)

    def change_a_letter(record: dict[str, Any]) -> None:
        record["evidence"]["focus_ages"]["quote"] = "its focus on children (0-19 years)"

    edit_record(seeds, "cities.yaml", "viborg", change_a_letter)
    assert "quote not found" in _refusal(seeds)[0]


def test_a_section_chooses_between_two_identical_passages() -> None:
    """The Copenhagen profile prints the same paragraph under BACKGROUND and LOCAL OVERVIEW."""
    text = SourceText.read(PROJECT_ROOT / "sources" / "scn-copenhagen-profile.en.txt")
    quote = "Launched in 2009, the VINK programme is Copenhagen\u2019s flagship initiative"
    first = text.locate(quote)
    local = text.locate(quote, "LOCAL OVERVIEW")
    assert first is not None and local is not None
    assert text.text.index("BACKGROUND") < first[0] < text.text.index("NATIONAL OVERVIEW")
    assert local[0] > text.text.index("LOCAL OVERVIEW")
    assert text.text[local[0] : local[1]] == quote
    assert text.locate("Launched in 2010") is None
