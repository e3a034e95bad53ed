"""The API's major versions, their status, and how v1 announces its retirement.

v1 is frozen: it answers as it did (tests/golden/v1.json) and carries, on every response,
`Deprecation` (RFC 9745: since when), `Sunset` (RFC 8594: the date after which it may stop
answering) and a `Link` to the migration guide, served at MIGRATION_GUIDE_PATH.
"""

from datetime import UTC, datetime
from email.utils import format_datetime

V1_DEPRECATED_AT = datetime(2026, 11, 21, tzinfo=UTC)
V1_SUNSET_AT = datetime(2027, 11, 30, tzinfo=UTC)
MIGRATION_GUIDE_PATH = "/docs/MIGRATING-v1-v2.md"

V1_RETIREMENT = {
    "Deprecation": f"@{int(V1_DEPRECATED_AT.timestamp())}",
    "Sunset": format_datetime(V1_SUNSET_AT, usegmt=True),
    "Link": f'<{MIGRATION_GUIDE_PATH}>; rel="deprecation"; type="text/markdown"',
}
RETIREMENT_HEADERS = {
    "Deprecation": "RFC 9745: v1 is deprecated since this moment (@ Unix seconds)",
    "Sunset": "RFC 8594: v1 may stop answering after this date",
}

VERSIONS = [
    {
        "version": "v2",
        "status": "current",
        "base_url": "/v2",
        "contract": "/v2/openapi.json",
        "docs": "/v2/docs",
    },
    {
        "version": "v1",
        "status": "deprecated",
        "base_url": "/v1",
        "contract": "/v1/openapi.json",
        "docs": "/docs",
        "deprecated_since": V1_DEPRECATED_AT.date().isoformat(),
        "sunset": V1_SUNSET_AT.date().isoformat(),
        "migration_guide": MIGRATION_GUIDE_PATH,
    },
]
