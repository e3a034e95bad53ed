"""Lists as CSV: every record of the filtered list, one row each, flattened by the rules of
docs/API.md, which a spreadsheet user can undo (tested here by undoing them)."""

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.api.collections import COLLECTION_LIST
from app.db import create_engine
from app.loader import load
from tests.helpers import edit_record
from tests.live import client, live_server

SEPARATOR = " | "
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def api(loaded_url: str) -> Iterator[httpx.Client]:
    with live_server(loaded_url) as base, client(base) as http:
        yield http


def _rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8")  # strictly UTF-8
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _all_json(api: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    url: str | None = path
    query: dict[str, Any] | None = {"limit": 7, **params}
    while url:
        page = api.get(url, params=query).json()
        records += page["data"]
        url, query = page["links"]["next"], None
    return records


# --- undoing the documented flattening ----------------------------------------------------


def _ref(value: dict[str, Any]) -> str:
    return f"{value['id']}:{value['role']}" if "role" in value else str(value["id"])


def _compact(value: Any) -> Any:
    if isinstance(value, dict) and {"id", "type", "href"} <= set(value):
        return _ref(value)
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None}
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and {"id", "type", "href"} <= set(value):
        return _ref(value)
    if isinstance(value, dict):
        return json.dumps(_compact(value), ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, list):
        return SEPARATOR.join(_text(v) for v in value)
    return str(value)


def _expected_cell(value: Any) -> str:
    """A JSON value as the rules say its cell must read."""
    text = _text(value)
    if text.startswith(FORMULA_START) and not _is_number(text):
        text = "'" + text
    return text


def _is_number(text: str) -> bool:
    """A number as JSON writes it (a phone number "+45..." is text, and is guarded)."""
    try:
        return isinstance(json.loads(text), int | float)
    except ValueError:
        return False


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Objects that are not references become dotted columns; `links` is left out."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if not prefix and key == "links":
            continue
        if isinstance(value, dict) and not {"id", "type", "href"} <= set(value):
            out |= _flatten(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def _check_row(record: dict[str, Any], row: dict[str, str]) -> None:
    flat = _flatten(record)
    for column, cell in row.items():
        if column in flat:
            assert cell == _expected_cell(flat[column]), (record["id"], column)
        else:
            # A column of an object that is null in this record (period.start.date, ...).
            assert cell == "", (record["id"], column)
    for column in set(flat) - set(row):
        # A null object: its sub-field columns are empty (checked above).
        assert flat[column] is None, (record["id"], column)
        assert any(c.startswith(f"{column}.") for c in row), (record["id"], column)


@pytest.mark.parametrize("collection", COLLECTION_LIST, ids=lambda c: c.path)
def test_every_list_as_csv_has_every_record(api: httpx.Client, collection: Any) -> None:
    path = f"/v1/{collection.path}"
    response = api.get(path, params={"format": "csv"})
    rows = _rows(response)
    records = _all_json(api, path)
    assert [r["id"] for r in rows] == [r["id"] for r in records]
    header = next(csv.reader(io.StringIO(response.text)))
    assert header[:2] == ["id", "version"] and "links" not in header
    for record, row in zip(records, rows, strict=True):
        _check_row(record, row)
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{collection.path}.csv"'
    )


def test_the_rules_round_trip_on_rich_records(api: httpx.Client) -> None:
    rows = {r["id"]: r for r in _rows(api.get("/v1/practices?format=csv"))}
    cocora = rows["cocora"]
    assert cocora["organisations"].split(SEPARATOR)[0].count(":") == 1
    assert all(
        item.split(":")[1] in {"lead", "coordinator", "partner", "external_partner", "funder"}
        for item in cocora["organisations"].split(SEPARATOR)
    )
    figures = [json.loads(f) for f in rows["viborg-parent-meetings"]["figures"].split(SEPARATOR)]
    assert all("key" in f and "value" in f for f in figures)
    cities = {r["id"]: r for r in _rows(api.get("/v1/cities", headers={"Accept": "text/csv"}))}
    assert cities["viborg"]["scn_member_since.date"] == "2016-12-01"
    assert cities["viborg"]["scn_member_since.precision"] == "month"
    assert cities["viborg"]["population"] == "96500"
    assert cities["viborg"]["scn_member"] == "true"
    leaders = [json.loads(x) for x in cities["viborg"]["leaders"].split(SEPARATOR)]
    assert {"role": "Mayor", "person_name": "Ulrik Wilbek"}.items() <= leaders[0].items()


def test_filters_apply_and_cover_the_whole_list(api: httpx.Client) -> None:
    viborg = _rows(api.get("/v1/practices", params={"city": "viborg", "format": "csv"}))
    assert [r["id"] for r in viborg] == [
        r["id"] for r in _all_json(api, "/v1/practices", city="viborg")
    ]
    assert all("viborg" in r["cities"].split(SEPARATOR) for r in viborg)
    # Not a page: more rows than the JSON default page when the list is longer.
    organisations = _rows(api.get("/v1/organisations?format=csv"))
    assert len(organisations) == len(_all_json(api, "/v1/organisations")) > 7
    # An explicit limit caps the rows; a cursor resumes after its position.
    assert len(_rows(api.get("/v1/organisations?format=csv&limit=3"))) == 3
    page = api.get("/v1/organisations?limit=5").json()
    rest = _rows(
        api.get("/v1/organisations", params={"format": "csv", "cursor": page["next_cursor"]})
    )
    assert [r["id"] for r in rest] == [r["id"] for r in organisations[5:]]
    # The JSON page's next link, as CSV: the next page (its limit is explicit).
    following = _rows(api.get(f"{page['links']['next']}&format=csv"))
    assert [r["id"] for r in following] == [r["id"] for r in organisations[5:10]]
    assert _rows(api.get("/v1/organisations?format=csv&q=zzzzzz")) == []


