"""How text becomes search terms: the same rules for what is indexed and what is asked, on both
engines (the engines only match the terms this module makes; they neither stem nor fold).

A word becomes several terms, so that the ways people write it meet:
- case and accents are folded (`Extrémisme` -> `extremisme`); the Danish letters have two
  foldings each, both indexed: ø -> o and oe, å -> a and aa, æ -> ae (a reader without a Danish
  keyboard types `Kobenhavn` or `Koebenhavn`, and both find `København`);
- US spellings become UK ones (`organization` -> `organisation`, `center` -> `centre`), from
  breame's word list and, for the words it does not list, the -ize/-yze endings;
- the word is stemmed by the Snowball stemmer of its text's language (`mentoring` -> `mentor`,
  `Kriminalforsorgen` -> `kriminalforsorg`), from its accented and its folded spelling (the French
  stemmer knows `sécurité` but not `securite`); the folded word itself is a term too.
A text without a language (a plain string: v1 fields, addresses) is English. A query word's
language is not known: it asks for the terms every supported language would give it, any of
which may match.

Typos: a query word of five letters or more (`TYPO_MIN_LENGTH`) that the index never held is
also asked as every indexed word one edit away (`edits`, checked against the vocabulary of
indexed words by the caller).
"""

import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import chain, repeat

import Stemmer  # type: ignore[import-not-found]
from breame.data.spelling_constants import AMERICAN_ENGLISH_SPELLINGS  # type: ignore[import-untyped]

DEFAULT_LANGUAGE = "en"
STEMMERS = {"en": "english", "fr": "french", "da": "danish"}
"""Languages stemmed by their own rules; a text in another language is only folded."""
TYPO_MIN_LENGTH = 5
VOCABULARY_MIN_LENGTH = TYPO_MIN_LENGTH - 1  # one deletion from a 5-letter word leaves 4
ALPHABET = "abcdefghijklmnopqrstuvwxyz"

WORD = re.compile(r"[^\W_]+")
"""A run of letters and digits (an apostrophe, hyphen or underscore separates words)."""

# Letters that Unicode does not decompose into a base letter and an accent.
_FOLD = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "ß": "ss", "œ": "oe", "đ": "d", "ł": "l"})
_FOLD_DANISH = str.maketrans({"ø": "oe", "å": "aa"})
_US_ENDING = re.compile(r"^(\w{3,}[^aeiou])[iy]z(e|es|ed|ing|ation|ations|er|ers)$")


@lru_cache(maxsize=200_000)
def fold(word: str) -> str:
    """`word` in lower case without accents (the first folding of Danish letters)."""
    lowered = word.lower().translate(_FOLD)
    if lowered.isascii():
        return lowered
    # Accents go; so does whatever else a decomposition brings that is not a letter or a digit
    # (the fraction slash of ¼), so a term is always letters and digits.
    return "".join(c for c in unicodedata.normalize("NFKD", lowered) if c.isalnum())


def foldings(word: str) -> set[str]:
    """Every folding of `word`: one, or two for a word with ø or å."""
    lowered = word.lower()
    out = {fold(lowered)}
    if "ø" in lowered or "å" in lowered:
        out.add(fold(lowered.translate(_FOLD_DANISH)))
    return out


@lru_cache(maxsize=200_000)
def british(word: str) -> str:
    """The UK spelling of a (folded) US-spelled word; other words as they are."""
    listed = AMERICAN_ENGLISH_SPELLINGS.get(word)
    if listed is not None:
        return str(listed)
    ending = _US_ENDING.match(word)
    if ending is not None:
        stem, suffix = ending.groups()
        return f"{stem}{word[len(stem)]}s{suffix}"
    return word


# The Snowball project's stemmers in C (PyStemmer): the same algorithms as its pure-Python
# build, which made the terms of indexes written before (tests/test_search_terms.py holds them
# equal), at a third (Danish) to a thirtieth (French) of the cost: a large mirror or load meets
# a new word in most records.
# A stemmer keeps state while it stems, so each thread has its own (the API stems queries in a
# thread pool).
_stemmers = threading.local()


