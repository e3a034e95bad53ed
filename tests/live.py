"""Real servers for tests that speak HTTP to the API: uvicorn in a background thread
(`live_server`), or `scn serve` as a process of its own (`serve_process`)."""

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from app.api.main import create_app
from app.settings import PROJECT_ROOT, Settings
from tests.test_cli import SCN


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(database_url: str, **settings: Any) -> Iterator[str]:
    """Serve the API on a free loopback port; yields its base URL."""
    with live_app(create_app(Settings(database_url=database_url, **settings))) as base:
        yield base


@contextmanager
def live_app(app: Any) -> Iterator[str]:
    """Serve an ASGI app (one the test holds) on a free loopback port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def client(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=30)


@contextmanager
def serve_process(database_url: str, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`scn serve` as a real process; yields its base URL and the process. Its logs (stderr) go
    to a file, read by `logs_of(process)`: a pipe nobody reads would fill and stall the server."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in the finally below)
        prefix="scn-serve-", suffix=".log", delete=False
    )
    process = subprocess.Popen(
        [SCN, "serve", "--port", str(port)],
        env={**os.environ, "DATABASE_URL": database_url, **env},
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    process.log_path = log.name  # type: ignore[attr-defined]
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"scn serve did not start: {logs_of(process)}") from None
                time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)
        log.close()


def logs_of(process: subprocess.Popen[bytes]) -> str:
    return Path(process.log_path).read_text(encoding="utf-8")  # type: ignore[attr-defined]


def schemathesis(contract_url: str) -> subprocess.CompletedProcess[str]:
    """The Schemathesis command line app makers are told to run (docs/API.md), from the project
    root so that it reads the committed schemathesis.toml and nothing else: every check, all
    four phases. Bounded to fit the suite: SCHEMATHESIS_MAX_EXAMPLES per operation (60 by
    default), in one pass, the same cases at every run (a seed, deterministic generation, so no
    example database). Not `--max-time` (the documented command gives 120 s): with it, fuzzing
    repeats until the time is spent, so a faster or idler machine tries more cases than a slower
    one, and the suite's outcome would depend on the machine's load."""
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            contract_url,
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--generation-deterministic",  # which keeps no example database either
            "--max-examples",
            os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "60"),
            # One worker: with two, their threads sometimes parse Python at once, and CPython
            # 3.11's ast module then fails ("AST constructor recursion depth mismatch",
            # python/cpython#106905) inside Hypothesis, which reports a runtime error.
            "--workers",
            "1",
            "--seed",
            "20261121",
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=900,
        check=False,
    )
