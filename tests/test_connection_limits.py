"""Bounded connection pools, against the real app in uvicorn.

Each API worker holds at most DB_POOL_SIZE + DB_MAX_OVERFLOW database connections. When all are
busy, a request waits DB_POOL_TIMEOUT for one to come free, then gets a 503 problem with
Retry-After: a bounded wait, never a hang, and the server serves again once connections are free.
"""

import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

import httpx
import pytest
import sqlalchemy as sa

from app.api.main import create_app
from app.settings import Settings
from tests.live import client, live_app

POOL_TIMEOUT_S = 1.0
# A bound, not a benchmark: the request must be answered after about POOL_TIMEOUT_S, and a busy
# machine may add seconds; a hang (the held request, or the client's own 60 s timeout) may not.
ANSWER_WITHIN_S = POOL_TIMEOUT_S + 8
WAIT_S = 30


@contextmanager
def reads_blocked(url: str) -> Iterator[None]:
    """Another session locks the city table, so every read of it waits (holding its pooled
    connection) until the block ends. PostgreSQL: an ACCESS EXCLUSIVE lock, which the API's
    statement waits for. SQLite: an exclusive lock on the whole file; a reader waits its busy
    timeout (5 s), then fails."""
    if url.startswith("sqlite"):
        holder = sqlite3.connect(sa.make_url(url).database or "", isolation_level=None)
        try:
            holder.execute("PRAGMA locking_mode = EXCLUSIVE")
            holder.execute("BEGIN EXCLUSIVE")
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("LOCK TABLE city IN ACCESS EXCLUSIVE MODE")
            try:
                yield
            finally:
                connection.rollback()
    finally:
        engine.dispose()


def wait_for(condition: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not seen within {WAIT_S} s: {condition}")
        time.sleep(0.05)


@pytest.mark.slow
def test_an_exhausted_pool_answers_503_with_retry_after_after_a_bounded_wait(
    engine_name: str, loaded_database_url: str
) -> None:
    url = loaded_database_url
    settings = Settings(
        database_url=url,
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout=POOL_TIMEOUT_S,
        request_timeout=60,
    )
    app = create_app(settings)
    pool = app.state.engine.pool
    # Blocked before the server opens its first connection: SQLite grants the exclusive lock
    # only to a connection that is alone on the file.
    block = ExitStack()
    block.enter_context(reads_blocked(url))
    try:
        with live_app(app) as base, client(base) as http, ThreadPoolExecutor(1) as background:
            held = background.submit(httpx.get, f"{base}/v2/cities/viborg", timeout=120)
            wait_for(
                "the held request checked out the pool's only connection",
                lambda: pool.checkedout() == 1,
            )
            if engine_name == "postgresql":
                wait_for("the held request waits for the lock", lambda: _waiting_on_lock(url))

            started = time.monotonic()
            response = http.get("/v2/cities?limit=3")
            elapsed = time.monotonic() - started

            assert not held.done(), "the connection was not held while the other request asked"
            assert response.status_code == 503, response.text[:500]
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.headers["retry-after"].isdigit()
            assert response.headers["cache-control"] == "no-store"
            problem = response.json()
            assert problem["status"] == 503
            assert "busy" in problem["detail"], problem
            assert POOL_TIMEOUT_S * 0.9 <= elapsed < ANSWER_WITHIN_S, f"answered in {elapsed:.2f} s"

            # The block ends: the held request is answered, and the server serves again.
            block.close()
            finished = held.result(timeout=WAIT_S)
            if engine_name == "postgresql":
                assert finished.status_code == 200, finished.text[:500]
            else:  # SQLite gave up after its busy timeout: the database was unavailable to it
                assert finished.status_code in (200, 503), finished.text[:500]
            for path in ("/v2/cities?limit=3", "/v2/cities/viborg", "/readyz"):
                assert http.get(path).status_code == 200, path
            assert pool.checkedout() == 0
    finally:
        block.close()


def _waiting_on_lock(url: str) -> bool:
    database = sa.make_url(url).database
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            waiting = connection.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = :db AND wait_event_type = 'Lock'"
                ),
                {"db": database},
            ).scalar()
    finally:
        engine.dispose()
    return bool(waiting)


def test_the_pool_is_sized_from_the_settings(engine_name: str, loaded_database_url: str) -> None:
    """DB_POOL_SIZE connections are kept, DB_MAX_OVERFLOW more may be opened, no more."""
    app = create_app(
        Settings(
            database_url=loaded_database_url,
            db_pool_size=2,
            db_max_overflow=3,
            db_pool_timeout=0.5,
            response_cache_mb=0,
        )
    )
    engine: sa.Engine = app.state.engine
    try:
        held = [engine.connect() for _ in range(5)]
        with pytest.raises(sa.exc.TimeoutError):
            engine.connect()
        for connection in held:
            connection.close()
        pool = engine.pool
        assert isinstance(pool, sa.pool.QueuePool)
        assert pool.checkedin() == 2  # the overflow connections were closed
    finally:
        engine.dispose()
