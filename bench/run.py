"""`make bench`: the API, Datasette and nginx side by side on one synthetic data set.

Run with the benchmark's own Python (bench/.venv, which holds Datasette and matplotlib):

    bench/.venv/bin/python bench/run.py

Knobs (environment): BENCH_RECORDS (1000000), BENCH_SEED (1), BENCH_DURATION (seconds per run,
10), BENCH_CONNECTIONS (16), BENCH_THREADS (2), BENCH_ENGINES (sqlite,postgresql), BENCH_ENGINE
(one engine only, overriding BENCH_ENGINES), BENCH_POSTGRES_URL (server for postgresql),
BENCH_WORKERS (API workers, 1), BENCH_SERVERS (api,datasette,nginx,cdn; Datasette reads the
SQLite file, so on PostgreSQL only the API runs), BENCH_SCENARIOS (all), BENCH_EXPORT (1),
BENCH_HISTORY (1: the change feed with 10,000 changes of history too, SQLite only), BENCH_FRESH
(0; 1 makes the synthetic databases again, to time `scn synth`), BENCH_NAME (the results file's
name; `{engine}` in it is replaced by the engine, and with several engines `-<engine>` is added
when it is missing).

Each scenario runs hot (one URL) and cold (up to 10,000 distinct URLs, the API restarted first so
nothing is cached), the servers of every engine taking turns within each scenario, so SQLite and
PostgreSQL are measured side by side under the same load. The figures of each engine go to
bench/results/NAME.json, all of one invocation under the same `batch`, by which bench/report.py
pairs them; it turns every results file into docs/PERFORMANCE.md's tables and chart.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = ROOT / ".venv" / "bin"
SECRET = "bench-cursor-secret"
SCENARIOS = ["list", "record", "first_page", "deep_page", "not_modified", "search", "changes"]


def env(name: str, default: str) -> str:
    return os.environ.get(name) or default


RECORDS = int(env("BENCH_RECORDS", "1000000"))
SEED = int(env("BENCH_SEED", "1"))
DURATION = int(env("BENCH_DURATION", "10"))
CONNECTIONS = int(env("BENCH_CONNECTIONS", "16"))
THREADS = int(env("BENCH_THREADS", "2"))
ENGINES = env("BENCH_ENGINE", env("BENCH_ENGINES", "sqlite,postgresql")).split(",")
WORKERS = int(env("BENCH_WORKERS", "1"))
SERVERS = env("BENCH_SERVERS", "api,datasette,nginx,cdn").split(",")
CHOSEN = env("BENCH_SCENARIOS", ",".join(SCENARIOS)).split(",")
EXPORT = env("BENCH_EXPORT", "1") == "1"
HISTORY = env("BENCH_HISTORY", "1") == "1"
FRESH = env("BENCH_FRESH", "0") == "1"
NAME = os.environ.get("BENCH_NAME")
POSTGRES_SERVER = env("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
VAR = BENCH / "var"
DATASETTE_DB = "bench"  # Datasette names a database after its file: a link gives a short name


def results_name(engine: str) -> str:
    if NAME is None:
        return f"{engine}-{WORKERS}w-{RECORDS}"
    if "{engine}" in NAME:
        return NAME.replace("{engine}", engine)
    # Two engines under one given name would overwrite each other's results file.
    return NAME if len(ENGINES) == 1 else f"{NAME}-{engine}"


def say(message: str) -> None:
    print(f"bench: {message}", flush=True)


HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A free port for one of the run's servers, below the ephemeral range: a port the kernel
    picks (bind to 0) is in that range, where wrk's thousands of client connections take their
    own ports, so nginx once found its port taken between the choice and its start."""
    try:
        lowest_ephemeral = int(
            Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]
        )
    except (OSError, ValueError, IndexError):
        lowest_ephemeral = 32768
    first = 20000 + os.getpid() % 5000  # two runs at once start apart
    for port in [*range(first, lowest_ephemeral), *range(10000, first)]:
        if port in HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")


def load_average() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants (uvicorn workers, nginx workers)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pending += [int(c) for c in children]
    return total / 1024


