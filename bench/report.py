"""docs/PERFORMANCE.md's figures and charts from bench/results/*.json (run by bench/run.py).

    bench/.venv/bin/python bench/report.py [--records N]

Rewrites only the part of docs/PERFORMANCE.md between the `generated` markers, and the charts in
docs/img/; the prose around them is written by hand. The Targets table is of the one-worker run
of N records (1,000,000): SQLite's results, and PostgreSQL's from the same invocation of
bench/run.py (the same `batch`), compared with them. Either engine alone gives the rows it can.
"""

import argparse
import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DOC = ROOT / "docs" / "PERFORMANCE.md"
IMG = ROOT / "docs" / "img"
BEGIN, END = "<!-- generated:begin (bench/report.py) -->", "<!-- generated:end -->"
TARGET_RECORDS = 1_000_000
# Issue 12: the database may grow to twice what it took before that change: "about 1.4 GB for a
# million records on SQLite" (docs/PERFORMANCE.md, How to reproduce, measured before issue 12).
SIZE_BEFORE_ISSUE_12 = 1.4e9
SYNTH_LIMIT_S = 300
ENGINE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
SCENARIOS = {
    "list": "(a) filtered list page of 50",
    "record": "(b) one record by id",
    "first_page": "(c) first page (unfiltered), for comparison",
    "deep_page": "(c) deep page (cursor past 90%)",
    "not_modified": "(d) 304 revalidation",
    "search": "(e) search",
    "changes": "(f) changes after a recent number",
}
NONE = "-"
SERVERS = ["api", "datasette", "nginx", "cdn"]


def load_results() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text())
        for path in sorted((BENCH / "results").glob("*.json"))
    }


def run_of(results: dict[str, Any], scenario: str, mode: str, server: str) -> dict[str, Any] | None:
    return next(
        (
            r
            for r in results["runs"]
            if r["scenario"] == scenario and r["mode"] == mode and r["server"] == server
        ),
        None,
    )


def figure(run: dict[str, Any] | None, key: str) -> float | None:
    """One figure of a run (rps, p50_ms, ...), or None when there was no such run."""
    return run[key] if run else None


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return NONE
    return f"{value:,.{digits}f}"


def ratio(a: float | None, b: float | None) -> str:
    return NONE if not a or not b else f"{a / b:.1f}x"


def main_table(results: dict[str, Any]) -> list[str]:
    servers = [s for s in SERVERS if any(r["server"] == s for r in results["runs"])]
    head = ["scenario", "mode"]
    for s in servers:
        head += (
            [f"{s} rps", f"{s} p50 ms", f"{s} p99 ms"]
            if s in ("api", "datasette")
            else [f"{s} rps"]
        )
    if "datasette" in servers:
        head.append("api / datasette")
    if "nginx" in servers:
        head.append("api / nginx")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for scenario, title in SCENARIOS.items():
        for mode in ("hot", "cold"):
            runs = {s: run_of(results, scenario, mode, s) for s in servers}
            if not any(runs.values()):
                continue
            row = [title, mode]
            for s in servers:
                r = runs[s]
                if s in ("api", "datasette"):
                    row += [
                        fmt(figure(r, "rps")),
                        fmt(figure(r, "p50_ms"), 1),
                        fmt(figure(r, "p99_ms"), 1),
                    ]
                else:
                    row.append(fmt(figure(r, "rps")))
            api = runs.get("api")
            if "datasette" in servers:
                ds = runs.get("datasette")
                row.append(ratio(figure(api, "rps"), figure(ds, "rps")))
            if "nginx" in servers:
                ng = runs.get("nginx")
                row.append(NONE if not (api and ng) else f"{100 * api['rps'] / ng['rps']:.0f}%")
            lines.append("| " + " | ".join(row) + " |")
    return lines


