"""Examples for the contract, taken from the real data.

`python -m app.api.examples` loads seeds/ into a scratch SQLite database, renders one record
of every entity as v1 and as v2 return it, and writes them to examples.json (v1) and
examples-v2.json beside this file; the wire schemas show them as their examples. A test fails
when a file no longer matches the data.
"""

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.api.records import V1, V2, Context, build, table
from app.db import create_engine
from app.settings import PROJECT_ROOT

EXAMPLES_FILES = {
    V1: Path(__file__).with_name("examples.json"),
    V2: Path(__file__).with_name("examples-v2.json"),
}
EXAMPLE_TIME = datetime(2026, 11, 21, tzinfo=UTC)
EXAMPLE_RECORDS = {
    "source": "who-does-what-in-denmark",
    "theme": "support-hotline",
    "country": "dk",
    "action_plan": "dk-action-plan-2016",
    "legal_basis": "dk-administration-justice-act-s115",
    "city": "viborg",
    "organisation": "pet",
    "cooperation": "ssp",
    "practice": "cocora",
    "contact_point": "pet-email",
}


def render_examples(api: str = V1, seeds: Path = PROJECT_ROOT / "seeds") -> dict[str, Any]:
    # Imported here: the API reads the stored examples only, and should not load the loader.
    from app import migrate
    from app.loader import load

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/examples.sqlite3"
        migrate.upgrade(url)
        engine = create_engine(url)
        try:
            load(engine, seeds, now=EXAMPLE_TIME)
            with engine.connect() as connection:
                ctx = Context(connection, personal_contacts=False, api=api)
                examples = {}
                for entity, record_id in EXAMPLE_RECORDS.items():
                    t = table(entity)
                    rows = connection.execute(t.select().where(t.c.id == record_id)).mappings()
                    examples[entity] = build(ctx, entity, rows.all())[0]
        finally:
            engine.dispose()
    return json.loads(json.dumps(examples, default=lambda v: v.isoformat()))


def stored_examples(api: str = V1) -> dict[str, Any]:
    path = EXAMPLES_FILES[api]
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")))


if __name__ == "__main__":
    for api, path in EXAMPLES_FILES.items():
        text = json.dumps(render_examples(api), indent=2, ensure_ascii=False) + "\n"
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