class PeakRss:
    """The peak resident memory of a process tree while a block runs (sampled every 0.2 s)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.running = pid, 0.0, True
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, tree_rss_mb(self.pid))
            time.sleep(0.2)

    def __enter__(self) -> "PeakRss":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, tree_rss_mb(self.pid))


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    """Status, headers (case-insensitive) and body."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> float:
    """Seconds from now until `url` answers 200."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}) before it was ready")
        try:
            if get(url)[0] == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{url} not ready after {timeout} s")


class Server:
    name = ""
    ready_path = "/"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.ready_times: list[float] = []
        self.peak_rss = 0.0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def start(self) -> None:
        command, extra_env = self.command()
        log = (self.workdir / f"{self.name}.log").open("ab")
        started = time.monotonic()
        self.process = subprocess.Popen(
            command, env={**os.environ, **extra_env}, stdout=log, stderr=log, cwd=ROOT
        )
        wait_ready(self.base + self.ready_path, self.process)
        self.ready_times.append(time.monotonic() - started)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


class Api(Server):
    name = "api"
    ready_path = "/readyz"

    def __init__(self, workdir: Path, database: str, workers: int) -> None:
        super().__init__(workdir)
        self.database, self.workers = database, workers

    def command(self) -> tuple[list[str], dict[str, str]]:
        command = [str(VENV / "scn"), "serve", "--port", str(self.port)]
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
        return command, {
            "DATABASE_URL": self.database,
            "CURSOR_SECRET": SECRET,
            "EXPORT_CACHE_DIR": str(self.workdir / "exports"),
        }


class Datasette(Server):
    name = "datasette"
    ready_path = "/-/versions.json"

    def __init__(self, workdir: Path, path: Path) -> None:
        super().__init__(workdir)
        self.path = path

    def command(self) -> tuple[list[str], dict[str, str]]:
        # -i (immutable): Datasette's fastest mode for a file that does not change.
        return [
            str(BENCH / ".venv" / "bin" / "datasette"),
            "serve",
            "-i",
            str(self.path),
            "--port",
            str(self.port),
        ], {}


class Nginx(Server):
    """Static copies of the API's bodies (the ceiling), and a caching proxy in front of the API
    (a CDN in miniature: it keeps responses for Cache-Control's max-age)."""

    name = "nginx"
    ready_path = "/ready.json"

    def __init__(self, workdir: Path, api: Api | None) -> None:
        super().__init__(workdir)
        self.www = workdir / "www"
        self.www.mkdir(exist_ok=True)
        (self.www / "ready.json").write_text("{}")
        self.cdn_port = free_port()
        self.api = api

    def command(self) -> tuple[list[str], dict[str, str]]:
        prefix = self.workdir / "nginx"
        prefix.mkdir(exist_ok=True)
        cdn = ""
        if self.api is not None:
            cdn = f"""
    proxy_cache_path {prefix}/cache keys_zone=api:32m max_size=1g;
    upstream api {{ server 127.0.0.1:{self.api.port}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{self.cdn_port};
        location / {{
            proxy_pass http://api;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache api;
            proxy_cache_revalidate on;
            proxy_cache_lock on;
        }}
    }}"""
        config = f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    default_type application/json;
    types {{ application/json json; application/x-ndjson ndjson; }}
    client_body_temp_path {prefix}/client;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.www};
    }}{cdn}
}}
"""
        (prefix / "nginx.conf").write_text(config)
        return [
            "nginx",
            "-p",
            str(prefix),
            "-e",
            str(prefix / "error.log"),
            "-c",
            str(prefix / "nginx.conf"),
            "-g",
            "daemon off;",
        ], {}


def wrk(base: str, url_file: str) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{DURATION}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH / "wrk" / "urls.lua"),
        base,
        "--",
        url_file,
        str(THREADS),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("BENCHJSON "))
    figures = json.loads(line.removeprefix("BENCHJSON "))
    seconds = figures["duration_us"] / 1e6
    errors = sum(v for k, v in figures.items() if k.startswith("errors_"))
    return {
        "rps": round(figures["requests"] / seconds, 1),
        "p50_ms": round(figures["p50_us"] / 1000, 2),
        "p90_ms": round(figures["p90_us"] / 1000, 2),
        "p99_ms": round(figures["p99_us"] / 1000, 2),
        "requests": figures["requests"],
        "errors": errors,
        "bytes_per_response": round(figures["bytes"] / max(figures["requests"], 1)),
    }


def one_line(path: Path, line: str) -> str:
    path.write_text(line + "\n", encoding="utf-8")
    return str(path)


@dataclass
class Side:
    """One engine's part of a run: its database, URL sets, servers and results file."""

    engine: str
    workdir: Path
    database: str
    manifest: dict[str, Any]
    api: Api
    servers: dict[str, Server]
    nginx: Nginx | None
    results: dict[str, Any]

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database.removeprefix("sqlite:///"))


