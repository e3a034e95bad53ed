"""The HSDS 3.0 profile (Open Referral Human Services Data Specification) under /hsds.

ids.py: stable UUIDs; records.py: practices and organisations in HSDS's shape; schemas.py and
openapi.py: the profile's OpenAPI document (openapi/hsds.json); routes.py: the endpoints.
docs/HSDS.md has the full mapping.
"""
