"""The checkout stands alone and stays clean: nothing the project runs or tests reaches outside
it, the texts and fixtures it needs are in it, and running things leaves no stray files."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import PROJECT_ROOT
from tests.stray_files import git_status

SCN = str(Path(sys.executable).parent / "scn")

# What the project runs and tests (issue 14): code, tests, migrations, benchmark, build and CI.
CHECKED = ["app", "tests", "migrations", "bench", "Makefile", ".ci"]
SKIPPED_SUFFIXES = {".json", ".sql", ".png", ".svg", ".pyc", ".txt"}
"""Data (recorded answers, SQL dumps, pictures, the source texts), not instructions."""

OUTSIDE = [
    (re.compile(r"\.\./+shared\b|\bshared/(?:seed-documents|hsds)"), "the workspace's shared/"),
    (re.compile(r"\b(?:PROJECT_)?ROOT\s*\.\s*parent\b"), "a folder above the checkout"),
    (re.compile(r"""parent\s*/\s*["']shared["']"""), "the workspace's shared/"),
    (re.compile(r"""(?<![\w.:/])/work(?:/|\b)"""), "an absolute path into the workspace"),
    (re.compile(r"""["'](?:\.\./)+(?!\.\./|etc\b|app\b|__init__)\w"""), "a path above the root"),
]
"""Ways a file can reach outside the checkout. The last pattern lets the hostile-input tests'
traversal attempts ("../../etc/passwd", "/v1/../../app/settings.py") through: they are requests
the server must refuse, not files the project reads."""


def outside_references(text: str) -> list[str]:
    """One "line N: what (text)" per reference to something outside the checkout."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for pattern, what in OUTSIDE:
            match = pattern.search(line)
            if match:
                found.append(f"line {number}: {what} ({match.group(0).strip()})")
    return found


def checked_files() -> list[Path]:
    files = []
    for name in CHECKED:
        path = PROJECT_ROOT / name
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        for candidate in candidates:
            relative = candidate.relative_to(PROJECT_ROOT)
            if not candidate.is_file() or candidate.suffix in SKIPPED_SUFFIXES:
                continue
            if {".venv", "var", "__pycache__"} & set(relative.parts):
                continue
            files.append(candidate)
    return files


def test_the_scanner_finds_each_way_out() -> None:
    assert outside_references('OFFICIAL = PROJECT_ROOT.parent / "shared" / "hsds-3.0"')
    # Joined at run time: the sample is what the scanner must catch, not a path this file uses.
    up_to_the_workspace = "../" + "shared"
    assert outside_references(f"TEXTS = Path('{up_to_the_workspace}/seed-documents')")
    assert outside_references('SEEDS = "/work/main/seeds"')
    assert outside_references('cp "../other-repo/file" .')
    assert not outside_references('SOURCES = PROJECT_ROOT / "sources"')
    assert not outside_references('"/v1/cities/../../app/settings.py",')


def test_nothing_the_project_runs_refers_outside_the_checkout() -> None:
    this_file = Path(__file__).resolve()
    problems = []
    files = checked_files()
    assert len(files) > 50
    for path in files:
        if path.resolve() == this_file:
            continue  # it spells out the patterns it looks for
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        problems += [f"{path.relative_to(PROJECT_ROOT)}: {p}" for p in outside_references(text)]
    assert not problems, "\n".join(problems)


def test_the_source_texts_and_the_hsds_schemas_are_in_the_checkout() -> None:
    texts = sorted(p.name for p in (PROJECT_ROOT / "sources").glob("*.txt"))
    assert len(texts) == 5
    readme = (PROJECT_ROOT / "sources" / "README.md").read_text(encoding="utf-8")
    for name in texts:
        assert f"sources/{name}" in readme, f"sources/README.md does not say where {name} is from"
    hsds = PROJECT_ROOT / "tests" / "fixtures" / "hsds-3.0"
    for name in ("service.json", "organization.json", "openapi.json", "LICENSE", "README.md"):
        assert (hsds / name).is_file()
    assert "Attribution-ShareAlike 4.0" in (hsds / "LICENSE").read_text(encoding="utf-8")


def test_a_sqlite_uri_leaves_no_file_folder_behind(tmp_path: Path) -> None:
    """`sqlite:///file:/abs/path?...&uri=true` is a SQLite URI; read as a path, it made a folder
    named `file:` in the working directory."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    database = tmp_path / "db.sqlite3"
    env = dict(os.environ, DATABASE_URL=f"sqlite:///file:{database}?uri=true")
    for command in (["db", "upgrade"], ["db", "current"]):
        result = subprocess.run(
            [SCN, *command], cwd=workdir, env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
    assert database.is_file()
    assert list(workdir.iterdir()) == []


def _pytest_in(repo: Path, test_body: str) -> subprocess.CompletedProcess[str]:
    (repo / "test_sample.py").write_text(test_body, encoding="utf-8")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "sample"],
        cwd=repo,
        check=True,
    )
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.stray_files"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_a_test_run_that_leaves_a_stray_file_fails(tmp_path: Path) -> None:
    if shutil.which("git") is None or git_status(PROJECT_ROOT) is None:
        pytest.skip("not a git checkout: the stray-file check stands aside, and so does its test")
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    clean = _pytest_in(repo, "def test_nothing():\n    assert True\n")
    assert clean.returncode == 0, clean.stdout + clean.stderr

    stray = _pytest_in(
        repo,
        "from pathlib import Path\n\n"
        "def test_leaves_a_folder():\n"
        "    Path('file:', 'tmp').mkdir(parents=True)\n"
        "    Path('file:', 'tmp', 'db.sqlite3').write_text('x')\n",
    )
    assert stray.returncode == 1, stray.stdout + stray.stderr
    assert "1 passed" in stray.stdout
    assert "the test run changed the checkout" in stray.stdout
    assert "file:/tmp/db.sqlite3" in stray.stdout
