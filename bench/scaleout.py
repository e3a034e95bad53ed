"""`make bench-scaleout`: two API servers behind the caching proxy of deploy/nginx.conf, against
one server alone (docs/PERFORMANCE.md, "Scaling out").

Runs with the project's Python (.venv; it loads the seeds with the project's code):

    .venv/bin/python bench/scaleout.py

One database (PostgreSQL, BENCH_POSTGRES_URL's server, a database `scn_bench_scaleout`
recreated with seeds/ loaded; or BENCH_ENGINE=sqlite), two `scn serve` processes (one worker
each) and nginx with deploy/nginx.conf rendered by envsubst, as docs/OPERATIONS.md does. wrk
cycles through a fixed set of URLs (lists, records, search, changes, v1 and v2, French).

- `direct`: wrk against one API server.
- `proxy, 1 server` / `proxy, 2 servers`: through nginx with the servers at CACHE_MAX_AGE=0
  (nothing is kept: nginx only balances; what two servers add).
- `proxy, cache hits`: through nginx with CACHE_MAX_AGE=60 (the default): every request after the
  first per URL is a cache hit.

Each configuration runs BENCH_ROUNDS (3) times, in turns, and the median is reported, with the
ratio to `direct` measured in the same phase. Knobs as in bench/run.py: BENCH_DURATION (10),
BENCH_CONNECTIONS (16), BENCH_THREADS (2). Results: bench/results/scaleout/ENGINE.json, and a
table on standard output. The work folder (SQLite file, logs, nginx's cache) is deleted at the end.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import sqlalchemy as sa  # noqa: E402
from run import ROOT, Api, Server, get, load_average, say, wrk  # noqa: E402

from app import migrate  # noqa: E402
from app.db import create_engine  # noqa: E402
from app.loader import load  # noqa: E402

ENGINE = os.environ.get("BENCH_ENGINE") or "postgresql"
POSTGRES = (
    os.environ.get("BENCH_POSTGRES_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ROUNDS = int(os.environ.get("BENCH_ROUNDS") or "3")
URLS = [
    "/v2/cities",
    "/v2/cities/viborg",
    "/v2/practices?limit=20",
    "/v2/organisations?limit=50",
    "/v2/countries/dk?lang=fr",
    "/v2/search?q=prevention",
    "/v2/changes?since=0&limit=100",
    "/v2/meta",
    "/v1/cities/viborg",
    "/v1/practices?city=viborg",
]


def database(workdir: Path) -> str:
    if ENGINE == "sqlite":
        url = f"sqlite:///{workdir / 'scaleout.sqlite3'}"
    else:
        admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql('DROP DATABASE IF EXISTS "scn_bench_scaleout"')
            connection.exec_driver_sql('CREATE DATABASE "scn_bench_scaleout"')
        admin.dispose()
        url = sa.make_url(POSTGRES).set(database="scn_bench_scaleout").render_as_string(False)
    migrate.upgrade(url)
    engine = create_engine(url)
    load(engine, ROOT / "seeds")
    engine.dispose()
    return url


class ApiServer(Api):
    def __init__(self, workdir: Path, database: str, max_age: int) -> None:
        super().__init__(workdir, database, 1)
        self.max_age = max_age

    def command(self) -> tuple[list[str], dict[str, str]]:
        command, env = super().command()
        return command, {**env, "CACHE_MAX_AGE": str(self.max_age)}


class Proxy(Server):
    """nginx with deploy/nginx.conf, rendered as its header says."""

    name = "proxy"
    ready_path = "/healthz"

    def __init__(self, workdir: Path, servers: list[Server]) -> None:
        super().__init__(workdir)
        self.prefix = Path(tempfile.mkdtemp(prefix="proxy-", dir=workdir))
        self.prefix.chmod(0o755)  # nginx's workers (user nobody when started as root)
        self.servers = servers

    def command(self) -> tuple[list[str], dict[str, str]]:
        rendered = subprocess.run(
            ["envsubst", "$LISTEN $API_SERVERS"],
            input=(ROOT / "deploy" / "nginx.conf").read_text(),
            env={
                **os.environ,
                "LISTEN": f"127.0.0.1:{self.port}",
                "API_SERVERS": " ".join(f"server 127.0.0.1:{s.port};" for s in self.servers),
            },
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (self.prefix / "nginx.conf").write_text(rendered)
        return [
            "nginx",
            "-p",
            str(self.prefix),
            "-e",
            str(self.prefix / "error.log"),
            "-c",
            str(self.prefix / "nginx.conf"),
            "-g",
            "daemon off;",
        ], {}


def cache_status(server: Server) -> list[str]:
    """X-Cache-Status of each URL, asked twice: MISS/MISS when nothing is kept, then HIT."""
    statuses = []
    for path in URLS:
        for _ in range(2):
            status, headers, _ = get(server.base + path)
            assert status == 200, (path, status)
            statuses.append(headers.get("X-Cache-Status", ""))
    return statuses


def measure(
    runs: dict[str, list[dict[str, Any]]], targets: dict[str, Server], url_file: str
) -> None:
    for server in targets.values():
        wrk(server.base, url_file)  # warm-up: every URL rendered (and kept) once
    for round_number in range(ROUNDS):
        for name, server in targets.items():
            figures = wrk(server.base, url_file)
            figures["load"] = load_average()[0]
            runs.setdefault(name, []).append(figures)
            say(f"round {round_number + 1}: {name}: {figures['rps']} rps, {figures['errors']} errs")


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="scn-scaleout-"))
    workdir.chmod(0o755)
    url = database(workdir)
    url_file = workdir / "urls.txt"
    url_file.write_text("".join(f"{path}\n" for path in URLS))
    say(f"{ENGINE}; {len(URLS)} URLs; work files in {workdir}")
    runs: dict[str, list[dict[str, Any]]] = {}
    started: list[Server] = []
    try:
        # Phase 1: nothing kept by the proxy (max-age 0): one server alone, one or two behind it.
        a, b = ApiServer(workdir, url, 0), ApiServer(workdir, url, 0)
        one, two = Proxy(workdir, [a]), Proxy(workdir, [a, b])
        for server in (a, b, one, two):  # the API servers first: the proxies need them
            server.start()
            started.append(server)
        assert set(cache_status(two)) == {"MISS"}, "the proxy kept max-age=0 answers"
        measure(runs, {"direct": a, "proxy, 1 server": one, "proxy, 2 servers": two}, str(url_file))
        for running in reversed(started):
            running.stop()
        started.clear()

        # Phase 2: the default max-age: the proxy answers from its cache.
        a, b = ApiServer(workdir, url, 60), ApiServer(workdir, url, 60)
        for api in (a, b):
            api.start()
            started.append(api)
        cached = Proxy(workdir, [a, b])
        cached.start()
        started.append(cached)
        statuses = cache_status(cached)
        assert statuses[1::2] == ["HIT"] * len(URLS), statuses
        phase2: dict[str, list[dict[str, Any]]] = {}
        measure(phase2, {"direct (max-age 60)": a, "proxy, cache hits": cached}, str(url_file))
        runs |= phase2
    finally:
        for running in reversed(started):
            running.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    summary = {}
    for name, figures in runs.items():
        summary[name] = {
            "rps": statistics.median(f["rps"] for f in figures),
            "p50_ms": statistics.median(f["p50_ms"] for f in figures),
            "p99_ms": statistics.median(f["p99_ms"] for f in figures),
            "errors": sum(f["errors"] for f in figures),
            "load": [f["load"] for f in figures],
            "runs": [f["rps"] for f in figures],
        }
    base1 = summary["direct"]["rps"]
    base2 = summary["direct (max-age 60)"]["rps"]
    for name, row in summary.items():
        row["ratio_to_direct"] = round(
            row["rps"] / (base2 if "60" in name or "hits" in name else base1), 2
        )
    # A folder of its own: bench/report.py reads every bench/results/*.json as a `make bench` run.
    (BENCH / "results" / "scaleout").mkdir(parents=True, exist_ok=True)
    result = {
        "engine": ENGINE,
        "urls": URLS,
        "cores": os.cpu_count(),
        "rounds": ROUNDS,
        "summary": summary,
    }
    (BENCH / "results" / "scaleout" / f"{ENGINE}.json").write_text(
        json.dumps(result, indent=2) + "\n"
    )
    print("| configuration | req/s (median) | x direct | p50 ms | p99 ms | errors | load avg |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, row in summary.items():
        loads = ", ".join(f"{x:.1f}" for x in row["load"])
        print(
            f"| {name} | {row['rps']:,.0f} | {row['ratio_to_direct']} | {row['p50_ms']} "
            f"| {row['p99_ms']} | {row['errors']} | {loads} |"
        )


if __name__ == "__main__":
    main()
