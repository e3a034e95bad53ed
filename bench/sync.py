"""`make bench-sync`: `scn mirror` at scale, and the source's own export time beside it.

Run with the project's Python (the mirror is the code measured):

    .venv/bin/python bench/sync.py

For each size (BENCH_SYNC_RECORDS, default "100000,1000000"): a synthetic source (`scn synth`,
kept in bench/var/ between runs) served by `scn serve`; then
1. the source streams /v2/export twice, as the mirror asks for it (gzip): the first rendering
   and the kept copy the mirror then reads. No client can be faster than these;
2. the mirror's own preparation (documents, content hashes, search entries: `mirror.ready_pieces`
   in its preparing processes, as a snapshot runs it) over that kept copy, nothing written: the
   most a snapshot can do on this machine while the copy makes these itself;
3. `scn mirror` takes a snapshot into each target engine (BENCH_SYNC_ENGINES, default
   "sqlite,postgresql"; PostgreSQL at BENCH_POSTGRES_URL);
4. an update round changes BENCH_SYNC_UPDATE_SHARE (0.1) of the published records at the source,
   the way a load does (new versions, one change each);
5. the source streams the whole change feed once, as the mirror pages through it (no cache);
6. `scn mirror` catches up into each target, which must then export what the source exports;
7. a small round (BENCH_SYNC_SMALL_SHARE, 0.0001: about a hundred changes in a million records,
   as a copy syncing every few minutes meets) and each target's catch-up of it.
Records/s, seconds, the mirror's peak resident memory and the CPU time of each process a mirror
run keeps busy (`Watch`) go to bench/results/sync/sync-N.json, and the tables between the
`sync-bench` markers of docs/PERFORMANCE.md and docs/SYNC.md.
"""

import hashlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from run import free_port  # noqa: E402 (one way to choose the servers' ports)

from app import apart, mirror  # noqa: E402
from app.db import create_engine  # noqa: E402
from app.loader import RecordWriter, moved_digest, write_transaction  # noqa: E402
from app.models import ENTITIES, table  # noqa: E402
from app.record_rows import record_rows  # noqa: E402

SCN = str(Path(sys.executable).parent / "scn")
VAR = BENCH / "var"
RESULTS = BENCH / "results" / "sync"  # apart from make bench's results (bench/report.py)
DOCS = {
    "performance": ROOT / "docs" / "PERFORMANCE.md",
    "sync": ROOT / "docs" / "SYNC.md",
}
BEGIN, END = "<!-- sync-bench:begin -->", "<!-- sync-bench:end -->"


def env(name: str, default: str) -> str:
    return os.environ.get(name) or default