@lru_cache(maxsize=400_000)
def stem(language: str, word: str) -> str:
    stemmer = getattr(_stemmers, language, None)
    if stemmer is None:
        stemmer = Stemmer.Stemmer(STEMMERS[language], 0)  # 0: no cache of its own (lru above)
        setattr(_stemmers, language, stemmer)
    return str(stemmer.stemWord(word))


def words(text: str) -> list[str]:
    return WORD.findall(text)


def vocabulary_form(word: str) -> str:
    """The indexed spelling of a word: folded, in UK spelling, not stemmed."""
    return british(fold(word))


@lru_cache(maxsize=200_000)
def word_terms(word: str, language: str | None) -> tuple[str, ...]:
    """The terms indexed for `word` in a text of `language`."""
    language = language if language in STEMMERS else None if language else DEFAULT_LANGUAGE
    lowered = word.lower()
    out: set[str] = set()
    for folded in foldings(lowered):
        spelled = british(folded)
        out.add(spelled)
        if language is not None:
            out.add(stem(language, spelled))
    if language is not None:
        out |= foldings(stem(language, british(lowered)))
    out.discard("")
    return tuple(sorted(out))


@lru_cache(maxsize=50_000)
def query_terms(word: str) -> frozenset[str]:
    """The terms that may stand for a query word in an index: those of any language's text."""
    lowered = word.lower()
    spelled = british(fold(lowered))
    out = {spelled}
    for language in STEMMERS:
        out.add(stem(language, spelled))
        out.add(fold(stem(language, british(lowered))))
    out.discard("")
    return frozenset(out)


def text_terms(parts: Iterable[tuple[str | None, str]], vocabulary: set[str] | None = None) -> str:
    """The terms of texts (language, text) as one space-separated string, each term once in the
    order met (the order does not change a match, and each term once keeps the index small).
    `vocabulary`, if given, receives the words of the texts that a typo may be corrected to, in
    the same pass."""
    seen: dict[str, None] = {}
    # Word by word through map and chain, not a loop: a mirror's preparers spent a tenth of
    # their time in this function, most of it in the loop's own steps.
    for language, text in parts:
        found = words(text)
        seen.update(dict.fromkeys(chain.from_iterable(map(word_terms, found, repeat(language)))))
        if vocabulary is not None:
            vocabulary.update(chain.from_iterable(map(_vocabulary_forms, found)))
    return " ".join(seen)


def name_key(names: Iterable[str]) -> str:
    """The names of a record as `| words of one name | words of another |` (folded, UK spelling,
    unstemmed): what a query is compared with to rank the record whose name it is first."""
    lines = [" ".join(vocabulary_form(w) for w in words(name)) for name in names]
    return "| " + " | ".join(line for line in lines if line) + " |"


@lru_cache(maxsize=200_000)
def _vocabulary_forms(word: str) -> tuple[str, ...]:
    """The forms of one word that a typo may be corrected to (made once per word: words repeat
    from text to text, and a large load or mirror meets each many times)."""
    out = []
    for folded in foldings(word):
        spelled = british(folded)
        if len(spelled) >= VOCABULARY_MIN_LENGTH and spelled.isascii() and spelled.isalpha():
            out.append(spelled)
    return tuple(out)


def correctable(word: str) -> str | None:
    """The vocabulary form of a query word that may be a typo, or None for a word too short or
    with letters other than a-z (numbers, other scripts) to correct."""
    spelled = vocabulary_form(word)
    if len(spelled) >= TYPO_MIN_LENGTH and spelled.isascii() and spelled.isalpha():
        return spelled
    return None


def edits(word: str) -> Iterator[str]:
    """Every string one edit from `word`: a letter deleted, inserted or replaced, or two
    neighbouring letters swapped (Damerau-Levenshtein distance 1)."""
    for i in range(len(word)):
        yield word[:i] + word[i + 1 :]
        for letter in ALPHABET:
            if letter != word[i]:
                yield word[:i] + letter + word[i + 1 :]
        if i + 1 < len(word) and word[i] != word[i + 1]:
            yield word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    for i in range(len(word) + 1):
        for letter in ALPHABET:
            yield word[:i] + letter + word[i:]
