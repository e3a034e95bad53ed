"""Examples for the contract, taken from the real data.

`python -m app.api.v1.examples` loads seeds/ into a scratch SQLite database, renders one record
of every entity as v1 returns it, and writes them to examples.json beside this file; the wire
schemas show them as their examples. A test fails when the file no longer matches the data.
"""

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app import migrate
from app.api.v1.records import Context, build, table
from app.db import create_engine
from app.loader import load
from app.settings import PROJECT_ROOT

EXAMPLES_FILE = Path(__file__).with_name("examples.json")
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


def render_examples(seeds: Path = PROJECT_ROOT / "seeds") -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/examples.sqlite3"
        migrate.upgrade(url)
        engine = create_engine(url)
        try:
            load(engine, seeds, now=EXAMPLE_TIME)
            with engine.connect() as connection:
                ctx = Context(connection, personal_contacts=False)
                examples = {}
                for entity, record_id in EXAMPLE_RECORDS.items():
                    t = table(entity)
                    rows = connection.execute(t.select().where(t.c.id == record_id)).mappings()
                    examples[entity] = build(ctx, entity, rows.all())[0]
        finally:
            engine.dispose()
    return json.loads(json.dumps(examples, default=lambda v: v.isoformat()))


def stored_examples() -> dict[str, Any]:
    if not EXAMPLES_FILE.exists():
        return {}
    return dict(json.loads(EXAMPLES_FILE.read_text(encoding="utf-8")))


if __name__ == "__main__":
    text = json.dumps(render_examples(), indent=2, ensure_ascii=False) + "\n"
    EXAMPLES_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {EXAMPLES_FILE}")
