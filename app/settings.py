"""Configuration, read once from the environment (and a `.env` file if present).

Each setting has its default and its meaning here; the README's table lists the same names.
"""

import tempfile
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_VERSION = version("scn-open-data")
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'scn.sqlite3'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of the database; postgresql+psycopg://... selects PostgreSQL",
    )
    host: str = Field(default="127.0.0.1", description="Interface `scn serve` listens on")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `scn serve` listens on")
    seeds_dir: Path = Field(
        default=PROJECT_ROOT / "seeds", description="Folder `scn load` reads by default"
    )
    load_lock_timeout: float = Field(
        default=60.0,
        ge=0,
        description="Seconds `scn load` waits for another running load before it gives up",
    )

    request_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Seconds of database work one API request may take before it is stopped (503)",
    )
    db_pool_size: int = Field(
        default=5,
        ge=1,
        description="Database connections each API worker keeps open (its pool); see "
        "docs/OPERATIONS.md for sizing N servers x M workers against max_connections",
    )
    db_max_overflow: int = Field(
        default=5,
        ge=0,
        description="Connections a worker may open beyond DB_POOL_SIZE under load (closed when "
        "returned); a worker never holds more than DB_POOL_SIZE + DB_MAX_OVERFLOW",
    )
    db_pool_timeout: float = Field(
        default=3.0,
        gt=0,
        description="Seconds a request waits for a free connection when all are busy, then "
        "it is answered 503 with Retry-After",
    )
    sqlite_mmap_mb: int = Field(
        default=0,
        ge=0,
        description="SQLite only: how much of the database file each API connection reads "
        "through memory mapping (PRAGMA mmap_size; SQLite caps it at 2048); 0, the default, "
        "reads it with read() calls. See docs/OPERATIONS.md",
    )
    max_replica_lag: float | None = Field(
        default=None,
        gt=0,
        description="On a PostgreSQL replica, seconds behind the primary past which /readyz "
        "says not ready (503); unset: /readyz reports the lag but never fails on it",
    )
    cache_max_age: int = Field(
        default=60,
        ge=0,
        description="Seconds clients and CDNs may reuse a response (Cache-Control max-age)",
    )
    response_cache_mb: int = Field(
        default=64,
        ge=0,
        description="Megabytes of rendered responses each worker keeps in memory (0: no cache)",
    )
    export_cache_dir: str = Field(
        default=str(Path(tempfile.gettempdir()) / "scn-export-cache"),
        description="Folder where rendered /v1/export bodies are kept for the loaded data "
        "(shared by workers; empty: no copies)",
    )
    cursor_secret: str = Field(
        default="strong-cities-open-data",
        description="Key that signs pagination cursors; set the same value on every server",
    )
    publish_personal_contacts: bool = Field(
        default=False,
        description="Publish contact points that identify a private person (off by default)",
    )
    contact_email: str | None = Field(
        default=None,
        description="E-mail address /v1/meta and /catalog give as the data set's contact",
    )
    contact_url: str | None = Field(
        default=None, description="Web address /v1/meta and /catalog give as the data set's contact"
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
