"""The `scn` command as users run it: real processes, exit codes and messages, no tracebacks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MINI_SEEDS
from tests.helpers import edit_record

SCN = str(Path(sys.executable).parent / "scn")


def scn(*args: str, database: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if database:
        env["DATABASE_URL"] = database
    return subprocess.run(
        [SCN, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_every_command_has_help() -> None:
    for command in (
        [],
        ["serve"],
        ["db"],
        ["db", "upgrade"],
        ["db", "downgrade"],
        ["db", "current"],
        ["load"],
    ):
        result = scn(*command, "--help")
        assert result.returncode == 0, result.stderr
        assert "Usage: scn" in result.stdout


def test_db_upgrade_current_downgrade(empty_database_url: str) -> None:
    url = empty_database_url
    assert "none (empty database)" in scn("db", "current", database=url).stdout
    assert scn("db", "upgrade", database=url).returncode == 0
    current = scn("db", "current", database=url)
    assert current.returncode == 0
    assert "up to date" in current.stdout
    assert scn("db", "downgrade", "base", database=url).returncode == 0
    assert "none (empty database)" in scn("db", "current", "-d", url).stdout


def test_load_reports_what_changed(database_url: str) -> None:
    first = scn("load", str(MINI_SEEDS), database=database_url)
    assert first.returncode == 0, first.stderr
    assert "17 created, 0 updated, 0 deleted (changes 1..17)" in first.stdout
    again = scn("load", str(MINI_SEEDS), database=database_url)
    assert "no change" in again.stdout


def test_a_bad_seed_gives_one_readable_message_and_exit_1(
    database_url: str, mini_copy: Path
) -> None:
    edit_record(mini_copy, "cities.yaml", "viborg", lambda r: r.update(population="many"))
    result = scn("load", str(mini_copy), database=database_url)
    assert result.returncode == 1
    assert "the seeds were refused, the database is unchanged" in result.stderr
    assert "cities.yaml: record 'viborg': field 'population'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_load_into_an_unmigrated_database_says_what_to_do(empty_database_url: str) -> None:
    result = scn("load", str(MINI_SEEDS), database=empty_database_url)
    assert result.returncode == 1
    assert "run `scn db upgrade` first" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://nobody:secret@127.0.0.1:1/none", "sqlite:////proc/no/such/dir/db"],
    ids=["postgresql-down", "sqlite-unwritable"],
)
def test_an_unreachable_database_is_a_clear_error(url: str) -> None:
    result = scn("load", str(MINI_SEEDS), database=url)
    assert result.returncode == 2
    assert "scn: cannot write to the database" in result.stderr
    assert "Traceback" not in result.stderr
    assert "secret" not in result.stderr, "the password must not be printed"
