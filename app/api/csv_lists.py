"""Lists as CSV (`?format=csv` or `Accept: text/csv`), for spreadsheets.

A CSV answer holds every record that matches the filters (not one page), streamed from one read
transaction in batches, so memory stays bounded however long the list. The flattening rules
(docs/API.md, "CSV") are applied here and nowhere else:

- one column per field of the record, in the record's order; a field holding an object (a
  partial date, a period, an address) becomes one column per sub-field, named with dots
  (`period.start.date`);
- a reference becomes the record's id; a reference with a role becomes `id:role`;
- a list becomes its items joined with LIST_SEPARATOR; an item that is an object (a leader, a
  figure, a cooperation's member) becomes compact JSON, with references as ids and nulls left out;
- `sources` are the source ids; `links` are left out (each is the collection filtered by this id);
- null is an empty cell, booleans are `true`/`false`, times are ISO 8601 as in JSON;
- a text cell starting with = + - @ or a tab or carriage return gets a leading apostrophe, so a
  spreadsheet shows it as text instead of running it as a formula (numbers are left alone).
"""

import csv
import io
import re
import types
import typing
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

import orjson
from pydantic import BaseModel

from app.api.v1.schemas import Ref

CSV = "text/csv"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
LIST_SEPARATOR = " | "
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
SKIPPED = {"links"}


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model an annotation holds (`Period | None` -> Period), if it holds one."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        models = [m for a in typing.get_args(annotation) if (m := _model_in(a))]
        return models[0] if len(models) == 1 else None
    return None


def columns(model: type[BaseModel], prefix: str = "") -> list[str]:
    """The CSV header of a record schema: dotted paths, objects expanded, references kept."""
    out = []
    for name, info in model.model_fields.items():
        if not prefix and name in SKIPPED:
            continue
        nested = _model_in(info.annotation)
        if nested is not None and not issubclass(nested, Ref):
            out += columns(nested, f"{prefix}{name}.")
        else:
            out.append(f"{prefix}{name}")
    return out


def _is_ref(value: Any) -> bool:
    return isinstance(value, dict) and "href" in value and "id" in value and "type" in value


def _ref_text(value: dict[str, Any]) -> str:
    return f"{value['id']}:{value['role']}" if "role" in value else str(value["id"])


def _compact(value: Any) -> Any:
    """An object inside a list, for its JSON cell: references as ids, nulls left out."""
    if _is_ref(value):
        return _ref_text(value)
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if _is_ref(value):
        return _ref_text(value)
    if isinstance(value, dict | list):
        return orjson.dumps(_compact(value)).decode()
    return str(value)


def _one_language(value: Any) -> Any:
    """A v2 text narrowed to one language (`?lang=fr`) is written as its text (a list: joined);
    a map of several languages stays a JSON cell."""
    if isinstance(value, dict) and len(value) == 1:
        ((code, text),) = value.items()
        if isinstance(code, str) and len(code) == 2 and code.islower():
            return text
    return value


def cell(value: Any) -> str:
    value = _one_language(value)
    if isinstance(value, list):
        text = LIST_SEPARATOR.join(_scalar(item) for item in value)
    else:
        text = _scalar(value)
    if text.startswith(FORMULA_START) and not NUMBER.fullmatch(text):
        return "'" + text
    return text


def row(record: dict[str, Any], header: Sequence[str]) -> list[str]:
    out = []
    for path in header:
        value: Any = record
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        out.append(cell(value))
    return out


def lines(header: Sequence[str], batches: Iterator[list[dict[str, Any]]]) -> Iterator[bytes]:
    """The header line, then one line per record, encoded as UTF-8 (RFC 4180 quoting)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> bytes:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text.encode("utf-8", errors="replace")

    writer.writerow(header)
    yield flush()
    for batch in batches:
        writer.writerows(row(record, header) for record in batch)
        yield flush()


def filename(collection_path: str) -> str:
    return f"{collection_path}.csv"
