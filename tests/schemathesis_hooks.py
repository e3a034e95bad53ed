"""Schemathesis hooks for the contract tests (loaded through SCHEMATHESIS_HOOKS).

Some rules cannot be written in an OpenAPI schema:
- a URL is at most 4096 bytes (414 past it): valid generated queries are cut to fit, parameter
  by parameter (invalid ones are left whole: a 414 rejects them as a 400 would, see
  tests/schemathesis.toml);
- a cursor is an opaque token the server issues and signs; clients never make one up;
- a change feed's `since` is a change number the server has reached; a larger one is refused
  with 400 because the client is confused (the protocol says so).
Before each request an invented cursor that fits the schema is removed, and a `since` past the
server's last change is lowered to it. Values that break the schema (too long, negative, not a
number) are kept, so negative cases still exercise them; tests/test_api_v1.py and test_sync.py
check that invented cursors and future `since` values are refused with 400. Schemathesis
re-validates each case after this hook, so its checks judge the request as sent.
"""

from typing import Any
from urllib.parse import urlencode

import httpx
import schemathesis

from app.api import pagination
from app.api.main import MAX_URL_LENGTH


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    query = case.query
    if not query:
        return
    cursor = query.get("cursor")
    if isinstance(cursor, str) and len(cursor) <= pagination.MAX_CURSOR_LENGTH:
        query = {k: v for k, v in query.items() if k != "cursor"}
    since = query.get("since")
    if case.path.endswith("/changes") and isinstance(since, int) and since >= 0:
        base = case.operation.base_url or ""
        meta = case.path.removesuffix("/changes") + "/meta"
        last_seq = httpx.get(f"{base.rstrip('/')}{meta}", timeout=10).json()["last_seq"]
        query = {**query, "since": min(since, last_seq)}
    negative = case.meta is not None and case.meta.is_negative_at("query")
    case.query = query if negative else _within_url_limit(case.path, query)


def _within_url_limit(path: str, query: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, value in query.items():
        candidate = {**kept, name: value}
        if len(path) + len(urlencode(candidate, doseq=True)) + 1 > MAX_URL_LENGTH - 64:
            break
        kept = candidate
    return kept
