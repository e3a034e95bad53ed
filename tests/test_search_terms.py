"""The stems the index holds stay the ones earlier releases indexed: app/search_terms.py stems
with the Snowball project's C build (PyStemmer), where it used its pure-Python build
(snowballstemmer) before. An index written by either must match the queries of the other, so
every word of the seeds and of the source texts, as written and as folded, must stem alike in
each language; a new release of either package that changed a stem would fail here first (the
indexes would then need rebuilding: revision 0007 shows how)."""

import importlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app import search_terms

ROOT = Path(__file__).resolve().parent.parent


def _words_of_the_data() -> set[str]:
    found: set[str] = set()
    texts = [*(ROOT / "seeds").glob("*.yaml"), *(ROOT / "sources").glob("*.txt")]
    for path in [*texts, ROOT / "tests" / "search_judgements.yaml"]:
        found.update(w.lower() for w in search_terms.words(path.read_text("utf-8")))
    return found | {search_terms.fold(w) for w in found}


WORDS = sorted(_words_of_the_data())


def test_the_data_has_words_in_every_language_to_compare() -> None:
    assert len(WORDS) > 1_500
    assert {
        "tilværelsesmestring",
        "tilvaerelsesmestring",
        "extrémisme",
        "extremisme",
        "radicalisation",
    } <= set(WORDS)


@pytest.mark.parametrize("language", sorted(search_terms.STEMMERS))
def test_the_stems_are_those_of_the_pure_python_snowball(language: str) -> None:
    # snowballstemmer.stemmer() hands out PyStemmer's C stemmer when it can import it: the
    # reference is the package's own pure-Python class of the algorithm.
    algorithm = search_terms.STEMMERS[language]
    module = importlib.import_module(f"snowballstemmer.{algorithm}_stemmer")
    reference = getattr(module, f"{algorithm.capitalize()}Stemmer")()
    differ = [
        (word, reference.stemWord(word), search_terms.stem(language, word))
        for word in WORDS
        if reference.stemWord(word) != search_terms.stem(language, word)
    ]
    assert not differ, differ[:20]


def test_threads_stemming_at_once_get_the_same_stems() -> None:
    words = [w for w in WORDS if len(w) > 6][:2_000]
    expected = [search_terms.stem.__wrapped__("en", w) for w in words]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda w: search_terms.stem.__wrapped__("en", w), words * 4))
    assert results == expected * 4