SIZES = [int(x) for x in env("BENCH_SYNC_RECORDS", "100000,1000000").split(",")]
ENGINES = env("BENCH_SYNC_ENGINES", "sqlite,postgresql").split(",")
SEED = int(env("BENCH_SEED", "1"))
UPDATE_SHARE = float(env("BENCH_SYNC_UPDATE_SHARE", "0.1"))
# Then a round as a copy syncing every few minutes meets one: about a hundred changes in a
# million records (ten in 100,000). Its catch-up should cost the changes, not the copy's size.
SMALL_SHARE = float(env("BENCH_SYNC_SMALL_SHARE", "0.0001"))
POSTGRES = env("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BATCH = int(env("BENCH_SYNC_BATCH", "500"))  # changes per request, as `scn mirror --batch`
# Up to this size, both databases' `scn export` are compared too (a full export of a million
# records takes minutes on each side); every size compares ids, versions and content hashes.
EXPORT_CHECK_UP_TO = int(env("BENCH_SYNC_EXPORT_CHECK", "100000"))


def say(message: str) -> None:
    print(f"bench-sync: {message}", flush=True)


def load_average() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


class Watch:
    """What a `scn mirror` process costs, sampled every 0.1 s while it runs: the peak resident
    memory (MB) of it with the processes it started (`scn mirror` prepares a large snapshot or
    catch-up in two more; its own high-water mark, VmHWM, too), and the CPU time of each
    process of its tree, of the publisher's server and of the PostgreSQL server processes that
    serve the copy's database (none for SQLite)."""

    def __init__(self, process: subprocess.Popen[str], publisher: int, target: str) -> None:
        self.process, self.peak = process, 0.0
        self.publisher, self.publisher_before = publisher, _cpu_seconds(publisher)
        self.database = _database_name(target)
        self.cpu: dict[int, float] = {}  # the most seen of each process: it only grows
        self.backends: dict[int, float] = {}
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while self.process.poll() is None:
            own = _status_mb(self.process.pid, "VmHWM:")
            tree = _process_tree(self.process.pid)
            self.peak = max(self.peak, own, sum(_status_mb(pid, "VmRSS:") for pid in tree))
            for pid in tree:
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), _cpu_seconds(pid))
            for pid in _server_processes(self.database):
                self.backends[pid] = max(self.backends.get(pid, 0.0), _cpu_seconds(pid))
            time.sleep(0.1)

    def cpu_seconds(self, tree_total: float) -> dict[str, float]:
        """CPU-seconds by role. `tree_total`: the mirror's and its reaped children's, exact
        (getrusage); the preparers' are sampled (each may miss its last 0.1 s), the mirror's
        own is the rest."""
        preparers = sum(c for pid, c in self.cpu.items() if pid != self.process.pid)
        return {
            "mirror": round(tree_total - preparers, 2),
            "preparers": round(preparers, 2),
            "publisher": round(_cpu_seconds(self.publisher) - self.publisher_before, 2),
            "database": round(sum(self.backends.values()), 2),
        }


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process (0 for one that has ended)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _database_name(target: str) -> str | None:
    return target.rsplit("/", 1)[1] if target.startswith("postgresql") else None


def _server_processes(database: str | None) -> list[int]:
    """The PostgreSQL server processes connected to `database` (on this machine), by their
    process title: `postgres: <cluster>: <user> <database> <client> <state>`."""
    if database is None:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and f" {database} ".encode() in title:
            found.append(int(entry.name))
    return found


def _status_mb(pid: int, field: str) -> float:
    """A memory figure of /proc/<pid>/status in MB (0 for a process that has just ended)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0.0
    for line in lines:
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return 0.0


def _process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (those still running)."""
    out = [pid]
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
        children = [int(c) for t in tasks for c in (t / "children").read_text().split()]
    except OSError:
        return out
    for child in children:
        out += _process_tree(child)
    return out


