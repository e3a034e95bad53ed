"""Foreign keys checked once, over whole tables, at the end of a transaction that writes a
whole data set (a mirror's snapshot), instead of once per row.

Every foreign key is DEFERRABLE INITIALLY DEFERRED (app/models.py), so a per-row check runs for
each row written: on PostgreSQL each is queued and run at COMMIT as one indexed lookup that also
locks the referenced row (FOR KEY SHARE); a million-record snapshot spent 36 s of its 300 s in
its COMMIT so. A join over each referencing table finds the same rows in about 3 s.

How the per-row checks are turned off, for this transaction only:
- PostgreSQL: `SET LOCAL session_replication_role = replica`, which skips the foreign keys'
  triggers (as `pg_restore --disable-triggers` does). It needs a superuser, or PostgreSQL 15's
  `GRANT SET ON PARAMETER session_replication_role`; without it, the per-row checks stay on and
  nothing else changes.
- SQLite: `PRAGMA foreign_keys = OFF` on the connection before its transaction begins (SQLite
  ignores it inside one), and ON again once it ends; `PRAGMA foreign_key_check` at the end.

Either way, the check runs inside the transaction before it commits: a reference to a missing
record rolls everything back, as the per-row checks would have.
"""

from collections import Counter

import sqlalchemy as sa

from app import models
from app.db import is_sqlite


class DanglingReferences(Exception):
    """Rows refer to records that are not there; the transaction was rolled back."""

    def __init__(self, found: dict[str, tuple[int, str]]) -> None:
        self.found = found  # "table.column -> target": (rows, one of the missing values)
        listed = "; ".join(
            f"{rows:,} in {where} (for example {example!r})"
            for where, (rows, example) in sorted(found.items())
        )
        super().__init__(f"rows refer to records that are not there: {listed}")


def sqlite_checks_off(connection: sa.Connection) -> None:
    """SQLite's per-row foreign key checks off on `connection` (outside a transaction: inside
    one, SQLite ignores it). Turn them on again before the connection goes back to the pool."""
    _sqlite_foreign_keys(connection, "OFF")


def sqlite_checks_on(connection: sa.Connection) -> None:
    _sqlite_foreign_keys(connection, "ON")


def _sqlite_foreign_keys(connection: sa.Connection, state: str) -> None:
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA foreign_keys = {state}")  # on the driver: no transaction begun


def postgresql_checks_off(connection: sa.Connection) -> bool:
    """Skip PostgreSQL's per-row foreign key checks for the rest of the transaction, if the
    role may; whether it could."""
    try:
        with connection.begin_nested():  # a refused SET must not abort the transaction
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
    except sa.exc.DBAPIError:
        return False
    return True


def check(connection: sa.Connection) -> None:
    """Raise DanglingReferences if any row refers to a record that is not there."""
    found = (
        _sqlite_dangling(connection) if is_sqlite(connection.engine.url) else _dangling(connection)
    )
    if found:
        raise DanglingReferences(found)


def _dangling(connection: sa.Connection) -> dict[str, tuple[int, str]]:
    """One anti-join per foreign key of the schema (PostgreSQL plans each as a hash join)."""
    found: dict[str, tuple[int, str]] = {}
    for table in models.SQLModel.metadata.sorted_tables:
        for key in table.foreign_key_constraints:
            for column, element in zip(key.columns, key.elements, strict=True):
                target = element.column
                rows, example = connection.execute(
                    sa.text(
                        f'SELECT count(*), min(c."{column.name}") FROM "{table.name}" c '
                        f'WHERE c."{column.name}" IS NOT NULL AND NOT EXISTS ('
                        f'SELECT 1 FROM "{target.table.name}" t '
                        f'WHERE t."{target.name}" = c."{column.name}")'
                    )
                ).one()
                if rows:
                    where = f"{table.name}.{column.name} -> {target.table.name}"
                    found[where] = (rows, str(example))
    return found


def _sqlite_dangling(connection: sa.Connection) -> dict[str, tuple[int, str]]:
    driver = connection.connection.driver_connection
    assert driver is not None
    violations = driver.execute("PRAGMA foreign_key_check").fetchall()
    counts = Counter((table, parent, key) for table, _, parent, key in violations)
    found: dict[str, tuple[int, str]] = {}
    for (table, parent, key), rows in counts.items():
        column, referenced = next(
            (row[3], row[4])
            for row in driver.execute(f'PRAGMA foreign_key_list("{table}")')
            if row[0] == key
        )
        (example,) = driver.execute(
            f'SELECT c."{column}" FROM "{table}" c WHERE c."{column}" IS NOT NULL AND NOT EXISTS '
            f'(SELECT 1 FROM "{parent}" t WHERE t."{referenced}" = c."{column}") LIMIT 1'
        ).fetchone()
        found[f"{table}.{column} -> {parent}"] = (rows, str(example))
    return found