def export_table(results: dict[str, Any]) -> list[str]:
    lines = [
        "| server | export | records | MB | seconds | records/s | peak RSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in results.get("export", []):
        mode = {"cold": "first (rendered)", "hot": "again (kept copy)"}.get(e.get("mode", ""), "")
        if e["server"] == "datasette":
            mode = "CSV stream of each table"
        if e["server"] == "nginx":
            mode = "static file"
        lines.append(
            f"| {e['server']} | {mode} | {e['records']:,} | {e['bytes'] / 1e6:,.0f} | "
            f"{e['seconds']} | {e['records_per_s']:,} | {e['peak_rss_mb']} |"
        )
    return lines


def history_table(results: dict[str, Any]) -> list[str]:
    history = results.get("history", [])
    if not history:
        return []
    lines = [
        "| history kept | mode | rps (median of runs) | p50 ms | p99 ms |",
        "|---|---|---|---|---|",
    ]
    for label in ("full", "10k"):
        for mode in ("hot", "cold"):
            runs = [h for h in history if h["history"] == label and h["mode"] == mode]
            if runs:
                lines.append(
                    f"| {'all changes' if label == 'full' else 'last 10,000'} | {mode} | "
                    f"{fmt(statistics.median(r['rps'] for r in runs))} | "
                    f"{fmt(statistics.median(r['p50_ms'] for r in runs), 1)} | "
                    f"{fmt(statistics.median(r['p99_ms'] for r in runs), 1)} |"
                )
    return lines


def history_ratio(results: dict[str, Any], mode: str) -> float | None:
    history = results.get("history", [])
    full = [h["p50_ms"] for h in history if h["history"] == "full" and h["mode"] == mode]
    short = [h["p50_ms"] for h in history if h["history"] == "10k" and h["mode"] == mode]
    if not full or not short:
        return None
    return statistics.median(full) / statistics.median(short)


def partner(all_results: dict[str, dict[str, Any]], main: dict[str, Any]) -> dict[str, Any] | None:
    """The other engine's results of the same invocation of bench/run.py, same size and workers."""
    if "batch" not in main:
        return None  # made before the engines shared a run
    return next(
        (
            r
            for r in all_results.values()
            if r.get("batch") == main["batch"]
            and r["engine"] != main["engine"]
            and (r["records"], r["workers"], r["seed"])
            == (main["records"], main["workers"], main["seed"])
        ),
        None,
    )


@dataclass
class Target:
    """One row of the Targets table: what is wanted, what was measured, and whether it is met."""

    name: str
    wanted: str
    value: float | None
    limit: float | None  # None: reported, no limit
    higher: bool = True  # whether a higher value is better
    shown: str | None = None  # the measured value as written, when not a plain number
    why_not: str = ""  # why it was not measured, when it was not

    def row(self) -> str:
        if self.value is None:
            verdict = "not measured" + (f" ({self.why_not})" if self.why_not else "")
            return f"| {self.name} | {self.wanted} | {NONE} | {verdict} |"
        if self.limit is None:
            verdict = "reported"
        elif (self.value >= self.limit) if self.higher else (self.value <= self.limit):
            verdict = "met"
        else:
            verdict = "**missed**"
        measured = self.shown or (
            f"{self.value:,.0f}" if self.value >= 1000 else f"{self.value:.2f}"
        )
        return f"| {self.name} | {self.wanted} | {measured} | {verdict} |"


def over(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def rps_of(results: dict[str, Any] | None, scenario: str, mode: str, server: str) -> float | None:
    r = results and run_of(results, scenario, mode, server)
    return r["rps"] if r else None


def cold_urls(results: dict[str, Any] | None, scenario: str) -> str:
    """How many distinct URLs the API's cold run of a scenario had, when the results say."""
    r = results and run_of(results, scenario, "cold", "api")
    return f" ({r['distinct_urls']:,} distinct URLs)" if r and "distinct_urls" in r else ""


def versus_datasette(
    sqlite: dict[str, Any] | None, scenario: str, mode: str, title: str, limit: float
) -> Target:
    return Target(
        f"{title}, {mode}{cold_urls(sqlite, scenario) if mode == 'cold' else ''}: x Datasette",
        f"≥ {limit:g}x",
        over(rps_of(sqlite, scenario, mode, "api"), rps_of(sqlite, scenario, mode, "datasette")),
        limit,
        why_not=missing("sqlite", sqlite),
    )


def synth_target(engine: str, results: dict[str, Any] | None) -> Target:
    name = f"{engine}: `scn synth --records {TARGET_RECORDS:,}` (s)"
    wanted = f"≤ {SYNTH_LIMIT_S}"
    if results is None:
        return Target(name, wanted, None, SYNTH_LIMIT_S, False, why_not=missing(engine, None))
    if results.get("synth_s") is None:
        why = "the database was kept from an earlier run; BENCH_FRESH=1 makes and times it"
        return Target(name, wanted, None, SYNTH_LIMIT_S, False, why_not=why)
    if results["records"] != TARGET_RECORDS:
        why = f"made with {results['records']:,} records"
        return Target(name, wanted, None, SYNTH_LIMIT_S, False, why_not=why)
    return Target(name, wanted, results["synth_s"], SYNTH_LIMIT_S, False)


def size_target(engine: str, results: dict[str, Any] | None) -> Target:
    what = "file and its WAL" if engine == "sqlite" else "pg_database_size"
    name = f"{engine}: database size, GB ({what})"
    size = results.get("database_bytes") if results else None
    shown = None if size is None else f"{size / 1e9:.2f}"
    if engine != "sqlite":
        # Issue 12 gives its limit against SQLite's size before it; PostgreSQL's is reported.
        return Target(name, "reported", size, None, shown=shown, why_not=missing(engine, results))
    before = SIZE_BEFORE_ISSUE_12 / 1e9
    wanted = f"≤ {2 * before:.1f} (2x the {before:.1f} before issue 12)"
    if results is not None and size is not None and results["records"] != TARGET_RECORDS:
        why = f"{shown} GB at {results['records']:,} records; the limit is for {TARGET_RECORDS:,}"
        return Target(name, wanted, None, None, why_not=why)
    return Target(
        name,
        wanted,
        size,
        2 * SIZE_BEFORE_ISSUE_12,
        False,
        shown=shown,
        why_not=missing(engine, results),
    )


def missing(engine: str, results: dict[str, Any] | None) -> str:
    """Why a figure is missing: no results of the engine, or results from before it was kept."""
    return f"no {ENGINE_NAMES[engine]} results" if results is None else "not in these results"


def server_targets(engine: str, results: dict[str, Any] | None) -> list[Target]:
    """What applies to the API server on either engine: memory, start, first export."""
    rss = (results or {}).get("peak_rss_mb", {}).get("api")
    ready = (results or {}).get("ready_s", {}).get("api", [])
    first_export = next(
        (
            e["records_per_s"]
            for e in (results or {}).get("export", [])
            if e["server"] == "api" and e.get("mode") == "cold"
        ),
        None,
    )
    why = missing(engine, results)
    return [
        Target(
            f"{engine}: first export after a load, records/s",
            "≥ 100,000",
            first_export,
            100_000,
            why_not=why,
        ),
        Target(f"{engine}: server memory (peak RSS, MB)", "≤ 250", rss, 250, False, why_not=why),
        Target(
            f"{engine}: ready after start (s, slowest of the starts)",
            "≤ 2",
            max(ready) if ready else None,
            2,
            False,
            why_not=why,
        ),
    ]


def postgresql_targets(sqlite: dict[str, Any] | None, pg: dict[str, Any] | None) -> list[Target]:
    """PostgreSQL against SQLite's figures of the same run (issue 12)."""
    why = "" if pg else "no PostgreSQL results from the same run"
    if pg and not sqlite:
        why = "no SQLite results from the same run"
    hot = [
        (scenario, over(rps_of(pg, scenario, "hot", "api"), rps_of(sqlite, scenario, "hot", "api")))
        for scenario in SCENARIOS
    ]
    ratios = [(scenario, r) for scenario, r in hot if r is not None]
    slowest = min(ratios, key=lambda x: x[1]) if ratios else None
    p99s = [
        (scenario, r["p99_ms"])
        for scenario in SCENARIOS
        if pg and (r := run_of(pg, scenario, "hot", "api"))
    ]
    worst_p99 = max(p99s, key=lambda x: x[1]) if p99s else None
    return [
        Target(
            "postgresql, hot: rate / SQLite's, lowest of the scenarios"
            + (f" ({slowest[0]})" if slowest else ""),
            "≥ 0.5",
            slowest[1] if slowest else None,
            0.5,
            why_not=why,
        ),
        Target(
            "postgresql, hot: p99 ms, highest of the scenarios"
            + (f" ({worst_p99[0]})" if worst_p99 else ""),
            "≤ 50",
            worst_p99[1] if worst_p99 else None,
            50,
            False,
            why_not="" if pg else "no PostgreSQL results",
        ),
        Target(
            f"postgresql, filtered list, cold{cold_urls(pg, 'list')}: rate / SQLite's",
            "≥ 0.7",
            over(rps_of(pg, "list", "cold", "api"), rps_of(sqlite, "list", "cold", "api")),
            0.7,
            why_not=why,
        ),
    ]


def targets(sqlite: dict[str, Any] | None, pg: dict[str, Any] | None) -> list[str]:
    """The Targets table: SQLite's rows from its results, PostgreSQL's from the same run's."""

    def p50(scenario: str, mode: str) -> float | None:
        r = sqlite and run_of(sqlite, scenario, mode, "api")
        return r["p50_ms"] if r else None

    rows = [
        versus_datasette(sqlite, "list", "hot", "filtered list", 10),
        versus_datasette(sqlite, "list", "cold", "filtered list", 3),
        versus_datasette(sqlite, "record", "hot", "one record", 5),
        versus_datasette(sqlite, "record", "cold", "one record", 3),
        versus_datasette(sqlite, "search", "cold", "search", 1.5),
        versus_datasette(sqlite, "changes", "cold", "change-feed page", 2),
        Target(
            "filtered list, hot: share of nginx (same bytes)",
            "≥ 0.10",
            over(rps_of(sqlite, "list", "hot", "api"), rps_of(sqlite, "list", "hot", "nginx")),
            0.10,
            why_not=missing("sqlite", sqlite),
        ),
    ]
    for mode in ("hot", "cold"):
        rows.append(
            Target(
                f"deep page p50 / first page p50, {mode}",
                "≤ 1.2",
                over(p50("deep_page", mode), p50("first_page", mode)),
                1.2,
                False,
                why_not=missing("sqlite", sqlite),
            )
        )
    for mode in ("hot", "cold"):
        rows.append(
            Target(
                f"changes p50, all history / last 10,000, {mode}",
                "≤ 1.2",
                history_ratio(sqlite, mode) if sqlite else None,
                1.2,
                False,
                why_not=missing("sqlite", sqlite),
            )
        )
    again = next(
        (
            e["records_per_s"]
            for e in (sqlite or {}).get("export", [])
            if e["server"] == "api" and e.get("mode") == "hot"
        ),
        None,
    )
    rows += server_targets("sqlite", sqlite)
    rows.append(
        Target(
            "sqlite: export again (kept copy), records/s",
            "≥ 50,000",
            again,
            50_000,
            why_not=missing("sqlite", sqlite),
        )
    )
    rows += [size_target("sqlite", sqlite), synth_target("sqlite", sqlite)]
    rows += postgresql_targets(sqlite, pg)
    rows += server_targets("postgresql", pg)
    rows += [size_target("postgresql", pg), synth_target("postgresql", pg)]
    lines = ["| target | wanted | measured | |", "|---|---|---|---|"]
    return lines + [t.row() for t in rows]


def engines_table(sqlite: dict[str, Any], pg: dict[str, Any]) -> list[str]:
    """The API on PostgreSQL beside the API on SQLite, scenario by scenario, from one run."""
    lines = [
        "| scenario | mode | sqlite rps | sqlite p50 ms | sqlite p99 ms | postgresql rps "
        "| postgresql p50 ms | postgresql p99 ms | postgresql / sqlite |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario, title in SCENARIOS.items():
        for mode in ("hot", "cold"):
            a, b = run_of(sqlite, scenario, mode, "api"), run_of(pg, scenario, mode, "api")
            if not (a or b):
                continue
            row = [title, mode]
            for r in (a, b):
                row += [
                    fmt(figure(r, "rps")),
                    fmt(figure(r, "p50_ms"), 1),
                    fmt(figure(r, "p99_ms"), 1),
                ]
            row.append(ratio(figure(b, "rps"), figure(a, "rps")))
            lines.append("| " + " | ".join(row) + " |")
    return lines


def made_line(results: dict[str, Any]) -> str:
    """The database's size, and how long `scn synth` took if this run made it."""
    if "database_bytes" not in results:
        return ""
    synth = results.get("synth_s")
    return f"Database: {results['database_bytes'] / 1e6:,.0f} MB; " + (
        f"made by this run with `scn synth` in {synth:,.0f} s."
        if synth is not None
        else "kept from an earlier run (not timed)."
    )


def repeated_cold_runs(results: dict[str, Any]) -> list[str]:
    """Cold runs that made more requests than they had distinct URLs: the URLs came round again,
    and the repeats may have been answered from a cache, so the figure is not all cold."""
    return [
        f"{r['scenario']} ({r['server']}: {r['requests']:,} requests, {r['distinct_urls']:,} URLs)"
        for r in results["runs"]
        if r["mode"] == "cold" and r.get("distinct_urls") and r["requests"] > r["distinct_urls"]
    ]


def url_table(results: dict[str, Any]) -> list[str]:
    """What each scenario asks each server (the hot URL; cold runs use up to 10,000 like it)."""
    lines = [
        "| scenario | server | hot URL | cold: distinct URLs like it |",
        "|---|---|---|---|",
    ]
    for scenario, title in SCENARIOS.items():
        for server, url in results.get("examples", {}).get(scenario, {}).items():
            path, _, etag = url.partition("\t")
            shown = f"`{path}`" + (f" with `If-None-Match: {etag}`" if etag else "")
            cold = run_of(results, scenario, "cold", server)
            # Results from before run.py counted them say nothing; they used up to 10,000.
            count = fmt(cold.get("distinct_urls")) if cold else NONE
            lines.append(f"| {title} | {server} | {shown} | {count} |")
    return lines


def chart(results: dict[str, Any], path: Path, pg: dict[str, Any] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    servers = [s for s in SERVERS if any(r["server"] == s for r in results["runs"])]
    labels, groups = [], []
    for scenario in SCENARIOS:
        for mode in ("hot", "cold"):
            runs = [run_of(results, scenario, mode, s) for s in servers]
            if pg is not None:
                runs.append(run_of(pg, scenario, mode, "api"))
            if any(runs):
                labels.append(f"{scenario.replace('_', ' ')}\n{mode}")
                groups.append([r["rps"] if r else 0 for r in runs])
    fig, ax = plt.subplots(figsize=(13, 5.5))
    if pg is not None:
        servers = [*servers, "api on postgresql"]
    width = 0.8 / len(servers)
    colours = {
        "api": "#1f77b4",
        "datasette": "#ff7f0e",
        "nginx": "#7f7f7f",
        "cdn": "#2ca02c",
        "api on postgresql": "#9467bd",
    }
    names = {
        "api": f"this API on {ENGINE_NAMES[results['engine']]} ({results['workers']} worker(s))",
        "datasette": "Datasette",
        "nginx": "nginx, static copies",
        "cdn": "nginx caching proxy in front of the API",
        "api on postgresql": f"this API on PostgreSQL ({results['workers']} worker(s), same run)",
    }
    for i, server in enumerate(servers):
        xs = [x + (i - (len(servers) - 1) / 2) * width for x in range(len(labels))]
        ax.bar(
            xs,
            [g[i] or float("nan") for g in groups],
            width,
            label=names[server],
            color=colours[server],
        )
    ax.set_yscale("log")
    ax.set_ylabel("requests per second (log scale)")
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_title(
        f"{results['records']:,} synthetic records, {ENGINE_NAMES[results['engine']]}, "
        f"{results['workers']} API worker(s); wrk {results['wrk_threads']} threads, "
        f"{results['connections']} connections, {results['duration_s']} s per run"
    )
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def section(name: str, results: dict[str, Any]) -> list[str]:
    m = results["machine"]
    lines = [
        f"### `{name}`: {results['records']:,} records, {results['engine']}, "
        f"{results['workers']} API worker(s)",
        "",
        f"Run {results['started']} to {results['finished']} ({results['total_s']} s); "
        f"load average (1, 5, 15 min) {results['load_before']} before and "
        f"{results['load_after']} after; per run it was "
        f"{min(r['load'][0] for r in results['runs']):.1f} to "
        f"{max(r['load'][0] for r in results['runs']):.1f}. "
        f"{m['cpu']}, {m['cores']} cores, {m['memory_mb']:,} MB; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + ".",
        "",
        *main_table(results),
        "",
    ]
    repeated = repeated_cold_runs(results)
    if repeated:
        lines += [
            "Cold runs that came round to their URLs again (more requests than distinct URLs; "
            "the repeats may have been answered from a cache): " + "; ".join(repeated) + ".",
            "",
        ]
    if results.get("history"):
        lines += [
            "Change feed (f) with all history and with the last 10,000 changes kept "
            "(the same data; alternated, twice each):",
            "",
            *history_table(results),
            "",
        ]
    if results.get("export"):
        lines += ["Full export (g):", "", *export_table(results), ""]
    ready = results.get("ready_s", {})
    rss = results.get("peak_rss_mb", {})
    lines += [
        "Ready after start (s, each start): "
        + "; ".join(f"{k}: {', '.join(f'{t:.2f}' for t in v)}" for k, v in ready.items())
        + ". Peak RSS (MB, whole process tree, during the runs): "
        + ", ".join(f"{k} {v}" for k, v in rss.items())
        + ". "
        + made_line(results),
        "",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--records",
        type=int,
        default=TARGET_RECORDS,
        help="the size of the run the Targets table is of (default 1000000)",
    )
    records = parser.parse_args().records
    all_results = load_results()
    sqlite = all_results.get(f"sqlite-1w-{records}")
    pg = partner(all_results, sqlite) if sqlite else all_results.get(f"postgresql-1w-{records}")
    main_name = (sqlite or pg or {}).get("name")
    generated: list[str] = []
    if sqlite or pg:
        size = "1m" if records == TARGET_RECORDS else str(records)
        picture = f"bench-sqlite-{size}.png"
        if sqlite:
            chart(sqlite, IMG / picture, pg)
        names = " and ".join(f"`{r['name']}`" for r in (sqlite, pg) if r)
        generated += [
            "## Targets",
            "",
            f"From {names} (one worker, {records:,} records"
            + (", one invocation of `make bench`" if sqlite and pg else "")
            + ").",
            "",
            *targets(sqlite, pg),
            "",
        ]
        if sqlite:
            generated += ["![requests per second per scenario](img/" + picture + ")", ""]
        if sqlite and pg:
            generated += [
                "## PostgreSQL against SQLite",
                "",
                "The API alone on each engine, the same data set, the engines taking turns "
                "within each scenario of one run:",
                "",
                *engines_table(sqlite, pg),
                "",
            ]
        generated += [
            "## What each scenario requests",
            "",
            *url_table(sqlite or pg or {}),
            "",
        ]
    generated += ["## Figures", ""]
    for name in sorted(all_results, key=lambda n: (n != main_name, n)):
        generated += section(name, all_results[name])
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    before, _, rest = text.partition(BEGIN)
    _, _, after = rest.partition(END)
    DOC.write_text(
        before + BEGIN + "\n" + "\n".join(generated) + "\n" + END + after, encoding="utf-8"
    )
    print(f"report: {DOC.relative_to(ROOT)} written from {len(all_results)} result file(s)")


if __name__ == "__main__":
    main()
