"""Small tools the tests share: edit a seed file, read the whole database."""

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlmodel import SQLModel


def read_seed_file(folder: Path, name: str) -> Any:
    return yaml.safe_load((folder / name).read_text(encoding="utf-8"))


def write_seed_file(folder: Path, name: str, data: Any) -> None:
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    (folder / name).write_text(text, encoding="utf-8")


def edit_record(
    folder: Path, name: str, record_id: str, edit: Callable[[dict[str, Any]], None]
) -> None:
    """Apply `edit` to the record `record_id` of seeds file `name`."""
    records = read_seed_file(folder, name)
    matches = [r for r in records if r.get("id") == record_id]
    assert len(matches) == 1, f"{name} has no single record {record_id!r}"
    edit(matches[0])
    write_seed_file(folder, name, records)


def remove_record(folder: Path, name: str, record_id: str) -> None:
    records = read_seed_file(folder, name)
    kept = [r for r in records if r.get("id") != record_id]
    assert len(kept) == len(records) - 1, f"{name} has no record {record_id!r}"
    write_seed_file(folder, name, kept)


def database_snapshot(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: equal snapshots, equal databases."""
    snapshot = {}
    with engine.connect() as connection:
        for name, table in SQLModel.metadata.tables.items():
            rows = connection.execute(sa.select(table)).all()
            snapshot[name] = sorted((tuple(r) for r in rows), key=repr)
    return snapshot


def count(engine: sa.Engine, table: str, **where: Any) -> int:
    t = SQLModel.metadata.tables[table]
    query = sa.select(sa.func.count()).select_from(t)
    for column, value in where.items():
        query = query.where(t.c[column] == value)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def drifts(url: str) -> list[str]:
    """What `scn db check` reports: stored representations that differ from their rows."""
    from app import representation
    from app.db import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [str(d) for d in representation.check(connection)]
    finally:
        engine.dispose()


def lines_of(pieces: Iterable[bytes]) -> list[bytes]:
    """NDJSON pieces of whole lines (app.sync.export_pieces) as lines, each with its newline."""
    return b"".join(pieces).splitlines(keepends=True)


def link_rows(
    engine: sa.Engine, table: str, owner: str, record_id: str, *, with_id: bool = False
) -> list[dict[str, object]]:
    """A record's rows in a link table, by its first column (the row number, where it has
    one: the order the API reads them in)."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(f'SELECT * FROM "{table}" WHERE "{owner}" = :id ORDER BY 1'), {"id": record_id}
        ).mappings()
        return [{k: v for k, v in r.items() if with_id or k != "id"} for r in rows]
