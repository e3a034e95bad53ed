"""bench/report.py's Targets table: PostgreSQL is compared with SQLite's figures of the same
`make bench` run only, and one engine's results alone give "not measured" rows, not errors.

Made-up results files: nothing here runs a benchmark or asserts a timing."""

import importlib.util
from types import ModuleType
from typing import Any

import pytest

from app.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def report() -> ModuleType:
    # bench/ is a folder of scripts, not a package: load report.py from its file.
    spec = importlib.util.spec_from_file_location(
        "bench_report", PROJECT_ROOT / "bench" / "report.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(scenario: str, mode: str, server: str, rps: float, p99: float = 5.0) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "mode": mode,
        "server": server,
        "rps": rps,
        "p50_ms": 2.0,
        "p99_ms": p99,
        "requests": int(rps * 2),
        "distinct_urls": 6_000 if mode == "cold" else 1,
        "load": [1.0, 1.0, 1.0],
    }


def results(engine: str, batch: str, runs: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {
        "name": f"{engine}-1w-20000",
        "engine": engine,
        "batch": batch,
        "records": 20_000,
        "workers": 1,
        "seed": 1,
        "runs": runs,
        "synth_s": 12.5,
        "database_bytes": 36_000_000,
        "peak_rss_mb": {"api": 150.0},
        "ready_s": {"api": [1.2, 1.4]},
        **more,
    }


SQLITE_RUNS = [
    run("list", "hot", "api", 2000),
    run("list", "hot", "datasette", 100),
    run("list", "cold", "api", 100),
    run("list", "cold", "datasette", 50),
    run("record", "hot", "api", 2000),
    run("record", "cold", "api", 300),
    run("record", "cold", "datasette", 100),
]
POSTGRESQL_RUNS = [
    run("list", "hot", "api", 1500, p99=60.0),
    run("list", "cold", "api", 50),
    run("record", "hot", "api", 800, p99=20.0),
]


def rows_of(table: list[str]) -> dict[str, list[str]]:
    """The Targets table's rows by the start of their name: [wanted, measured, verdict]."""
    cells = [line.strip("|").split(" | ") for line in table[2:]]
    return {c[0].strip(): [x.strip() for x in c[1:]] for c in cells}


def row(rows: dict[str, list[str]], start: str) -> list[str]:
    found = [cells for name, cells in rows.items() if name.startswith(start)]
    assert len(found) == 1, (start, list(rows))
    return found[0]


def test_postgresql_is_compared_with_sqlite_of_the_same_run(report: ModuleType) -> None:
    sqlite = results("sqlite", "b1", SQLITE_RUNS)
    pg = results("postgresql", "b1", POSTGRESQL_RUNS, synth_s=None)
    other_run = results("postgresql", "b0", POSTGRESQL_RUNS)
    every = {"sqlite-1w-20000": sqlite, "postgresql-1w-20000": pg, "old": other_run}
    assert report.partner(every, sqlite) is pg
    assert report.partner({"sqlite-1w-20000": sqlite, "old": other_run}, sqlite) is None

    rows = rows_of(report.targets(sqlite, pg))
    # The lowest hot ratio is the record's (800 / 2000), named; the highest hot p99 the list's.
    assert row(rows, "postgresql, hot: rate / SQLite's")[1:] == ["0.40", "**missed**"]
    assert "(record)" in next(n for n in rows if n.startswith("postgresql, hot: rate"))
    assert row(rows, "postgresql, hot: p99 ms")[1:] == ["60.00", "**missed**"]
    assert row(rows, "postgresql, filtered list, cold")[1:] == ["0.50", "**missed**"]
    assert row(rows, "one record, cold (6,000 distinct URLs): x Datasette")[1:] == ["3.00", "met"]
    assert row(rows, "postgresql: server memory")[1:] == ["150.00", "met"]
    # The size limit and the synth time are for a million records; the run had 20,000.
    assert row(rows, "sqlite: database size")[1] == "-"
    assert "20,000 records" in row(rows, "sqlite: database size")[2]
    assert row(rows, "postgresql: `scn synth")[2].startswith("not measured (the database was kept")


def test_one_engine_alone_gives_not_measured_rows(report: ModuleType) -> None:
    sqlite_only = rows_of(report.targets(results("sqlite", "b1", SQLITE_RUNS), None))
    assert row(sqlite_only, "filtered list, hot: x Datasette")[1:] == ["20.00", "met"]
    postgresql_rows = [
        cells for name, cells in sqlite_only.items() if name.startswith("postgresql")
    ]
    assert len(postgresql_rows) == 8
    assert all(
        cells[1:] == ["-", "not measured (no PostgreSQL results)"] for cells in postgresql_rows[3:]
    )
    assert all(cells[2].startswith("not measured") for cells in postgresql_rows)

    pg_only = rows_of(report.targets(None, results("postgresql", "b1", POSTGRESQL_RUNS)))
    assert row(pg_only, "filtered list, hot: x Datasette")[2] == "not measured (no SQLite results)"
    assert row(pg_only, "postgresql, hot: p99 ms")[1:] == ["60.00", "**missed**"]
    assert row(pg_only, "postgresql, filtered list, cold")[2].startswith("not measured (no SQLite")
    assert row(pg_only, "postgresql: database size")[1:] == ["0.04", "reported"]


def test_cold_runs_that_came_round_again_are_named(report: ModuleType) -> None:
    repeated = run("record", "cold", "api", 300)
    repeated["requests"] = 9_000  # more than its 6,000 distinct URLs
    flagged = report.repeated_cold_runs(results("sqlite", "b1", [repeated, *SQLITE_RUNS[:2]]))
    assert flagged == ["record (api: 9,000 requests, 6,000 URLs)"]