def prepare_side(engine: str, workdir: Path, batch: str) -> Side:
    """The engine's synthetic database (made if missing) and URL sets, and its servers (not
    started yet)."""
    side_dir = workdir / engine
    side_dir.mkdir()
    side_dir.chmod(0o755)  # nginx's worker (user nobody when started as root) reads www/
    if engine == "sqlite":
        db_path = VAR / f"bench-{RECORDS}-s{SEED}.sqlite3"
        database = f"sqlite:///{db_path}"
        if FRESH:  # the pruned copy of run_history is made from the database being replaced
            # with its WAL: a stale WAL beside a new copy of the file would be replayed into it
            for suffix in ("", "-wal", "-shm"):
                (VAR / f"{db_path.stem}-history10k.sqlite3{suffix}").unlink(missing_ok=True)
    else:
        database = POSTGRES_SERVER.rsplit("/", 1)[0] + f"/scn_bench_{RECORDS}_s{SEED}"
    started = time.monotonic()
    prepare = [str(VENV / "python"), str(BENCH / "prepare.py"), "--database", database]
    prepare += ["--records", str(RECORDS), "--seed", str(SEED), "--secret", SECRET]
    prepare += ["--datasette-db", DATASETTE_DB, "--out", str(side_dir / "urls")]
    subprocess.run([*prepare, "--fresh"] if FRESH else prepare, check=True)
    manifest = json.loads((side_dir / "urls" / "manifest.json").read_text())
    synth = manifest["synth_s"]
    say(
        f"{engine}: prepared in {time.monotonic() - started:.0f} s "
        + (f"(scn synth {synth} s)" if synth is not None else "(database kept from before)")
        + f", {manifest['database_bytes'] / 1e6:,.0f} MB"
    )
    api = Api(side_dir, database, WORKERS)
    servers: dict[str, Server] = {"api": api}
    # Datasette and the static copies are the SQLite comparison; on PostgreSQL the API runs alone.
    wanted = SERVERS if engine == "sqlite" else ["api"]
    if "datasette" in wanted:
        link = side_dir / f"{DATASETTE_DB}.sqlite3"
        link.symlink_to(Path(database.removeprefix("sqlite:///")))
        servers["datasette"] = Datasette(side_dir, link)
    nginx = Nginx(side_dir, api if "cdn" in wanted else None) if "nginx" in wanted else None
    results: dict[str, Any] = {
        "name": results_name(engine),
        "engine": engine,
        # The invocation: report.py compares only engines measured in the same one.
        "batch": batch,
        "engines": ENGINES,
        "workers": WORKERS,
        "records": RECORDS,
        "seed": SEED,
        "duration_s": DURATION,
        "connections": CONNECTIONS,
        "wrk_threads": THREADS,
        "synth_s": synth,
        "database_bytes": manifest["database_bytes"],
        "machine": machine(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "load_before": load_average(),
        "runs": [],
        "examples": {},
    }
    return Side(engine, side_dir, database, manifest, api, servers, nginx, results)


def start_servers(side: Side) -> None:
    for server in side.servers.values():
        server.start()
    nginx = side.nginx
    if nginx is None:
        return
    # Pre-render the hot bodies for nginx from the API itself: the same bytes.
    for scenario, per_server in side.manifest["scenarios"].items():
        path = per_server["api"]["example"]
        status, _, body = get(side.api.base + path)
        assert status == 200, (scenario, status)
        (nginx.www / f"{scenario}.json").write_bytes(body)
    nginx.start()
    side.servers["nginx"] = nginx


def stop_servers(side: Side) -> None:
    for server in side.servers.values():
        server.stop()
    if side.nginx is not None:
        side.nginx.stop()  # when it failed to start, it is not among the servers


def main() -> None:
    unknown = set(ENGINES) - {"sqlite", "postgresql"}
    if unknown:
        sys.exit(f"bench: unknown engine(s) {', '.join(sorted(unknown))}: sqlite, postgresql")
    VAR.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="scn-bench-"))
    workdir.chmod(0o755)  # nginx's worker (user nobody when started as root) reads www/
    batch = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    say(
        f"{RECORDS} records on {', '.join(ENGINES)}, {WORKERS} API worker(s); "
        f"work files in {workdir}"
    )
    started = time.monotonic()
    sides = [prepare_side(engine, workdir, batch) for engine in ENGINES]
    try:
        for side in sides:
            start_servers(side)
        run_scenarios(sides)
        for side in sides:
            if HISTORY and side.engine == "sqlite" and "changes" in CHOSEN:
                run_history(side)
            if EXPORT:
                run_export(side)
            side.results["ready_s"] = {n: s.ready_times for n, s in side.servers.items()}
            side.results["peak_rss_mb"] = {n: round(s.peak_rss, 1) for n, s in side.servers.items()}
    finally:
        for side in sides:
            stop_servers(side)
    total = round(time.monotonic() - started)
    for side in sides:
        results = side.results
        results["load_after"] = load_average()
        results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        # The whole invocation: the engines' runs are interleaved, not one after the other.
        results["total_s"] = total
        out = BENCH / "results" / f"{results['name']}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
        say(f"results in {out.relative_to(ROOT)} ({total} s)")
    shutil.rmtree(workdir, ignore_errors=True)
    subprocess.run([sys.executable, str(BENCH / "report.py")], check=True)


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    memory = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    versions = {}
    for name, command in {
        "python": [str(VENV / "python"), "--version"],
        "nginx": ["nginx", "-v"],
        "wrk": ["wrk", "--version"],
        "datasette": [str(BENCH / ".venv" / "bin" / "datasette"), "--version"],
        "sqlite": [str(VENV / "python"), "-c", "import sqlite3; print(sqlite3.sqlite_version)"],
    }.items():
        done = subprocess.run(command, capture_output=True, text=True)
        versions[name] = (done.stdout + done.stderr).strip().splitlines()[0]
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_mb": memory, "versions": versions}


