"""docs/PERFORMANCE.md's figures and charts from bench/results/*.json (run by bench/run.py).

    bench/.venv/bin/python bench/report.py

Rewrites only the part of docs/PERFORMANCE.md between the `generated` markers, and the charts in
docs/img/; the prose around them is written by hand.
"""

import json
import statistics
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DOC = ROOT / "docs" / "PERFORMANCE.md"
IMG = ROOT / "docs" / "img"
BEGIN, END = "<!-- generated:begin (bench/report.py) -->", "<!-- generated:end -->"
MAIN = "sqlite-1w-1000000"
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
                        fmt(r and r["rps"]),
                        fmt(r and r["p50_ms"], 1),
                        fmt(r and r["p99_ms"], 1),
                    ]
                else:
                    row.append(fmt(r and r["rps"]))
            api = runs.get("api")
            if "datasette" in servers:
                ds = runs.get("datasette")
                row.append(ratio(api and api["rps"], ds and ds["rps"]))
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


def targets(results: dict[str, Any]) -> list[str]:
    def rps(scenario: str, mode: str, server: str) -> float | None:
        r = run_of(results, scenario, mode, server)
        return r["rps"] if r else None

    def p50(scenario: str, mode: str) -> float | None:
        r = run_of(results, scenario, mode, "api")
        return r["p50_ms"] if r else None

    rows: list[tuple[str, str, float | None, float, bool]] = []

    def check(name: str, shown: str, value: float | None, limit: float, higher: bool) -> None:
        rows.append((name, shown, value, limit, higher))

    def over(a: float | None, b: float | None) -> float | None:
        return a / b if a and b else None

    check(
        "filtered list, hot: x Datasette",
        "≥ 10x",
        over(rps("list", "hot", "api"), rps("list", "hot", "datasette")),
        10,
        True,
    )
    check(
        "filtered list, cold: x Datasette",
        "≥ 3x",
        over(rps("list", "cold", "api"), rps("list", "cold", "datasette")),
        3,
        True,
    )
    check(
        "one record, hot: x Datasette",
        "≥ 5x",
        over(rps("record", "hot", "api"), rps("record", "hot", "datasette")),
        5,
        True,
    )
    check(
        "filtered list, hot: share of nginx",
        "≥ 0.10",
        over(rps("list", "hot", "api"), rps("list", "hot", "nginx")),
        0.10,
        True,
    )
    for mode in ("hot", "cold"):
        check(
            f"deep page p50 / first page p50, {mode}",
            "≤ 1.2",
            over(p50("deep_page", mode), p50("first_page", mode)),
            1.2,
            False,
        )
    for mode in ("hot", "cold"):
        check(
            f"changes p50, all history / last 10,000, {mode}",
            "≤ 1.2",
            history_ratio(results, mode),
            1.2,
            False,
        )
    for e in results.get("export", []):
        if e["server"] == "api":
            label = "first export" if e.get("mode") == "cold" else "export again"
            check(f"{label}: records/s", "≥ 50,000", e["records_per_s"], 50_000, True)
    check(
        "server memory (peak RSS, MB)",
        "≤ 250",
        results.get("peak_rss_mb", {}).get("api"),
        250,
        False,
    )
    ready = results.get("ready_s", {}).get("api", [])
    check(
        "ready after start (s, slowest of the starts)",
        "≤ 2",
        max(ready) if ready else None,
        2,
        False,
    )
    lines = ["| target | wanted | measured | |", "|---|---|---|---|"]
    for name, shown, value, limit, higher in rows:
        if value is None:
            verdict, measured = "not measured", NONE
        else:
            met = value >= limit if higher else value <= limit
            verdict = "met" if met else "**missed**"
            measured = f"{value:,.0f}" if value >= 1000 else f"{value:.2f}"
        lines.append(f"| {name} | {shown} | {measured} | {verdict} |")
    return lines


def url_table(results: dict[str, Any]) -> list[str]:
    """What each scenario asks each server (the hot URL; cold runs use 10,000 like it)."""
    lines = [
        "| scenario | server | hot URL (cold: 10,000 distinct URLs like it) |",
        "|---|---|---|",
    ]
    for scenario, title in SCENARIOS.items():
        for server, url in results.get("examples", {}).get(scenario, {}).items():
            path, _, etag = url.partition("\t")
            shown = f"`{path}`" + (f" with `If-None-Match: {etag}`" if etag else "")
            lines.append(f"| {title} | {server} | {shown} |")
    return lines


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    servers = [s for s in SERVERS if any(r["server"] == s for r in results["runs"])]
    labels, groups = [], []
    for scenario in SCENARIOS:
        for mode in ("hot", "cold"):
            runs = [run_of(results, scenario, mode, s) for s in servers]
            if any(runs):
                labels.append(f"{scenario.replace('_', ' ')}\n{mode}")
                groups.append([r["rps"] if r else 0 for r in runs])
    fig, ax = plt.subplots(figsize=(13, 5.5))
    width = 0.8 / len(servers)
    colours = {"api": "#1f77b4", "datasette": "#ff7f0e", "nginx": "#7f7f7f", "cdn": "#2ca02c"}
    names = {
        "api": "this API (1 worker)",
        "datasette": "Datasette",
        "nginx": "nginx, static copies",
        "cdn": "nginx caching proxy in front of the API",
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
        f"{results['records']:,} synthetic records, {results['engine']}, "
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
        + ".",
        "",
    ]
    return lines


def main() -> None:
    all_results = load_results()
    generated: list[str] = []
    if MAIN in all_results:
        chart(all_results[MAIN], IMG / "bench-sqlite-1m.png")
        generated += [
            "## Targets",
            "",
            f"From `{MAIN}` (one worker, SQLite, one million records).",
            "",
            *targets(all_results[MAIN]),
            "",
            "![requests per second per scenario](img/bench-sqlite-1m.png)",
            "",
            "## What each scenario requests",
            "",
            *url_table(all_results[MAIN]),
            "",
        ]
    generated += ["## Figures", ""]
    for name in sorted(all_results, key=lambda n: (n != MAIN, n)):
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
