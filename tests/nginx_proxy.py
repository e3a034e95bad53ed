"""deploy/nginx.conf, rendered as its header says and run by nginx in a folder of the test's own.

`caching_proxy(servers)` renders the committed file with `envsubst` (the recipe of
docs/OPERATIONS.md: only $LISTEN and $API_SERVERS are replaced), starts `nginx -p <folder>` on a
free loopback port, waits until it answers, and yields its base URL; the process is stopped and
the folder deleted at the end, whatever happens. Where nginx or envsubst is missing, the test
skips with the reason, except under CI=true, where it fails (`make test` installs nginx).
"""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from app.settings import PROJECT_ROOT
from tests.conftest import IN_CI
from tests.live import free_port

CONFIG = PROJECT_ROOT / "deploy" / "nginx.conf"
START_TIMEOUT_S = 30


def render(listen: str, servers: list[str]) -> str:
    """deploy/nginx.conf with its two placeholders filled, by the documented command."""
    result = subprocess.run(
        ["envsubst", "$LISTEN $API_SERVERS"],
        input=CONFIG.read_text(encoding="utf-8"),
        env={
            **os.environ,
            "LISTEN": listen,
            "API_SERVERS": " ".join(f"server {server};" for server in servers),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def _unavailable(reason: str) -> None:
    message = f"nginx caching proxy unavailable: {reason}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: `make test` installs nginx)")
    pytest.skip(message)


@contextmanager
def caching_proxy(servers: list[str]) -> Iterator[str]:
    """nginx with deploy/nginx.conf in front of `servers` (host:port); yields its base URL."""
    for program in ("nginx", "envsubst"):
        if shutil.which(program) is None:
            _unavailable(f"`{program}` is not installed")
    port = free_port()
    prefix = Path(tempfile.mkdtemp(prefix="scn-nginx-"))
    # Started as root, nginx's workers run as `nobody`: they must reach the folder.
    prefix.chmod(0o755)
    process: subprocess.Popen[bytes] | None = None
    try:
        (prefix / "nginx.conf").write_text(render(f"127.0.0.1:{port}", servers))
        process = subprocess.Popen(
            [
                "nginx",
                "-p",
                str(prefix),
                "-e",
                str(prefix / "error.log"),
                "-c",
                str(prefix / "nginx.conf"),
                "-g",
                "daemon off;",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (prefix / "error.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"nginx did not start: {log}") from None
                time.sleep(0.1)
        yield base
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGQUIT)  # graceful: workers finish, then exit
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        with contextlib.suppress(OSError):
            shutil.rmtree(prefix)