def record(
    side: Side,
    server: Server,
    scenario: str,
    mode: str,
    url_file: str,
    figures: dict[str, Any],
) -> None:
    figures = {"scenario": scenario, "mode": mode, "server": server.name, **figures}
    # A cold run is cold only while no URL comes round again: report.py flags the runs that
    # made more requests than they had distinct URLs (the repeats were answered from the cache).
    figures["distinct_urls"] = len(set(Path(url_file).read_text(encoding="utf-8").splitlines()))
    figures["rss_mb"] = round(tree_rss_mb(server.pid), 1)
    figures["load"] = load_average()
    side.results["runs"].append(figures)
    say(
        f"{side.engine:10} {scenario:12} {mode:4} {server.name:9} {figures['rps']:9.1f} rps  "
        f"p50 {figures['p50_ms']:7.2f} ms  p99 {figures['p99_ms']:7.2f} ms  "
        f"{figures['bytes_per_response']:7d} B  rss {figures['rss_mb']:.0f} MB  "
        f"errors {figures['errors']}  load {figures['load'][0]}"
    )


def measure(server: Server, url_file: str, base: str | None = None) -> dict[str, Any]:
    with PeakRss(server.pid) as peak:
        figures = wrk(base or server.base, url_file)
    server.peak_rss = max(server.peak_rss, peak.peak)
    return figures


