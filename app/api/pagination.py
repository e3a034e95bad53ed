"""Opaque keyset cursors: the last id of a page, bound to the query that made it.

A cursor is base64url(JSON) plus an HMAC, so a tampered cursor, or one taken from another
collection or another set of filters, is refused with 400 instead of silently giving wrong pages.
"""

import base64
import binascii
import hashlib
import hmac
import re
from typing import Any

import orjson

from app.api.problems import ProblemError

MAX_CURSOR_LENGTH = 512
CURSOR = re.compile(r"(?P<data>[A-Za-z0-9_-]+)\.(?P<signature>[0-9a-f]{24})")
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+\.[0-9a-f]{24}$"
"""The form of every cursor issued, as the contracts declare it (`CURSOR`, anchored)."""
CURSOR_DESCRIPTION = (
    "Opaque cursor of the next page, from `next_cursor` or the `Link` header: "
    "base64url data, a dot and a 24-hex-digit signature. It is bound to the filters of the page "
    "that gave it; one this API did not issue (even of the right form), or one taken to other "
    "filters, is refused with 400."
)


def fingerprint(scope: str, filters: dict[str, Any]) -> str:
    canonical = orjson.dumps([scope, filters], option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(canonical).hexdigest()[:16]


def _sign(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()[:24]


def encode(secret: str, query: str, after: Any) -> str:
    data = base64.urlsafe_b64encode(orjson.dumps({"q": query, "a": after})).rstrip(b"=")
    return f"{data.decode()}.{_sign(secret, data)}"


def _not_issued() -> ProblemError:
    return ProblemError(400, "The cursor is not one this API issued.", parameter="cursor")


def decode(secret: str, query: str, cursor: str) -> Any:
    """The position after which the next page starts; 400 for any cursor we did not issue."""
    match = CURSOR.fullmatch(cursor) if len(cursor) <= MAX_CURSOR_LENGTH else None
    if match is None or not hmac.compare_digest(
        _sign(secret, match["data"].encode()), match["signature"]
    ):
        raise _not_issued()
    data = match["data"]
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise _not_issued() from None
    if not isinstance(payload, dict) or "a" not in payload:
        raise _not_issued()
    if payload.get("q") != query:
        raise ProblemError(
            400,
            "The cursor belongs to another collection or other filters; "
            "keep the parameters of the page that gave it.",
            parameter="cursor",
        )
    return payload["a"]


def position(value: Any, *types: Any) -> Any:
    """Check a decoded position's shape (one value, or a list of values of `types`)."""
    values = value if len(types) > 1 else [value]
    if (
        not isinstance(values, list)
        or len(values) != len(types)
        or not all(
            isinstance(v, t) and not isinstance(v, bool) for v, t in zip(values, types, strict=True)
        )
    ):
        raise _not_issued()
    return value
