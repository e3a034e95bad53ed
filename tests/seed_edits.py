"""Random but valid edits of a seeds folder, for the sync tests: creates, updates, deletes and
changed relationships, each leaving the seeds loadable."""

import random
from pathlib import Path
from typing import Any

from app.settings import PROJECT_ROOT
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


def some_quote(folder: Path, source_id: str) -> dict[str, str]:
    """A quote the loader will find in the source's text (its first line): test edits add
    relationships, and every relationship needs a quote (docs/DATA.md, "Evidence")."""
    sources = read_seed_file(folder, "sources.yaml")
    document = next(s["document"] for s in sources if s["id"] == source_id)
    text = (PROJECT_ROOT / document).read_text(encoding="utf-8")
    first_line = next(line.strip() for line in text.splitlines() if line.strip())
    return {"source": source_id, "quote": first_line[:40]}


def cited(record: dict[str, Any]) -> str:
    first = record["sources"][0]
    return str(first if isinstance(first, str) else first["source"])


def add_item(folder: Path, record: dict[str, Any], field: str, item: Any) -> None:
    """Append `item` to the list `field` of a seed record, with a quote for it."""
    items = record.setdefault(field, [])
    items.append(item)
    evidence = record.setdefault("evidence", {})
    evidence[f"{field}[{len(items) - 1}]"] = some_quote(folder, cited(record))


def remove_item(record: dict[str, Any], field: str, index: int) -> None:
    """Remove item `index` of the list `field`, and renumber the quotes of the items after it."""
    del record[field][index]
    old = record.get("evidence") or {}
    renumbered: dict[str, Any] = {}
    for key, quote in old.items():
        head, _, rest = key.partition("[")
        if head != field or not rest:
            renumbered[key] = quote
            continue
        position, _, tail = rest.partition("]")
        if int(position) == index:
            continue
        shifted = int(position) - (int(position) > index)
        renumbered[f"{field}[{shifted}]{tail}"] = quote
    record["evidence"] = renumbered


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
        existing = [i for i, link in enumerate(links) if link["organisation"] == organisation]
        if existing:
            remove_item(practice, "organisations", existing[0])
        else:
            link = {"organisation": organisation, "role": rng.choice(["partner", "funder"])}
            add_item(folder, practice, "organisations", link)
        cities = practice.setdefault("cities", [])
        city = rng.choice(data["city"])["id"]
        if city in cities:
            remove_item(practice, "cities", cities.index(city))
        else:
            add_item(folder, practice, "cities", city)
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
                "evidence": {"parent": some_quote(folder, "who-does-what-in-denmark")},
                "sources": ["who-does-what-in-denmark"],
            }
        else:
            record = {
                "id": new_id,
                "name": f"Test practice {step}",
                "kind": "training",
                "country": "dk",
                "organisations": [{"organisation": parent, "role": "lead"}],
                "evidence": {"organisations": some_quote(folder, "prova-projects-denmark")},
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
