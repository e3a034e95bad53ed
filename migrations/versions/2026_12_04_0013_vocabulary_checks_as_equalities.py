"""vocabulary checks as equalities joined by OR: SQLite writes rows without a temporary index each

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

Every column with a vocabulary (an organisation's `kind`, a practice's `status`, ...) has a CHECK
named `ck_<table>_<column>_allowed`, written until now as `column IN ('a', 'b', ...)`. SQLite
evaluates such a list in a CHECK by building a temporary index of its values, and builds it again
for every row an INSERT or UPDATE writes (`EXPLAIN` shows an OpenEphemeral and an IdxInsert per
value, outside any Once): a 4-value check cost 3.5 µs a row, its OR form 0.7 µs; an organisation
row, with four such checks, 14 µs to insert against 8 (docs/PERFORMANCE.md). From this revision
on the same condition is written as `column = 'a' OR column = 'b' OR ...` (app/models.py
`one_of`): the same values are allowed, on both engines.

On SQLite the constraint is text in the table's definition, and the rows are already known to
hold: the definitions are rewritten in place (`PRAGMA writable_schema`, as SQLite's ALTER TABLE
page describes for changes that leave the stored rows as they are), which takes no time whatever
the size, instead of copying each table. On PostgreSQL each constraint is dropped and added again
in its new form, which checks every row of its table once. Downgrade writes the IN lists back.
"""

import logging
import re
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_IN_LIST = re.compile(r"(\w+) IN \(('[^'()]*'(?:, '[^'()]*')*)\)")
"""A vocabulary check's condition in its IN form, as revisions 0001 to 0012 wrote it."""
_EQUALITIES = re.compile(r"(\w+) = '[^'()]*'(?: OR \1 = '[^'()]*')+")
"""The same condition as equalities joined by OR (this revision's form)."""
_VALUE = re.compile(r"'([^']*)'")

Form = Callable[[str, list[str]], str]
"""A vocabulary condition written from its column and its values."""


def _equalities(column: str, values: list[str]) -> str:
    return " OR ".join(f"{column} = '{value}'" for value in values)


def _in_list(column: str, values: list[str]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


def upgrade() -> None:
    _rewrite(_IN_LIST, _equalities)


def downgrade() -> None:
    _rewrite(_EQUALITIES, _in_list)


def _rewrite(old: re.Pattern[str], new: Form) -> None:
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        _rewrite_sqlite(connection, old, new)
    else:
        _rewrite_postgresql(connection, new)


def _rewrite_sqlite(connection: sa.Connection, old: re.Pattern[str], new: Form) -> None:
    """The vocabulary checks in each table's stored definition, rewritten in place. The new
    schema version makes every connection (this one too) read the definitions again."""

    def rewritten(found: re.Match[str]) -> str:
        return new(found.group(1), _VALUE.findall(found.group(0)))

    tables = connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql LIKE '%_allowed CHECK%'"
    ).all()
    changed = [(name, text) for name, sql in tables if (text := old.sub(rewritten, sql)) != sql]
    if not changed:
        return
    (schema_version,) = connection.exec_driver_sql("PRAGMA schema_version").one()
    connection.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        for name, sql in changed:
            connection.exec_driver_sql(
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (sql, name)
            )
        connection.exec_driver_sql(f"PRAGMA schema_version = {schema_version + 1}")
    except sa.exc.DBAPIError as exc:
        # A SQLite built to refuse writes to its schema table (SQLITE_DBCONFIG_DEFENSIVE): the
        # checks stay as they were, as correct, only slower to evaluate.
        logging.getLogger("alembic").warning(
            "revision 0013: the vocabulary checks keep their form (%s)", exc.orig
        )
    finally:
        connection.exec_driver_sql("PRAGMA writable_schema = OFF")


_POSTGRESQL_CHECKS = sa.text(
    "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
    "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
    "WHERE c.contype = 'c' AND n.nspname = current_schema() AND c.conname LIKE :names "
    "ORDER BY 1, 2"
)


def _rewrite_postgresql(connection: sa.Connection, new: Form) -> None:
    """Each vocabulary check dropped and added again in the `new` form. PostgreSQL shows a
    check in its own words (`((kind)::text = ANY ((ARRAY['a'::character varying, ...`, or
    `((kind)::text = 'a'::text) OR ...`): its column, whether it allows NULL and its values
    are read from those, and the condition written again as the migrations write it."""
    checks = connection.execute(_POSTGRESQL_CHECKS, {"names": r"ck\_%\_allowed"}).all()
    for table, name, definition in checks:
        column = re.match(r"CHECK \(+(\w+)", definition)
        assert column is not None, definition
        condition = new(column.group(1), _VALUE.findall(definition))
        if " IS NULL" in definition:
            condition = f"{column.group(1)} IS NULL OR {condition}"
        connection.exec_driver_sql(
            f'ALTER TABLE {table} DROP CONSTRAINT "{name}", '
            f'ADD CONSTRAINT "{name}" CHECK ({condition})'
        )
