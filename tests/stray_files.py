"""A pytest plugin: a test run must leave the checkout as it found it.

At the start of the session it notes what `git status` shows; at the end, anything new (a stray
file or folder such as `file:` from a SQLite URI taken for a path, or an edited tracked file) is
listed and the run fails, even when every test passed. Files .gitignore lists (var/, caches) do
not count. Outside a git checkout (an unpacked archive) there is nothing to compare, and the
check stands aside.
"""

import subprocess
from pathlib import Path

import pytest

STATUS_KEY = pytest.StashKey[set[str] | None]()


def git_status(root: Path) -> set[str] | None:
    """`git status --porcelain` lines for `root`, untracked files listed one by one; None when
    `root` is not a git checkout or git is missing."""
    try:
        result = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    if result.returncode != 0:
        return None
    return set(result.stdout.splitlines())


def pytest_sessionstart(session: pytest.Session) -> None:
    session.stash[STATUS_KEY] = git_status(session.config.rootpath)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.stash.get(STATUS_KEY, None)
    if before is None:
        return
    after = git_status(session.config.rootpath) or set()
    stray = sorted(after - before)
    if not stray:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [
        "the test run changed the checkout (git status shows what it did not show before):",
        *(f"  {line}" for line in stray),
    ]
    if reporter is not None:
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line, red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