def etags_of(base: str, paths: list[str]) -> list[str]:
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda p: get(base + p)[1].get("ETag", ""), paths))
    return answers


def run_scenarios(sides: list[Side]) -> None:
    order = [
        (side, name)
        for side in sides
        for name in ("api", "datasette", "nginx")
        if name in side.servers
    ]
    turn = 0
    for scenario in [s for s in SCENARIOS if s in CHOSEN]:
        for mode in ("hot", "cold"):
            turn += 1
            # The servers (of every engine) take turns going first, so none always runs after the
            # same one, and a burst of load from elsewhere does not always hit the same engine.
            for side, name in order[turn % len(order) :] + order[: turn % len(order)]:
                server = side.servers[name]
                url_file = url_set(side, scenario, mode, name)
                if url_file is None:
                    continue
                if mode == "cold" and name == "api":
                    side.api.restart()  # nothing cached: every URL is a miss
                    # Warm the fresh process up on the scenario's hot URL, not the cold set.
                    wrk_warmup(server.base, url_set(side, scenario, "hot", name) or url_file)
                if mode == "hot":
                    wrk_warmup(server.base, url_file)
                side.results["examples"].setdefault(scenario, {})[name] = first_line(url_file)
                record(side, server, scenario, mode, url_file, measure(server, url_file))
                nginx = side.nginx
                if name == "api" and nginx is not None and nginx.api is not None and mode == "hot":
                    # The same URL through the caching proxy: what a CDN in front gives.
                    wrk_warmup(f"http://127.0.0.1:{nginx.cdn_port}", url_file)
                    figures = measure(nginx, url_file, f"http://127.0.0.1:{nginx.cdn_port}")
                    record(side, _Named(nginx, "cdn"), scenario, mode, url_file, figures)


class _Named(Server):
    """A server's process under another name (nginx as the caching proxy)."""

    def __init__(self, server: Server, name: str) -> None:
        self.server, self.name = server, name

    @property
    def pid(self) -> int:
        return self.server.pid


def first_line(path: str) -> str:
    return Path(path).read_text(encoding="utf-8").split("\n", 1)[0]


def wrk_warmup(base: str, url_file: str) -> None:
    subprocess.run(
        ["wrk", "-t1", "-c4", "-d1s", "-s", str(BENCH / "wrk" / "urls.lua"), base, "--", url_file],
        capture_output=True,
        check=True,
    )


def url_set(side: Side, scenario: str, mode: str, server: str) -> str | None:
    """The URL file of a run, or None where the server has no equivalent."""
    scenarios, api, nginx, workdir = side.manifest["scenarios"], side.api, side.nginx, side.workdir
    if server == "nginx":
        if mode == "cold":
            return None  # the ceiling is measured hot: one pre-rendered body
        if scenario == "not_modified":
            etag = get(f"{nginx.base}/list.json")[1]["ETag"] if nginx else ""
            return one_line(workdir / "nginx-304.txt", f"/list.json\t{etag}")
        return one_line(workdir / f"nginx-{scenario}.txt", f"/{scenario}.json")
    if scenario == "not_modified":
        if server != "api":
            return None  # Datasette sends no ETag: it cannot answer 304
        if mode == "hot":
            path = first_line(scenarios["list"]["api"]["hot"])
            etag = get(api.base + path)[1]["ETag"]
            return one_line(workdir / "api-304-hot.txt", f"{path}\t{etag}")
        target = workdir / "api-304-cold.txt"
        if not target.exists():
            paths = Path(scenarios["record"]["api"]["cold"]).read_text().split()
            etags = etags_of(api.base, paths)
            target.write_text("".join(f"{p}\t{e}\n" for p, e in zip(paths, etags, strict=True)))
        return str(target)
    return str(scenarios[scenario][server][mode])