def run_mirror(source: "Source", target: str) -> dict[str, Any]:
    """One `scn mirror` run: its summary line, wall time, peak RSS and CPU time by process."""
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(
        [SCN, "mirror", "--source", source.base, "--database", target, "--batch", str(BATCH)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SCN_PROGRESS_INTERVAL": "30"},
    )
    watch = Watch(process, source.process.pid, target)
    stdout, stderr = process.communicate()
    seconds = time.monotonic() - started
    watch.thread.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    tree = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if process.returncode != 0:
        raise RuntimeError(f"scn mirror failed ({process.returncode}): {stderr[-2000:]}")
    summary = stdout.strip().splitlines()[-1]
    found = re.search(r": ([\d,]+) records, .* ([\d.]+) s, ([\d,]+) records/s", summary)
    if found is None:
        raise RuntimeError(f"no summary from scn mirror: {stdout[-500:]}")
    records, writing = int(found.group(1).replace(",", "")), float(found.group(2))
    # The mirror's own rate, from its unrounded time: a run of a few changes takes "0.0 s".
    rate = int(found.group(3).replace(",", ""))
    for line in stderr.splitlines():
        say(f"  {line}")
    return {
        "summary": summary,
        "records": records,
        "seconds": round(seconds, 1),  # the whole process: start, schema check, run, exit
        "run_seconds": writing,  # the run itself, as the mirror's summary says
        "records_per_s": rate,
        "peak_rss_mb": round(watch.peak, 1),
        "cpu_seconds": watch.cpu_seconds(tree),
        "load": load_average(),
    }


def stream_export(base: str) -> dict[str, Any]:
    """The whole /v2/export as the mirror reads it (gzip, decoded, split into lines)."""
    started, lines, size = time.monotonic(), 0, 0
    with (
        httpx.Client(timeout=httpx.Timeout(30.0, read=600.0)) as http,
        http.stream("GET", f"{base}/v2/export", headers={"Accept": "*/*"}) as response,
    ):
        response.raise_for_status()
        for chunk in response.iter_bytes(1 << 16):
            lines += chunk.count(b"\n")
            size += len(chunk)
    seconds = time.monotonic() - started
    records = lines - 1  # the header
    return {
        "records": records,
        "bytes": size,
        "seconds": round(seconds, 1),
        "records_per_s": round(records / seconds),
        "load": load_average(),
    }


def prepare_alone(exports: Path) -> dict[str, Any]:
    """The kept export (in `exports`, the source's EXPORT_CACHE_DIR) prepared as a snapshot
    prepares it, in the mirror's preparing processes, and nothing written: records/s, and the
    CPU-seconds those processes used."""
    kept = max(exports.glob("export-*.ndjson"), key=lambda f: f.stat().st_mtime)  # the latest
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started, records = time.monotonic(), 0
    with kept.open("rb") as lines, apart.preparer(True) as prepare:
        next(lines)  # the header
        for piece in mirror.ready_pieces(prepare, lines, render=True, dialect="sqlite+pysqlite"):
            records += len(piece.records)
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "records": records,
        "seconds": round(seconds, 1),
        "records_per_s": round(records / seconds),
        "cpu_seconds": round(cpu, 1),
        "cpu_us_per_record": round(cpu / records * 1e6),
        "load": load_average(),
    }


def stream_changes(base: str, since: int) -> dict[str, Any]:
    """Every page of /v2/changes after `since`, as the mirror asks for them."""
    started, items = time.monotonic(), 0
    with httpx.Client(base_url=base, timeout=httpx.Timeout(30.0, read=600.0)) as http:
        cursor = since
        while True:
            page = http.get("/v2/changes", params={"since": cursor, "limit": BATCH}).json()
            items += len(page["data"])
            cursor = int(page["next_since"])
            if not page["has_more"]:
                break
    seconds = time.monotonic() - started
    return {
        "changes": items,
        "seconds": round(seconds, 1),
        "records_per_s": round(items / seconds),
        "load": load_average(),
    }


def source_database(records: int) -> Path:
    """The synthetic source for `records` (made once, kept in bench/var/)."""
    path = VAR / f"sync-source-{records}-s{SEED}.sqlite3"
    if not path.exists():
        say(f"making the source: scn synth --records {records}")
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        url = f"sqlite:///{partial}"
        subprocess.run([SCN, "db", "upgrade", "--database", url], check=True)
        subprocess.run(
            [SCN, "synth", "--records", str(records), "--seed", str(SEED), "-d", url], check=True
        )
        partial.rename(path)
    else:  # made by an earlier revision's code: the publisher's server needs its own
        subprocess.run([SCN, "db", "upgrade", "--database", f"sqlite:///{path}"], check=True)
    return path