def test_negotiation(api: httpx.Client) -> None:
    json_page = api.get("/v1/cities")
    assert json_page.headers["content-type"] == "application/json"
    for headers, params, expected in [
        ({"Accept": "text/csv"}, {}, "text/csv; charset=utf-8"),
        ({"Accept": "text/*"}, {}, "text/csv; charset=utf-8"),
        ({"Accept": "application/json;q=0.5, text/csv"}, {}, "text/csv; charset=utf-8"),
        ({"Accept": "application/json, text/csv;q=0.5"}, {}, "application/json"),
        ({"Accept": "*/*"}, {}, "application/json"),
        ({}, {"format": "json"}, "application/json"),
        ({"Accept": "text/csv"}, {"format": "json"}, "application/json"),
        ({"Accept": "application/json"}, {"format": "csv"}, "text/csv; charset=utf-8"),
    ]:
        response = api.get("/v1/cities", headers=headers, params=params)
        assert response.status_code == 200
        assert response.headers["content-type"] == expected, (headers, params)
        assert "accept" in response.headers["vary"].lower()
    for headers, query in [
        ({"Accept": "application/xml"}, ""),
        ({"Accept": "text/html"}, ""),
        ({}, "?format=xml"),
        ({}, "?format=csv&format=json"),
    ]:
        refused = api.get(f"/v1/cities{query}", headers=headers)
        assert refused.status_code in (400, 406), (headers, query)
        assert refused.headers["content-type"] == "application/problem+json"
    assert api.get("/v1/cities/viborg", headers={"Accept": "text/csv"}).status_code == 406
    assert api.get("/v1/cities/viborg?format=csv").status_code == 400


def test_each_representation_has_its_own_etag(api: httpx.Client) -> None:
    as_json = api.get("/v1/cities")
    as_csv = api.get("/v1/cities?format=csv")
    assert as_json.headers["etag"] != as_csv.headers["etag"]
    assert api.get("/v1/cities?format=csv").headers["etag"] == as_csv.headers["etag"]
    assert (
        api.get("/v1/cities?format=csv&scn_member=true").headers["etag"] != as_csv.headers["etag"]
    )
    again = api.get("/v1/cities?format=csv", headers={"If-None-Match": as_csv.headers["etag"]})
    assert again.status_code == 304
    with_json_etag = api.get(
        "/v1/cities?format=csv", headers={"If-None-Match": as_json.headers["etag"]}
    )
    assert with_json_etag.status_code == 200
    plain = api.get("/v1/cities?format=csv", headers={"Accept-Encoding": "identity"})
    zipped = api.get("/v1/cities?format=csv", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers.get("content-encoding") == "gzip"
    assert "content-encoding" not in plain.headers
    assert zipped.headers["etag"] != plain.headers["etag"]
    assert _rows(zipped) == _rows(plain)


AWKWARD = 'Comma, "quote" and\nnew line; æøå \u2013 \u201ccurly\u201d'


@pytest.fixture
def awkward_api(seeds: Path, database_url: str) -> Iterator[httpx.Client]:
    def edit(record: dict[str, Any]) -> None:
        record["name"] = AWKWARD
        record["aims"] = ['=HYPERLINK("http://evil")', "+1+2", "@SUM(A1)", "-cmd", "plain"]
        record["summary"] = "\tstarts with a tab"

    edit_record(seeds, "practices.yaml", "cocora", edit)
    engine = create_engine(database_url)
    load(engine, seeds)
    engine.dispose()
    with live_server(database_url) as base, client(base) as http:
        yield http


def test_quoting_and_the_formula_guard(awkward_api: httpx.Client) -> None:
    rows = {r["id"]: r for r in _rows(awkward_api.get("/v1/practices?format=csv"))}
    cocora = rows["cocora"]
    assert cocora["name"] == AWKWARD  # commas, quotes and new lines survive quoting
    # A cell that a spreadsheet would run as a formula starts with an apostrophe instead.
    assert cocora["aims"].startswith("'=HYPERLINK")
    assert cocora["aims"][1:].split(SEPARATOR) == [
        '=HYPERLINK("http://evil")',
        "+1+2",
        "@SUM(A1)",
        "-cmd",
        "plain",
    ]
    assert cocora["summary"] == "'\tstarts with a tab"
    record = awkward_api.get("/v1/practices/cocora").json()
    _check_row(record, cocora)
    # Numbers are not text: a negative number would keep its sign (none is negative today).
    assert all(not r["cost.amount"].startswith("'") for r in rows.values())
