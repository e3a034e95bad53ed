"""The 10% catch-up of `scn mirror`, two versions of the code side by side, in turn.

    .venv/bin/python bench/sync_side_by_side.py BEFORE AFTER    # two commits of this repository
    SIDE_BY_SIDE_RUN=snapshot .venv/bin/python bench/sync_side_by_side.py BEFORE AFTER

Machine speed drifts from one session to the next and within one run (docs/PERFORMANCE.md,
"Noise"), so a change to the catch-up is measured against the code before it in the same run:
one snapshot of the bench's synthetic publisher (`bench/sync.py`, BENCH_SYNC_RECORDS: one size,
default 1,000,000) into each engine, one update round of 10% of the records at the publisher,
then, ROUNDS times (SIDE_BY_SIDE_ROUNDS, default 2), each engine's copy of the snapshot (a file
copy; `CREATE DATABASE ... TEMPLATE`) caught up by BEFORE, then by AFTER. Each commit runs from a
worktree of its own (`PYTHONPATH`), with this checkout's virtual environment. After the first
round each copy is compared with the publisher (ids, versions, content hashes). Prints one JSON
line per catch-up; the run time is the one the mirror's summary line gives.

With SIDE_BY_SIDE_RUN=snapshot, each commit instead takes a whole snapshot of the publisher into
a new database of each engine, in turn. The publisher is served by this checkout's code; a copy
made by a commit at another schema revision hashes the same rows in another form, so only the
copies at the publisher's revision are compared with it (`equal` is null for the others). With
SIDE_BY_SIDE_CODE=publisher as well, the two commits (both at this checkout's schema revision)
serve the publisher in turn, its export streamed once in gzip first, and this checkout's code
takes each snapshot: a change to what the publisher does for a mirror, measured.

Work files go to bench/var/side-by-side-<records>/ (kept, with the snapshots, so a second run
skips making them: delete the folder after changing the snapshot's code).
"""

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import sqlalchemy as sa
import sync

ROUNDS = int(sync.env("SIDE_BY_SIDE_ROUNDS", "2"))
RECORDS = sync.SIZES[0]
PORT = int(sync.env("SIDE_BY_SIDE_PORT", "23042"))  # a copy follows one source URL: kept fixed
RUN = sync.env("SIDE_BY_SIDE_RUN", "catch-up")  # or "snapshot"
SIDE = sync.env("SIDE_BY_SIDE_CODE", "mirror")  # or "publisher" (snapshots only)


def worktree(commit: str, folder: Path) -> Path:
    path = folder / f"code-{commit}"
    if not path.exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), commit], check=True, cwd=sync.ROOT
        )
    return path


@contextmanager
def running(code: Path) -> Iterator[None]:
    """The processes started inside run the commit checked out in `code` (`PYTHONPATH`), with
    this checkout's virtual environment."""
    os.environ["PYTHONPATH"] = str(code)
    try:
        yield
    finally:
        del os.environ["PYTHONPATH"]


def main() -> None:
    before, after = sys.argv[1:3]
    if SIDE == "publisher" and RUN != "snapshot":
        raise SystemExit("SIDE_BY_SIDE_CODE=publisher measures snapshots: set SIDE_BY_SIDE_RUN")
    folder = sync.VAR / f"side-by-side-{RECORDS}"
    folder.mkdir(parents=True, exist_ok=True)
    code = {name: worktree(name, folder) for name in (before, after)}
    source_file, ready = folder / "source.sqlite3", folder / "ready"
    snapshot_db = f"side_by_side_snapshot_{RECORDS}"
    trial_db = "side_by_side_trial"
    base = sync.POSTGRES.rsplit("/", 1)[0]
    admin = sa.create_engine(sync.POSTGRES, isolation_level="AUTOCOMMIT")

    def postgres(statement: str) -> None:
        with admin.connect() as connection:
            connection.exec_driver_sql(statement)

    if not ready.exists():
        shutil.copy(sync.source_database(RECORDS), source_file)
    sync.free_port = lambda: PORT
    # The publisher runs this checkout's code: its database at this code's schema revision.
    subprocess.run(
        [sync.SCN, "db", "upgrade", "--database", f"sqlite:///{source_file}"], check=True
    )
    source = sync.Source(f"sqlite:///{source_file}", folder)
    try:
        if not ready.exists():
            sync.say("snapshots (this checkout's code), then the update round")
            sync.run_mirror(source, f"sqlite:///{folder / 'snapshot.sqlite3'}")
            postgres(f'DROP DATABASE IF EXISTS "{snapshot_db}"')
            postgres(f'CREATE DATABASE "{snapshot_db}"')
            sync.run_mirror(source, f"{base}/{snapshot_db}")
            sync.update_round(source.url, source.base, sync.UPDATE_SHARE)
            ready.touch()
        for number in range(ROUNDS):
            for engine in sync.ENGINES:
                for commit in (before, after):
                    snapshot = RUN == "snapshot"
                    if engine == "sqlite":
                        trial = folder / "trial.sqlite3"
                        for suffix in ("", "-wal", "-shm"):
                            Path(f"{trial}{suffix}").unlink(missing_ok=True)
                        if not snapshot:
                            shutil.copy(folder / "snapshot.sqlite3", trial)
                        os.sync()
                        url = f"sqlite:///{trial}"
                    else:
                        postgres(f'DROP DATABASE IF EXISTS "{trial_db}"')
                        template = "" if snapshot else f' TEMPLATE "{snapshot_db}"'
                        postgres(f'CREATE DATABASE "{trial_db}"{template} STRATEGY FILE_COPY')
                        url = f"{base}/{trial_db}"
                    if SIDE == "publisher":
                        source.stop()
                        source = _publisher(source_file, folder, code[commit])
                    time.sleep(3)  # the copy's writes settle
                    with running(code[commit]) if SIDE == "mirror" else nullcontext():
                        figures = sync.run_mirror(source, url)
                    comparable = number == 0 and _revision(url) == _revision(source.url)
                    line = {
                        "round": number,
                        "run": RUN,
                        "code": SIDE,
                        "engine": engine,
                        "commit": commit,
                        "run_s": figures["run_seconds"],
                        "records_per_s": figures["records_per_s"],
                        "equal": sync.stored_equal(source.url, url) if comparable else None,
                        "load": figures["load"],
                    }
                    print(json.dumps(line), flush=True)
    finally:
        source.stop()
        postgres(f'DROP DATABASE IF EXISTS "{trial_db}"')
        admin.dispose()


def _publisher(source_file: Path, folder: Path, code: Path) -> sync.Source:
    """The publisher served by the code in `code`, its export streamed once in gzip as a mirror
    asks for it (what that code keeps of it, it keeps now, as after any mirror's first run)."""
    with running(code):
        source = sync.Source(f"sqlite:///{source_file}", folder)
    sync.stream_export(source.base)
    return source


def _revision(url: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