def update_round(url: str, base: str, share: float) -> int:
    """Change `share` of the published records at the source, as a load would: each gets a
    new text, a new version and one change in the feed. Returns how many."""
    every = max(1, round(1 / share))
    engine = create_engine(url)
    now = datetime.now(UTC)
    changed = 0
    try:
        with (
            httpx.Client(timeout=httpx.Timeout(30.0, read=600.0)) as http,
            http.stream("GET", f"{base}/v2/export", headers={"Accept": "*/*"}) as response,
            write_transaction(engine) as connection,
        ):
            state = connection.execute(sa.select(table("dataset_state"))).mappings().one()
            seq = int(state["last_seq"])
            load_id = connection.execute(
                sa.insert(table("dataset_load"))
                .values(dataset_version=state["dataset_version"], content_digest="", loaded_at=now)
                .returning(table("dataset_load").c.id)
            ).scalar_one()
            writer = RecordWriter(connection)
            for number, line in enumerate(response.iter_lines()):
                if number == 0 or not line or number % every:
                    continue
                record = orjson.loads(line)
                entity, version = record["type"], int(record["version"]) + 1
                rows = record_rows(entity, record)
                _edit(rows.row)
                writer.write(
                    entity, record["id"], rows, version=version, updated_at=now, replace=True
                )
                seq += 1
                writer.bulk.add(
                    "change",
                    {
                        "seq": seq,
                        "entity_type": entity,
                        "entity_id": record["id"],
                        "op": "upsert",
                        "version": version,
                        "changed_at": now,
                        "load_id": load_id,
                    },
                )
                changed += 1
            writer.flush()
            writer.bulk.flush()
            digest = moved_digest(state["content_digest"], writer.digest_change)
            connection.execute(
                sa.update(table("dataset_load"))
                .where(table("dataset_load").c.id == load_id)
                .values(
                    content_digest=digest,
                    first_seq=state["last_seq"] + 1,
                    last_seq=seq,
                    updated=changed,
                )
            )
            connection.execute(
                sa.update(table("dataset_state")).values(
                    last_seq=seq, content_digest=digest, loaded_at=now
                )
            )
    finally:
        engine.dispose()
    return changed


def _edit(row: dict[str, Any]) -> None:
    """A new text in the record's first language map (its name, title, label or value)."""
    for name in ("name", "title", "label", "citation", "value"):
        value = row.get(name)
        if isinstance(value, dict) and value:
            language = next(iter(value))
            row[name] = {**value, language: f"{value[language]} (revised)"}
            return
        if isinstance(value, str):
            row[name] = f"{value} (revised)"
            return


def exports_equal(source: str, target: str) -> bool:
    """`scn export` of both databases give the same records (the header aside)."""
    digests = []
    for url in (source, target):
        digest = hashlib.sha256()
        with subprocess.Popen(
            [SCN, "export", "--database", url], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        ) as process:
            assert process.stdout is not None
            process.stdout.readline()  # the header: it names the database's own digest
            for chunk in iter(lambda: process.stdout.read(1 << 20), b""):  # type: ignore[union-attr]
                digest.update(chunk)
        digests.append(digest.hexdigest())
    return digests[0] == digests[1]


def stored_equal(source: str, target: str) -> bool:
    """Every published record has the same id, version and content hash (which covers its
    rows, links and citations) in both databases."""
    found = []
    for url in (source, target):
        engine = create_engine(url)
        with engine.connect() as connection:
            rows = []
            for entity in ENTITIES:
                t = table(entity)
                query = sa.select(t.c.id, t.c.version, t.c.content_hash).order_by(t.c.id)
                if entity == "contact_point":
                    query = query.where(t.c.is_personal.is_not(True))
                rows.append([tuple(row) for row in connection.execute(query)])
        engine.dispose()
        found.append(rows)
    return found[0] == found[1]


class Source:
    def __init__(self, url: str, workdir: Path) -> None:
        self.url, self.workdir = url, workdir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        log = (workdir / "serve.log").open("ab")
        self.process = subprocess.Popen(
            [SCN, "serve", "--port", str(self.port)],
            env={
                **os.environ,
                "DATABASE_URL": url,
                "EXPORT_CACHE_DIR": str(workdir / "exports"),
                "RESPONSE_CACHE_MB": "0",  # every page of the change feed rendered, none kept
            },
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the source did not start")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def target_url(engine: str, records: int, workdir: Path) -> str:
    if engine == "sqlite":
        return f"sqlite:///{workdir / f'mirror-{records}.sqlite3'}"
    name = f"scn_bench_sync_{records}_{os.getpid()}"
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return POSTGRES.rsplit("/", 1)[0] + f"/{name}"


def drop_target(url: str) -> None:
    if url.startswith("postgresql"):
        admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}"')
        admin.dispose()