def run_history(side: Side) -> None:
    """The change feed with the full history and with only the last 10,000 changes kept."""
    results, manifest, api, workdir = side.results, side.manifest, side.api, side.workdir
    source = side.sqlite_path
    short = VAR / f"{source.stem}-history10k.sqlite3"
    if not short.exists():
        say("copying the database to keep only 10,000 changes of history")
        shutil.copy(source, short)
        subprocess.run(
            [
                str(VENV / "scn"),
                "history",
                "prune",
                "--keep",
                "10000",
                "--database",
                f"sqlite:///{short}",
            ],
            check=True,
        )
    pruned = Api(workdir, f"sqlite:///{short}", api.workers)
    pruned.name = "api"
    full_hot = manifest["scenarios"]["changes"]["api"]["hot"]
    full_cold = manifest["scenarios"]["changes"]["api"]["cold"]
    history = results.setdefault("history", [])
    try:
        for label, server in (("full", api), ("10k", pruned), ("full", api), ("10k", pruned)):
            for mode, url_file in (("hot", full_hot), ("cold", full_cold)):
                server.restart()
                if mode == "hot":
                    wrk_warmup(server.base, url_file)
                figures = wrk(server.base, url_file)
                figures |= {"history": label, "mode": mode}
                history.append(figures)
                say(
                    f"changes history {label:4} {mode}: {figures['rps']} rps, "
                    f"p50 {figures['p50_ms']} ms"
                )
    finally:
        pruned.stop()
    api.restart()


def run_export(side: Side) -> None:
    """(g) The full export, timed end to end: records per second."""
    results, servers, api, nginx = side.results, side.servers, side.api, side.nginx
    exports = results.setdefault("export", [])
    target = nginx.www / "export.ndjson" if nginx else Path(os.devnull)
    # Cold: the first export after a start with no kept copy (rendered from the database);
    # hot: the next one (the kept copy).
    shutil.rmtree(api.workdir / "exports", ignore_errors=True)
    api.restart()
    for mode in ("cold", "hot"):
        with PeakRss(api.pid) as peak:
            started = time.monotonic()
            with urllib.request.urlopen(api.base + "/v1/export", timeout=3600) as response:
                lines, size = 0, 0
                with (target if mode == "cold" else Path(os.devnull)).open("wb") as out:
                    for line in response:
                        lines += 1
                        size += len(line)
                        out.write(line)
            seconds = time.monotonic() - started
        api.peak_rss = max(api.peak_rss, peak.peak)
        exports.append(_export("api", lines - 1, size, seconds, peak.peak) | {"mode": mode})
    if "datasette" in servers:
        ds = servers["datasette"]
        tables = [
            "source",
            "theme",
            "country",
            "action_plan",
            "legal_basis",
            "city",
            "organisation",
            "cooperation",
            "practice",
            "contact_point",
        ]
        with PeakRss(ds.pid) as peak:
            started, rows, size = time.monotonic(), 0, 0
            for table in tables:
                url = f"{ds.base}/{DATASETTE_DB}/{table}.csv?_stream=on&_size=max"
                with urllib.request.urlopen(url, timeout=3600) as response:
                    for line in response:
                        rows += 1
                        size += len(line)
                rows -= 1  # the CSV header
            seconds = time.monotonic() - started
        ds.peak_rss = max(ds.peak_rss, peak.peak)
        exports.append(_export("datasette", rows, size, seconds, peak.peak))
    if nginx is not None:
        with PeakRss(nginx.pid) as peak:
            started = time.monotonic()
            with urllib.request.urlopen(nginx.base + "/export.ndjson", timeout=3600) as response:
                size = sum(len(chunk) for chunk in iter(lambda: response.read(1 << 20), b""))
            seconds = time.monotonic() - started
        exports.append(_export("nginx", lines - 1, size, seconds, peak.peak))
    for e in exports:
        say(
            f"{side.engine:10} export {e['server']:9} {e.get('mode', ''):4} {e['records']} "
            f"records in {e['seconds']} s: {e['records_per_s']} records/s, "
            f"peak rss {e['peak_rss_mb']} MB"
        )


def _export(server: str, records: int, size: int, seconds: float, rss: float) -> dict[str, Any]:
    return {
        "server": server,
        "records": records,
        "bytes": size,
        "seconds": round(seconds, 2),
        "records_per_s": round(records / seconds),
        "peak_rss_mb": round(rss, 1),
    }


if __name__ == "__main__":
    main()
