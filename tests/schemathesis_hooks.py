"""Schemathesis hooks for the contract tests (loaded through SCHEMATHESIS_HOOKS).

A cursor is an opaque token the server issues and signs; clients never make one up, and no
schema can say "signed by the server". So before each request an invented cursor that fits the
schema is removed (the server answers it with 400, which tests/test_api_v1.py checks). Cursors
that break the schema (too long) are kept, so negative cases still exercise that limit.
Schemathesis re-validates the case after this hook, so its checks judge the request as sent.
"""

from typing import Any

import schemathesis

from app.api import pagination


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    query = case.query
    if not query or "cursor" not in query:
        return
    cursor = query["cursor"]
    if isinstance(cursor, str) and len(cursor) <= pagination.MAX_CURSOR_LENGTH:
        case.query = {k: v for k, v in query.items() if k != "cursor"}
