"""Finding a quote in its source text, as a reader would: whitespace and typographic quotes do
not count, every other character does.

`locate` answers with character offsets in the text as stored in the repository (`sources/`),
so `text[start:end]` is the passage the quote stands for, exactly as printed.
"""

import re
from pathlib import Path

_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
    }
)
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> tuple[str, list[int]]:
    """The text with typographic quotes made plain and each run of whitespace one space, and for
    each character of the result the offset in `text` it comes from."""
    plain = text.translate(_QUOTES)
    out: list[str] = []
    origin: list[int] = []
    position = 0
    for match in _SPACE.finditer(plain):
        for offset in range(position, match.start()):
            out.append(plain[offset])
            origin.append(offset)
        out.append(" ")
        origin.append(match.start())
        position = match.end()
    for offset in range(position, len(plain)):
        out.append(plain[offset])
        origin.append(offset)
    return "".join(out), origin


def normalise_quote(quote: str) -> str:
    return normalise(quote)[0].strip()


class SourceText:
    """One source's text, normalised once for every quote looked up in it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.normal, self.origin = normalise(text)

    @classmethod
    def read(cls, path: Path) -> "SourceText":
        return cls(path.read_text(encoding="utf-8"))

    def locate(self, quote: str, section: str | None = None) -> tuple[int, int] | None:
        """Offsets (start, end) of the quote in the stored text, or None when it is not there.
        With a section, the first occurrence after the section's heading is preferred (a profile
        may repeat a paragraph under two headings)."""
        wanted = normalise_quote(quote)
        if not wanted:
            return None
        found = -1
        if section:
            heading = self.normal.find(normalise_quote(section))
            if heading >= 0:
                found = self.normal.find(wanted, heading)
        if found < 0:
            found = self.normal.find(wanted)
        if found < 0:
            return None
        return self.origin[found], self.origin[found + len(wanted) - 1] + 1
