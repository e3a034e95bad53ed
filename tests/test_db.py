"""The engines' settings that an operator chooses."""

from pathlib import Path

from app.api.main import create_app
from app.settings import Settings


def _mmap_size(url: str, megabytes: int | None) -> tuple[int, int]:
    """PRAGMA mmap_size on a pooled connection and on the event loop's, for SQLITE_MMAP_MB."""
    settings = (
        Settings(database_url=url)
        if megabytes is None
        else Settings(database_url=url, sqlite_mmap_mb=megabytes)
    )
    app = create_app(settings)
    with app.state.engine.connect() as connection:
        pooled = connection.exec_driver_sql("PRAGMA mmap_size").scalar_one()
    loop = app.state.loop_reads._sqlite_connect().execute("PRAGMA mmap_size").fetchone()[0]
    app.state.engine.dispose()
    return pooled, loop


def test_sqlite_memory_map_is_off_unless_asked_for(migrated_sqlite_file: Path) -> None:
    url = f"sqlite:///{migrated_sqlite_file}"
    assert _mmap_size(url, None) == (0, 0)
    assert _mmap_size(url, 16) == (16 * 1024 * 1024, 16 * 1024 * 1024)
