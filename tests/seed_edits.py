"""Random but valid edits of a seeds folder, for the sync tests: creates, updates, deletes and
changed relationships, each leaving the seeds loadable."""

import random
from pathlib import Path
from typing import Any

from tests.helpers import read_seed_file, write_seed_file

FILES = {
    "organisation": "organisations.yaml",
    "practice": "practices.yaml",
    "contact_point": "contact_points.yaml",
    "city": "cities.yaml",
    "theme": "themes.yaml",
}


def _all(folder: Path) -> dict[str, list[dict[str, Any]]]:
    return {entity: read_seed_file(folder, name) for entity, name in FILES.items()}


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return {s for v in value.values() for s in _strings(v)}
    if isinstance(value, list):
        return {s for v in value for s in _strings(v)}
    return set()


def _referenced(folder: Path) -> set[str]:
    """Every string used as a value anywhere except as a record's own id."""
    names = ["countries.yaml", "cooperations.yaml", "action_plans.yaml", *FILES.values()]
    found: set[str] = set()
    for name in names:
        for record in read_seed_file(folder, name):
            found |= _strings({k: v for k, v in record.items() if k != "id"})
    return found


def random_edit(rng: random.Random, folder: Path, step: int) -> str:
    """Apply one random edit to `folder`; return what it did."""
    data = _all(folder)
    kind = rng.choice(
        ["update", "update", "relationship", "relationship", "create", "create", "delete"]
    )
    if kind == "update":
        entity = rng.choice(["practice", "city", "theme", "organisation"])
        record = rng.choice(data[entity])
        field = {"practice": "summary", "city": "background", "theme": "description"}.get(
            entity, "description"
        )
        record[field] = f"{record.get(field) or ''} [revision {step}]".strip()
    elif kind == "relationship":
        practice = rng.choice(data["practice"])
        organisation = rng.choice(data["organisation"])["id"]
        links = practice.setdefault("organisations", [])
        existing = [link for link in links if link["organisation"] == organisation]
        if existing:
            links.remove(existing[0])
        else:
            links.append({"organisation": organisation, "role": rng.choice(["partner", "funder"])})
        cities = practice.setdefault("cities", [])
        city = rng.choice(data["city"])["id"]
        if city in cities:
            cities.remove(city)
        else:
            cities.append(city)
        record = practice
        entity = "practice"
    elif kind == "create":
        entity = rng.choice(["organisation", "practice"])
        parent = rng.choice(data["organisation"])["id"]
        new_id = f"sync-test-{entity}-{step}"
        if entity == "organisation":
            record = {
                "id": new_id,
                "name": f"Test organisation {step}",
                "kind": "unit",
                "country": "dk",
                "parent": parent,
                "sources": ["who-does-what-in-denmark"],
            }
        else:
            record = {
                "id": new_id,
                "name": f"Test practice {step}",
                "kind": "training",
                "country": "dk",
                "organisations": [{"organisation": parent, "role": "lead"}],
                "sources": ["prova-projects-denmark"],
            }
        data[entity].append(record)
    else:
        referenced = _referenced(folder)
        candidates = [
            (entity, record)
            for entity in ("contact_point", "practice", "organisation")
            for record in data[entity]
            if record["id"] not in referenced
        ]
        entity, record = rng.choice(candidates)
        data[entity] = [r for r in data[entity] if r["id"] != record["id"]]
    write_seed_file(folder, FILES[entity], data[entity])
    return f"{kind} {entity} {record['id']}"
