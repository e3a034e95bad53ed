"""A PostgreSQL server of the test's own, for tests that stop and restart the database.

`private_postgres()` runs `initdb` into a fresh temporary folder and `pg_ctl start`s it on a free
loopback port, with trust authentication; the test may `stop()` and `start()` it again (same
folder, same port, so the same `url`). `private_standby(primary)` makes a streaming hot standby
of such a server with `pg_basebackup`, on a port of its own. Whatever happens, the server is
stopped and the folder deleted at the end.

PostgreSQL refuses to run as root, and the tests usually do: then every PostgreSQL program runs
as the `postgres` system user (`runuser`), in a folder that user owns. Where the programs are
missing or the server cannot start, the test skips with the reason, except under CI=true, where
it fails.
"""

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

from tests.conftest import IN_CI
from tests.live import free_port

POSTGRESQL_ROOT = Path("/usr/lib/postgresql")
SERVICE_USER = "postgres"
START_TIMEOUT_S = 30


class PostgresUnavailable(Exception):
    """The private server cannot be set up here; the message says why."""


def find_bindir() -> Path:
    """The folder of initdb and pg_ctl: the newest /usr/lib/postgresql/<version>/bin, else PATH."""
    candidates: list[Path] = []
    if POSTGRESQL_ROOT.is_dir():
        versions = [p for p in POSTGRESQL_ROOT.iterdir() if p.name.replace(".", "").isdigit()]
        for version in sorted(versions, key=lambda p: float(p.name), reverse=True):
            candidates.append(version / "bin")
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise PostgresUnavailable(
        f"no PostgreSQL server programs (initdb, pg_ctl) in {POSTGRESQL_ROOT}/<version>/bin "
        "or on PATH"
    )


class PrivatePostgres:
    """One initdb'd data folder and the server on it; `url` stays valid across stop/start."""

    def __init__(self, bindir: Path, root: Path, port: int, as_user: str | None) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self.port = port
        self.as_user = as_user
        self.running = False

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        command = [str(self.bindir / program), *args]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=self.root,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PostgresUnavailable(f"{program} failed: {exc}") from exc
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            raise PostgresUnavailable(
                f"{program} exited with {result.returncode}: {output[-800:]}{self._log_tail()}"
            )

    def _log_tail(self) -> str:
        try:
            text = self.log.read_text(errors="replace").strip()
        except OSError:
            return ""
        return f"\nserver log:\n{text[-800:]}" if text else ""

    def initdb(self) -> None:
        self._run(
            "initdb",
            "--pgdata",
            str(self.data),
            "--username",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )

    def basebackup(self, primary: "PrivatePostgres", slot: str) -> None:
        self._run(
            "pg_basebackup",
            "--host=127.0.0.1",
            f"--port={primary.port}",
            "--username=postgres",
            "--pgdata",
            str(self.data),
            "--wal-method=stream",
            "--write-recovery-conf",
            "--create-slot",
            f"--slot={slot}",
            "--checkpoint=fast",
            "--no-sync",
            timeout=120,
        )

    def start(self) -> None:
        """Start the server (again) on the same folder and port; returns once it accepts."""
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.root}",
                # Speed without losing commits to an immediate stop: the WAL is still written at
                # each commit (synchronous_commit stays on), only not fsynced to the disk.
                "-c fsync=off",
                "-c full_page_writes=off",
                "-c shared_buffers=16MB",
                "-c max_connections=30",
            ]
        )
        self._run(
            "pg_ctl",
            "start",
            "--wait",
            f"--timeout={START_TIMEOUT_S}",
            "--pgdata",
            str(self.data),
            "--log",
            str(self.log),
            "-o",
            options,
            timeout=START_TIMEOUT_S + 10,
        )
        self.running = True

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server now (`immediate`: like a crash, every connection cut at once)."""
        self._run(
            "pg_ctl", "stop", "--wait", "--pgdata", str(self.data), "--mode", mode, timeout=40
        )
        self.running = False


def _service_user() -> str | None:
    """The user to run PostgreSQL as: None when not root, else the `postgres` system user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError as exc:
        raise PostgresUnavailable(
            f"running as root and there is no {SERVICE_USER!r} system user to run PostgreSQL as"
        ) from exc
    if shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root and `runuser` is missing")
    return SERVICE_USER


def _unavailable(reason: str) -> NoReturn:
    message = f"private PostgreSQL server unavailable: {reason}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: PostgreSQL tests may not skip)")
    pytest.skip(message)


def _new_root(user: str | None) -> Path:
    # Not under pytest's tmp_path: that is private to root, and the server runs as another
    # user. mkdtemp makes the folder 0700; it is then handed to that user.
    root = Path(tempfile.mkdtemp(prefix="scn-private-pg-"))
    if user:
        shutil.chown(root, user=user, group=None)
    return root


@contextmanager
def _server(make: Callable[[Path, str | None], PrivatePostgres]) -> Iterator[PrivatePostgres]:
    """`make(root, user)` sets up a server in a new folder and starts it; it is stopped and the
    folder deleted at the end, whatever happens."""
    root: Path | None = None
    server: PrivatePostgres | None = None
    try:
        try:
            user = _service_user()
            root = _new_root(user)
            server = make(root, user)
            server.start()
        except PostgresUnavailable as exc:
            _unavailable(str(exc))
        assert server is not None
        yield server
    finally:
        if server is not None and server.data.exists():
            with contextlib.suppress(PostgresUnavailable):  # it was not running
                server.stop()
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running PostgreSQL server of this test's own; stopped and deleted afterwards."""

    def make(root: Path, user: str | None) -> PrivatePostgres:
        server = PrivatePostgres(find_bindir(), root, free_port(), user)
        server.initdb()
        return server

    with _server(make) as server:
        yield server


@contextmanager
def private_standby(primary: PrivatePostgres, slot: str = "standby") -> Iterator[PrivatePostgres]:
    """A hot standby of `primary` on a port of its own, streaming its WAL: a copy made with
    `pg_basebackup --write-recovery-conf` (which writes `standby.signal` and the
    `primary_conninfo` to stream from) through a replication slot, so the primary keeps the WAL
    the standby has not received yet, also while the standby is stopped."""

    def make(root: Path, user: str | None) -> PrivatePostgres:
        server = PrivatePostgres(primary.bindir, root, free_port(), user)
        server.basebackup(primary, slot)
        return server

    with _server(make) as server:
        yield server
