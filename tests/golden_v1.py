"""Golden v1 exchanges: the bodies and headers API v1 gave before v2 existed, which it must keep.

The data is a frozen copy of the seeds as they were then (tests/fixtures/golden-v1-seeds/), so
the same data goes in and the same v1 must come out, whatever the schema underneath became.
Values that legitimately differ between two loads (load times, ETags and Last-Modified derived
from them, the schema revision) are masked, and so is a problem's `detail`, which RFC 9457 makes
prose for people (docs/API.md tells clients not to parse it); everything else is compared exactly.

Recording is deliberate and happens once per frozen version:
    .venv/bin/python -m tests.golden_v1 --record
Search results may improve within v1 (its shape and parameters may not change): the search
exchange alone was recorded again when revision 0007 changed how search matches and ranks.
"""

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

GOLDEN_FILE = Path(__file__).parent / "golden" / "v1.json"
GOLDEN_SEEDS = Path(__file__).parent / "fixtures" / "golden-v1-seeds"

TIME_KEYS = {"updated_at", "loaded_at", "changed_at"}
MASKED_KEYS = {"schema_revision", "content_digest"}
"""The schema revision names the schema; the content digest fingerprints the stored form of the
data (equal digests, equal data), which a schema change may re-encode without changing the data."""
COMPARED_HEADERS = ["content-type", "cache-control", "vary", "allow", "link", "retry-after"]
STRONG_ETAG = re.compile(r'^"[0-9a-f]{16,}(-gzip)?"$')

COLLECTIONS = [
    "sources",
    "themes",
    "countries",
    "action-plans",
    "legal-bases",
    "cities",
    "organisations",
    "cooperations",
    "practices",
    "contact-points",
]


def mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: (
                "<time>"
                if key in TIME_KEYS and value[key] is not None
                else f"<{key}>"
                if key in MASKED_KEYS
                else mask(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask(item) for item in value]
    return value


def body_of(response: httpx.Response) -> Any:
    content_type = response.headers.get("content-type", "")
    if not response.content:
        return None
    if "ndjson" in content_type:
        return [mask(json.loads(line)) for line in response.text.splitlines()]
    if "json" in content_type:
        body = mask(response.json())
        if response.status_code >= 400 and "detail" in body:
            body["detail"] = "<detail>"
        return body
    return response.text


def exchange(http: httpx.Client, request: dict[str, Any]) -> dict[str, Any]:
    response = http.request(
        request.get("method", "GET"), request["path"], headers=request.get("headers", {})
    )
    headers = {
        name: response.headers[name] for name in COMPARED_HEADERS if name in response.headers
    }
    return {
        "request": request,
        "status": response.status_code,
        "headers": headers,
        "etag": "etag" in response.headers,
        "body": body_of(response),
    }


def requests_to_record(http: httpx.Client) -> list[dict[str, Any]]:
    """What v1 clients do: meta, every collection and one record of each, filters, a cursor,
    search, the change feed, the export, and each kind of error."""
    requests: list[dict[str, Any]] = [{"path": "/v1/meta"}]
    for collection in COLLECTIONS:
        requests.append({"path": f"/v1/{collection}?limit=3"})
        first = http.get(f"/v1/{collection}?limit=1").json()["data"][0]
        requests.append({"path": first["links"]["self"]})
    next_page = http.get("/v1/organisations?parent=ministry-of-justice&limit=2").json()
    requests += [
        {"path": "/v1/organisations?parent=ministry-of-justice&limit=2"},
        {"path": next_page["links"]["next"]},
        {"path": "/v1/organisations?level=national&sector=public&limit=4"},
        {"path": "/v1/practices?city=viborg&limit=5"},
        {"path": "/v1/practices?q=radicalisation&limit=3"},
        {"path": "/v1/search?q=exit&limit=5"},
        {"path": "/v1/changes?since=0&limit=3"},
        {"path": "/v1/changes?since=120"},
        {"path": "/v1/export?type=city"},
        {"path": "/v1/cities", "method": "HEAD"},
        {"path": "/v1/cities", "headers": {"Accept-Encoding": "gzip"}},
        {"path": "/v1/organisations/no-such-organisation"},
        {"path": "/v1/organisations?limit=0"},
        {"path": "/v1/organisations?colour=blue"},
        {"path": "/v1/changes?since=999999"},
        {"path": "/v1/changes?since=abc"},
        {"path": "/v1/meta", "method": "POST"},
        {"path": "/v1/meta", "headers": {"Accept": "text/html"}},
        {"path": "/v1/nowhere"},
    ]
    return requests


def _served_exchanges(
    url: str, requests: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    from app.db import create_engine
    from app.loader import load
    from tests.live import client, live_server

    engine = create_engine(url)
    load(engine, GOLDEN_SEEDS)
    engine.dispose()
    with live_server(url) as base, client(base) as http:
        return [exchange(http, request) for request in requests or requests_to_record(http)]


def record() -> None:
    """Records on SQLite, then on PostgreSQL: where the engines differ (search ranking is
    engine-specific), the PostgreSQL body is kept beside the SQLite one."""
    from app import migrate
    from tests.conftest import PostgresServer

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/golden.sqlite3"
        migrate.upgrade(url)
        exchanges = _served_exchanges(url)
    server = PostgresServer()
    try:
        on_postgres = _served_exchanges(
            server.create(migrated=True), [e["request"] for e in exchanges]
        )
    finally:
        server.close()
    for sqlite_exchange, postgres_exchange in zip(exchanges, on_postgres, strict=True):
        if postgres_exchange != sqlite_exchange:
            sqlite_exchange["postgresql"] = postgres_exchange
    GOLDEN_FILE.parent.mkdir(exist_ok=True)
    GOLDEN_FILE.write_text(json.dumps(exchanges, indent=1, ensure_ascii=False) + "\n")
    print(f"recorded {len(exchanges)} exchanges into {GOLDEN_FILE}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit(__doc__)
    record()
