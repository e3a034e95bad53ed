"""The HSDS profile's contract, generated from its routes and schemas like v1's.

`scn openapi --contract hsds` writes it to openapi/hsds.json; a test fails when the two differ.
"""

from functools import lru_cache
from typing import Any

from app.api.hsds.routes import DEFAULT_PER_PAGE, HSDS_VERSION, MAX_PER_PAGE, build_router
from app.api.hsds.schemas import SCHEMAS
from app.api.openapi import finish, generated

HSDS_PROFILE_VERSION = "1.0.0"
DESCRIPTION = f"""\
The Strong Cities Open Data API's practices and organisations in the shape of the Open Referral
Human Services Data Specification (HSDS) {HSDS_VERSION}, for directories and referral tools that
speak HSDS: practices are services, organisations are organizations, themes, practice kinds and
sources are taxonomy terms.

**Ids** are UUIDs derived from the v1 ids (uuid5; docs/HSDS.md says how to compute them), stable
across servers and reloads. **Pages** are numbered (`page`, `per_page` up to {MAX_PER_PAGE},
default {DEFAULT_PER_PAGE}) with HSDS's envelope (`total_items`, `total_pages`, `page_number`,
`size`, `first_page`, `last_page`, `empty`, `contents`) and a `Link` header to the next page.
Only facts the data holds are published; absent fields are left out, never null.

**Errors** are RFC 9457 `application/problem+json`; **caching** as in v1 (`ETag`, 304).
**Licence**: CC BY 4.0, with the attribution given by `/v1/meta`.
"""


@lru_cache
def hsds_openapi() -> dict[str, Any]:
    spec = generated(
        "Strong Cities Open Data API: HSDS 3.0 profile",
        HSDS_PROFILE_VERSION,
        DESCRIPTION,
        build_router().routes,
    )
    spec = finish(spec)
    spec["components"]["schemas"].update(SCHEMAS)
    spec["paths"]["/hsds/"]["get"]["responses"]["200"]["headers"].pop("Link")
    return spec
