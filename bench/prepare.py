"""Benchmark preparation, run with the project's Python (it uses app/): the synthetic database
and the URL sets of every scenario, for each server.

    .venv/bin/python bench/prepare.py --database URL --records N --seed S --out DIR

Makes the database if it is missing or holds another data set (`scn synth`; `--fresh` makes it
again in any case, to time it), then writes DIR/manifest.json (with the seconds `scn synth` took
when it ran, and the database's size) and one URL file per scenario, mode and server (a path per
line, and for the 304 scenario the ETag after a tab).
"""

import argparse
import json
import random
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import sqlalchemy as sa

from app.api import pagination
from app.db import create_engine, is_sqlite
from app.synth import PLACE_END, PLACE_START, TOPICS, dataset_version

ROOT = Path(__file__).resolve().parent.parent
SCN = str(ROOT / ".venv" / "bin" / "scn")
COLD_URLS = 10_000
PAGE = 50
CHANGES_PAGE = 100
# Datasette searches a table through the FTS5 index whose content it is (revision 0006): the
# entries (with entity_type), not the index itself. Since revision 0007 the index holds the API's
# folded and stemmed terms, which Datasette matches against the words as typed.
SEARCH_ENTRIES = "search_index_entry"
DATASETTE_FAST = {"_shape": "objects", "_nocount": "1", "_nofacet": "1", "_nosuggest": "1"}
SEARCH_TYPES = [None, "practice", "organisation", "city", "cooperation", "source"]


def sqlite_files(url: str) -> list[Path]:
    """The database file and its companions (the write-ahead log and its index)."""
    path = Path(sa.make_url(url).database or "")
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def ensure_database(url: str, records: int, seed: int, fresh: bool) -> float | None:
    """The synthetic data set of (records, seed) in `url`, made only when it is not there (or
    when `fresh`). The seconds `scn synth` took, or None when the database was kept."""
    wanted = dataset_version(records, seed)
    if is_sqlite(url):
        if fresh:
            for path in sqlite_files(url):
                path.unlink(missing_ok=True)
    else:
        admin = sa.create_engine(
            sa.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
        )
        name = sa.make_url(url).database
        with admin.connect() as connection:
            if fresh:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            exists = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if not exists:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
    subprocess.run([SCN, "db", "upgrade", "--database", url], check=True, stdout=subprocess.DEVNULL)
    engine = create_engine(url)
    with engine.connect() as connection:
        current = connection.execute(sa.text("SELECT dataset_version FROM dataset_state")).scalar()
    engine.dispose()
    if current == wanted:
        print(f"prepare: database holds {wanted} already", flush=True)
        return None
    # The benchmark's own database: replacing another synthetic data set in it is expected.
    command = [SCN, "synth", "--records", str(records), "--seed", str(seed), "--database", url]
    started = time.monotonic()
    subprocess.run([*command, "--force"] if current else command, check=True)
    return time.monotonic() - started


def database_bytes(url: str) -> int:
    """What the database takes on disk: the SQLite file with its write-ahead log, or PostgreSQL's
    pg_database_size (tables, indexes, TOAST; not the server's shared WAL)."""
    if is_sqlite(url):
        return sum(p.stat().st_size for p in sqlite_files(url) if p.exists())
    engine = create_engine(url)
    with engine.connect() as connection:
        size = connection.execute(sa.text("SELECT pg_database_size(current_database())")).scalar()
    engine.dispose()
    return int(size or 0)


def _datasette(db: str, table: str, **params: str) -> str:
    return f"/{db}/{table}.json?" + urlencode({**params, "_size": str(PAGE), **DATASETTE_FAST})