def bench(records: int) -> dict[str, Any]:
    VAR.mkdir(exist_ok=True)
    original = source_database(records)
    workdir = Path(tempfile.mkdtemp(prefix="scn-bench-sync-", dir=VAR))
    copy = workdir / "source.sqlite3"
    shutil.copy(original, copy)  # the update round changes it
    source_url = f"sqlite:///{copy}"
    result: dict[str, Any] = {
        "records": records,
        "seed": SEED,
        "batch": BATCH,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "load_before": load_average(),
        "cores": os.cpu_count(),
        "targets": {},
    }
    source = Source(source_url, workdir)
    targets = {engine: target_url(engine, records, workdir) for engine in ENGINES}
    try:
        say(f"{records}: the source streams /v2/export (first: rendered)")
        result["export_first"] = stream_export(source.base)
        say(f"  {result['export_first']}")
        result["export_kept"] = stream_export(source.base)
        say(f"  again (kept copy): {result['export_kept']}")
        say(f"{records}: the mirror's preparation alone, over the kept copy")
        result["prepare_alone"] = prepare_alone(workdir / "exports")
        say(f"  {result['prepare_alone']}")
        for engine, url in targets.items():
            say(f"{records}: snapshot into {engine}")
            result["targets"][engine] = {"snapshot": run_mirror(source, url)}
            say(f"  {result['targets'][engine]['snapshot']}")
        since = int(httpx.get(f"{source.base}/v2/meta").json()["last_seq"])
        say(f"{records}: update round ({UPDATE_SHARE:.0%} of the records)")
        started = time.monotonic()
        result["updated"] = update_round(source_url, source.base, UPDATE_SHARE)
        result["update_round_s"] = round(time.monotonic() - started, 1)
        say(f"  {result['updated']} records in {result['update_round_s']} s")
        result["changes_feed"] = stream_changes(source.base, since)
        say(f"  the source streams the change feed: {result['changes_feed']}")
        for engine, url in targets.items():
            say(f"{records}: catch-up into {engine}")
            result["targets"][engine]["catch_up"] = catch_up(
                source, url, whole_export=records <= EXPORT_CHECK_UP_TO
            )
        say(f"{records}: a small round ({SMALL_SHARE:.2%} of the records)")
        result["small_updated"] = update_round(source_url, source.base, SMALL_SHARE)
        for engine, url in targets.items():
            say(f"{records}: catch-up of the small round into {engine}")
            result["targets"][engine]["small_catch_up"] = catch_up(source, url, whole_export=False)
    finally:
        source.stop()
        for url in targets.values():
            drop_target(url)
        shutil.rmtree(workdir, ignore_errors=True)
    result["load_after"] = load_average()
    result["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return result


def catch_up(source: "Source", url: str, *, whole_export: bool) -> dict[str, Any]:
    """`scn mirror` into `url`, then whether the copy equals the source (with `whole_export`,
    both databases' `scn export` too)."""
    figures = run_mirror(source, url)
    figures["stored_equal"] = stored_equal(source.url, url)
    if whole_export:
        figures["export_equal"] = exports_equal(source.url, url)
    say(f"  {figures}")
    return figures


def report() -> str:
    rows = []
    for path in sorted(RESULTS.glob("sync-*.json"), key=lambda p: int(p.stem.split("-")[1])):
        r = json.loads(path.read_text())
        n = f"{r['records']:,}"

        def source_row(what: str, f: dict[str, Any], count: int, n: str = n) -> str:
            return (
                f"| {n} | {what} | {count:,} | {f['seconds']} | | {f['records_per_s']:,} | "
                f"| | {f['load'][0]:.1f} |"
            )

        def mirror_row(what: str, f: dict[str, Any], n: str = n) -> str:
            run = f.get("run_seconds", f["seconds"])
            return (
                f"| {n} | {what} | {f['records']:,} | {f['seconds']} | {run} | "
                f"{f['records_per_s']:,} | {f['peak_rss_mb']} | {cpu_per_record(f)} | "
                f"{f['load'][0]:.1f} |"
            )

        rows.append(
            source_row(
                "publisher streams its export (first, rendered)",
                r["export_first"],
                r["export_first"]["records"],
            )
        )
        rows.append(
            source_row(
                "publisher streams its export (kept copy)",
                r["export_kept"],
                r["export_kept"]["records"],
            )
        )
        if "prepare_alone" in r:
            p = r["prepare_alone"]
            rows.append(
                source_row(
                    f"mirror's preparation alone, nothing written ({p['cpu_us_per_record']} "
                    "CPU-µs a record)",
                    p,
                    p["records"],
                )
            )
        for engine, t in r["targets"].items():
            rows.append(mirror_row(f"**mirror snapshot into {engine}**", t["snapshot"]))
        rows.append(
            source_row(
                f"publisher streams the change feed ({r['updated']:,} updates)",
                r["changes_feed"],
                r["changes_feed"]["changes"],
            )
        )
        for engine, t in r["targets"].items():
            if "catch_up" in t:
                c = t["catch_up"]
                equal = (
                    "equal" if c.get("stored_equal") and c.get("export_equal", True) else "DIFFERS"
                )
                rows.append(mirror_row(f"**mirror catch-up into {engine}** ({equal})", c))
        for engine, t in r["targets"].items():
            if "small_catch_up" in t:
                c = t["small_catch_up"]
                equal = "equal" if c.get("stored_equal") else "DIFFERS"
                what = f"**mirror catch-up of {r['small_updated']:,} changes into {engine}**"
                rows.append(mirror_row(f"{what} ({equal})", c))
    header = (
        "| size | what | records | s (process) | s (run) | records/s | peak RSS MB "
        "| CPU-µs a record | load |\n"
        "|---:|---|---:|---:|---:|---:|---:|---|---:|\n"
    )
    return header + "\n".join(rows) + "\n"


def cpu_per_record(figures: dict[str, Any]) -> str:
    """A mirror run's CPU time per record or change, by process, as the table shows it: the
    mirror's own process, its preparing processes, the publisher's server, the PostgreSQL
    server's processes for the copy (none for SQLite), then all of them."""
    cpu = figures.get("cpu_seconds")
    if cpu is None:
        return ""  # a run from before the bench read it
    if figures["records"] < PER_RECORD_FROM:
        return f"{sum(cpu.values()):.1f} CPU-s in all"
    parts = [cpu[role] / figures["records"] * 1e6 for role in CPU_ROLES]
    return " + ".join(f"{part:,.0f}" for part in parts) + f" = {sum(parts):,.0f}"


CPU_ROLES = ("mirror", "preparers", "publisher", "database")
PER_RECORD_FROM = 1_000
"""Records from which a run's CPU time is shown per record: below, the mirror's start (imports,
the schema check: most of a second) is most of it."""


def write_report() -> None:
    table_text = report()
    for path in DOCS.values():
        text = path.read_text(encoding="utf-8")
        if BEGIN not in text:
            continue
        before, rest = text.split(BEGIN, 1)
        _, after = rest.split(END, 1)
        path.write_text(f"{before}{BEGIN}\n{table_text}{END}{after}", encoding="utf-8")


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    for records in SIZES:
        result = bench(records)
        out = RESULTS / f"sync-{records}.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        say(f"results in {out.relative_to(ROOT)}")
    write_report()
    say("tables written to docs/PERFORMANCE.md and docs/SYNC.md")


if __name__ == "__main__":
    main()
