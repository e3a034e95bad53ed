"""API v2: the same collections as v1, with texts in several languages (docs/API.md, "v2")."""