def _write(out: Path, name: str, lines: list[str]) -> str:
    path = out / f"{name}.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--records", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--datasette-db", default="bench")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fresh", action="store_true", help="make the database again, timed")
    args = parser.parse_args()
    synth_seconds = ensure_database(args.database, args.records, args.seed, args.fresh)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    ds = args.datasette_db
    engine = create_engine(args.database)
    with engine.connect() as c:
        org_ids = list(c.execute(sa.text("SELECT id FROM organisation ORDER BY id")).scalars())
        by_country: dict[str, list[str]] = {}
        for entity in ("organisation", "practice"):
            rows = c.execute(
                sa.text(f"SELECT country_id, id FROM {entity} ORDER BY country_id, id")
            )
            for country, rid in rows:
                by_country.setdefault(f"{entity}:{country}", []).append(rid)
        last_seq, history_start = c.execute(
            sa.text("SELECT last_seq, history_start FROM dataset_state")
        ).one()
    engine.dispose()

    def secret_cursor(collection: str, applied: dict[str, Any], after: str) -> str:
        scope = pagination.fingerprint(collection, applied)
        return pagination.encode(args.secret, scope, after)

    # (a) filtered list: every page of organisations (then practices) by country.
    list_api, list_ds = [], []
    for key in sorted(by_country):
        entity, country = key.split(":")
        collection = "organisations" if entity == "organisation" else "practices"
        ids = by_country[key]
        for start in range(0, len(ids), PAGE):
            params = {"country": country}
            ds_params = {"country_id": country}
            if start:
                after = ids[start - 1]
                params["cursor"] = secret_cursor(collection, {"country": [country]}, after)
                ds_params["_next"] = after
            list_api.append(f"/v1/{collection}?{urlencode(params)}")
            list_ds.append(_datasette(ds, entity, **ds_params))
    pairs = list(zip(list_api, list_ds, strict=True))
    hot_list = pairs[0]
    rng.shuffle(pairs)
    pairs = pairs[:COLD_URLS]

    # (b) one record by id.
    chosen = rng.sample(org_ids, min(COLD_URLS, len(org_ids)))
    record_api = [f"/v1/organisations/{quote(i, safe='')}" for i in chosen]
    record_ds = [f"/{ds}/organisation/{quote(i, safe='')}.json?_shape=objects" for i in chosen]

    # (c) a deep page (the cursor past 90% of the list) and (c0) a first page, unfiltered.
    def pages(low: float, high: float) -> tuple[list[str], list[str]]:
        first, last = int(len(org_ids) * low), max(int(len(org_ids) * high) - PAGE, 1)
        positions = list(range(max(first, 1), max(last, first + 2)))
        rng.shuffle(positions)
        api, dsu = [], []
        for p in positions[:COLD_URLS]:
            after = org_ids[p - 1]
            cursor = secret_cursor("organisations", {}, after)
            api.append("/v1/organisations?" + urlencode({"cursor": cursor}))
            dsu.append(_datasette(ds, "organisation", _next=after))
        return api, dsu

    deep_api, deep_ds = pages(0.9, 1.0)
    shallow_api, shallow_ds = pages(0.0, 0.1)

    # (e) search: two words (a place and a topic word), with or without a type.
    words = sorted({w for t in TOPICS for w in t.split() if len(w) > 3})
    places = [a + b for a in PLACE_START for b in PLACE_END]
    combos = [(p, w, t) for p in places for w in words for t in SEARCH_TYPES]
    rng.shuffle(combos)
    search_api, search_ds = [], []
    for place, word, kind in combos[:COLD_URLS]:
        params = {"q": f"{place} {word}"}
        ds_params = {"_search": f"{place} {word}"}
        if kind:
            params["type"] = kind
            ds_params["entity_type"] = kind
        search_api.append("/v1/search?" + urlencode(params))
        search_ds.append(_datasette(ds, SEARCH_ENTRIES, **ds_params))

    # (f) changes after a recent sequence number (within the last 10,000).
    low = max(history_start, last_seq - COLD_URLS)
    sinces = list(range(low, last_seq))
    rng.shuffle(sinces)
    hot_since = max(low, last_seq - CHANGES_PAGE)

    def changes_api(s: int) -> str:
        return f"/v1/changes?since={s}&limit={CHANGES_PAGE}"

    def changes_ds(s: int) -> str:
        return f"/{ds}/change.json?" + urlencode(
            {"seq__gt": str(s), "_sort": "seq", "_size": str(CHANGES_PAGE), **DATASETTE_FAST}
        )

    scenarios = {
        "list": {
            "api": ([hot_list[0]], [a for a, _ in pairs]),
            "datasette": ([hot_list[1]], [d for _, d in pairs]),
        },
        "record": {
            "api": (record_api[:1], record_api),
            "datasette": (record_ds[:1], record_ds),
        },
        "first_page": {
            "api": (["/v1/organisations"], shallow_api),
            "datasette": ([_datasette(ds, "organisation")], shallow_ds),
        },
        "deep_page": {"api": (deep_api[:1], deep_api), "datasette": (deep_ds[:1], deep_ds)},
        "search": {
            "api": (["/v1/search?q=hotline"], search_api),
            "datasette": ([_datasette(ds, SEARCH_ENTRIES, _search="hotline")], search_ds),
        },
        "changes": {
            "api": ([changes_api(hot_since)], [changes_api(s) for s in sinces]),
            "datasette": ([changes_ds(hot_since)], [changes_ds(s) for s in sinces]),
        },
    }
    manifest: dict[str, Any] = {
        "database": args.database,
        "records": args.records,
        "seed": args.seed,
        "last_seq": last_seq,
        "history_start": history_start,
        "organisations": len(org_ids),
        "synth_s": None if synth_seconds is None else round(synth_seconds, 1),
        "database_bytes": database_bytes(args.database),
        "scenarios": {},
    }
    for name, servers in scenarios.items():
        manifest["scenarios"][name] = {}
        for server, (hot, cold) in servers.items():
            manifest["scenarios"][name][server] = {
                "hot": _write(out, f"{name}-hot-{server}", hot),
                "cold": _write(out, f"{name}-cold-{server}", cold),
                "cold_urls": len(cold),
                "example": hot[0],
            }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    print(f"prepare: URL sets in {out}", flush=True)


if __name__ == "__main__":
    main()
