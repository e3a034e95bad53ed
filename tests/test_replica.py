"""API servers on a PostgreSQL primary and on its streaming replica, as docs/OPERATIONS.md deploys
them: two API servers with one CURSOR_SECRET, one on each database; loads go to the primary.

A replica serves a load once it has replayed it, with the same ETags and bodies as the primary's
server; cursors and change numbers are the primary's, so a client may switch servers between
pages, and a client following `next_since` never skips or repeats a change, even when it reads a
replica that lags. /readyz reports the lag, and MAX_REPLICA_LAG turns a replica that is too far
behind not ready. A stopped standby is 503 on its server, which recovers without a restart.
"""

import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from app import migrate
from app.db import create_engine
from app.loader import load
from tests.conftest import SEEDS
from tests.helpers import edit_record
from tests.live import live_server
from tests.nginx_proxy import caching_proxy
from tests.private_postgres import PrivatePostgres, private_postgres, private_standby
from tests.seed_edits import random_edit
from tests.test_outage import assert_outage, wait_until_ok

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SECRET = "replica-test-cursor-secret"
HOST = "api.example.org"  # both servers stand behind one name, as behind a load balancer
WAIT_S = 90  # bound on any wait for replication or recovery; polled, so usually far less
MAX_AGE = 2  # CACHE_MAX_AGE: short, so copies kept by the proxy expire within the test


@dataclass
class Cluster:
    primary: PrivatePostgres
    standby: PrivatePostgres
    primary_api: str
    replica_api: str
    seeds: Path
    edits: int = 0

    def http(self, base: str) -> httpx.Client:
        return httpx.Client(base_url=base, timeout=60, headers={"Host": HOST})

    def load(self, edit: Any = None) -> int:
        """Edit the seeds (by default: a few random edits), load them on the primary; returns
        the primary's last change number."""
        if edit is None:
            rng = random.Random(self.edits)
            for _ in range(3):
                self.edits += 1
                random_edit(rng, self.seeds, self.edits)
        else:
            edit(self.seeds)
        engine = create_engine(self.primary.url)
        try:
            load(engine, self.seeds)
        finally:
            engine.dispose()
        return self.primary_seq()

    def primary_seq(self) -> int:
        with httpx.Client(base_url=self.primary_api, timeout=60) as http:
            return int(http.get("/readyz").json()["last_seq"])

    def wait_replayed(self, seq: int) -> dict[str, Any]:
        """Poll the replica's server until it serves change `seq`; its /readyz."""
        deadline = time.monotonic() + WAIT_S
        with httpx.Client(base_url=self.replica_api, timeout=60) as http:
            while True:
                response = http.get("/readyz")
                if response.status_code == 200 and response.json()["last_seq"] >= seq:
                    return dict(response.json())
                if time.monotonic() > deadline:
                    pytest.fail(f"the replica did not reach change {seq}: {response.text}")
                time.sleep(0.1)

    def replay(self, *, paused: bool) -> None:
        engine = sa.create_engine(self.standby.url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(
                    f"SELECT pg_wal_replay_{'pause' if paused else 'resume'}()"
                )
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    seeds = tmp_path_factory.mktemp("replica") / "seeds"
    shutil.copytree(SEEDS, seeds)
    with private_postgres() as primary:
        migrate.upgrade(primary.url)
        with (
            private_standby(primary) as standby,
            live_server(primary.url, cursor_secret=SECRET, cache_max_age=MAX_AGE) as primary_api,
            live_server(standby.url, cursor_secret=SECRET, cache_max_age=MAX_AGE) as replica_api,
        ):
            cluster = Cluster(primary, standby, primary_api, replica_api, seeds)
            cluster.wait_replayed(cluster.load(edit=lambda _: None))
            yield cluster


@pytest.fixture
def replica(cluster: Cluster) -> Iterator[Cluster]:
    """The cluster with the replica caught up at the start, and replaying again at the end."""
    cluster.wait_replayed(cluster.primary_seq())
    try:
        yield cluster
    finally:
        if not cluster.standby.running:
            cluster.standby.start()
        cluster.replay(paused=False)


def set_background(text: str) -> Any:
    def edit(seeds: Path) -> None:
        edit_record(seeds, "cities.yaml", "viborg", lambda city: city.update(background=text))

    return edit


def changes_page(http: httpx.Client, since: int, limit: int = 500) -> dict[str, Any]:
    response = http.get("/v2/changes", params={"since": since, "limit": limit})
    assert response.status_code == 200, response.text[:500]
    return dict(response.json())


def export(http: httpx.Client) -> tuple[dict[str, Any], dict[tuple[str, str], Any]]:
    response = http.get("/v2/export")
    assert response.status_code == 200, response.text[:500]
    header, *lines = (orjson.loads(line) for line in response.content.splitlines())
    return header, {(line["type"], line["id"]): line for line in lines}


class Follower:
    """A sync client as docs/SYNC.md describes it: a snapshot, then `next_since`."""

    def __init__(self, http: httpx.Client) -> None:
        header, self.records = export(http)
        self.since: int = header["last_seq"]
        self.seen: list[int] = []

    def step(self, http: httpx.Client, limit: int = 500) -> dict[str, Any]:
        page = changes_page(http, self.since, limit)
        assert page["since"] == self.since
        assert page["next_since"] >= self.since, "a server sent the client back"
        for change in page["data"]:
            key = (change["type"], change["id"])
            if change["op"] == "upsert":
                self.records[key] = change["record"]
            else:
                self.records.pop(key, None)
            self.seen.append(change["seq"])
        self.since = page["next_since"]
        return page


# --- a load reaches the replica; same representations on both ----------------------------------


def test_the_replica_serves_a_load_once_replayed_with_the_same_etags_and_bodies(
    replica: Cluster,
) -> None:
    marker = f"Replicated background {time.time_ns()}."
    seq = replica.load(set_background(marker))
    with (
        replica.http(replica.replica_api) as on_replica,
        replica.http(replica.primary_api) as on_primary,
    ):
        deadline = time.monotonic() + WAIT_S
        while marker not in on_replica.get("/v2/cities/viborg").text:
            assert time.monotonic() < deadline, "the replica never served the load"
            time.sleep(0.1)
        ready = on_replica.get("/readyz").json()
        assert "role" in ready, ready
        assert ready["role"] == "replica" and ready["last_seq"] == seq
        assert ready["replica"]["streaming"] is True
        assert on_primary.get("/readyz").json()["role"] == "primary"

        for path, headers in [
            ("/v2/cities/viborg", {}),
            ("/v2/cities/viborg", {"Accept-Language": "fr"}),
            ("/v2/cities?limit=5", {}),
            ("/v2/practices?city=viborg", {"Accept": "text/csv"}),
            ("/v2/search?q=ssp", {}),
            ("/v2/changes?since=0&limit=50", {}),
            ("/v2/export", {}),
            ("/v2/meta", {}),
            ("/v1/cities/viborg", {}),
            ("/catalog", {}),
        ]:
            first, second = (
                on_primary.get(path, headers=headers),
                on_replica.get(path, headers=headers),
            )
            assert first.status_code == second.status_code == 200, (path, second.text[:300])
            assert first.headers["etag"] == second.headers["etag"], path
            assert first.content == second.content, path
            # and the replica's ETag revalidates a copy the primary's server gave
            revalidated = on_replica.get(
                path, headers={**headers, "If-None-Match": first.headers["etag"]}
            )
            assert revalidated.status_code == 304, path


# --- cursors and paging across servers ---------------------------------------------------------


def test_a_cursor_from_one_server_works_on_the_other_and_alternating_pages_are_consistent(
    replica: Cluster,
) -> None:
    with (
        replica.http(replica.replica_api) as on_replica,
        replica.http(replica.primary_api) as on_primary,
    ):
        expected = paged_ids([on_primary], "/v2/practices?limit=100")
        assert len(expected) > 6

        # The primary's cursor on the replica gives the primary's own next page, and back.
        first = on_primary.get("/v2/practices?limit=3").json()
        from_replica = on_replica.get(first["links"]["next"])
        assert from_replica.status_code == 200, from_replica.text
        assert from_replica.content == on_primary.get(first["links"]["next"]).content
        back = on_primary.get(from_replica.json()["links"]["next"])
        assert back.status_code == 200
        assert back.content == on_replica.get(from_replica.json()["links"]["next"]).content

        assert paged_ids([on_primary, on_replica], "/v2/practices?limit=3") == expected
        assert paged_ids([on_replica, on_primary], "/v2/practices?limit=2") == expected


def paged_ids(servers: list[httpx.Client], url: str | None) -> list[str]:
    """The ids of every page from `url` on, following `next` links, the servers taking turns."""
    ids: list[str] = []
    turn = 0
    while url is not None:
        page = servers[turn % len(servers)].get(url)
        assert page.status_code == 200, page.text[:300]
        ids += [record["id"] for record in page.json()["data"]]
        url = page.json()["links"].get("next")
        turn += 1
    return ids


# --- the change feed and the export on a replica that lags -------------------------------------


def test_changes_and_export_on_a_lagging_replica_never_skip_or_repeat_a_change(
    replica: Cluster,
) -> None:
    with (
        replica.http(replica.replica_api) as on_replica,
        replica.http(replica.primary_api) as on_primary,
    ):
        start = replica.primary_seq()
        # Clients with snapshots from the replica, all at `start`.
        only_replica, primary_first, alternating = (Follower(on_replica) for _ in range(3))
        assert only_replica.since == start

        replica.replay(paused=True)
        middle = replica.load()
        assert middle > start
        # The replica lags: it receives the WAL but does not replay it.
        lagging = on_replica.get("/readyz").json()
        assert lagging["last_seq"] == start
        page = changes_page(on_replica, start)
        assert page["data"] == [] and page["next_since"] == start and page["last_seq"] == start

        replica.replay(paused=False)
        replica.wait_replayed(middle)
        replica.replay(paused=True)
        end = replica.load()
        assert end > middle
        # Now: primary at `end`, replica at `middle`. An export read on the replica is its state.
        header, _ = export(on_replica)
        assert header["last_seq"] == middle
        from_lagging_export = Follower(on_replica)
        assert from_lagging_export.since == middle

        # A client ahead of the replica (it read the primary) is not sent back, nor given
        # changes it has: the replica answers what it has, nothing, and the client keeps its place.
        primary_first.step(on_primary)
        assert primary_first.since == end
        page = primary_first.step(on_replica)
        assert page["data"] == [] and page["next_since"] == end and page["last_seq"] == middle

        only_replica.step(on_replica)
        assert only_replica.since == middle

        for turn in range(50):  # small pages, servers in turn
            http = (on_primary, on_replica)[turn % 2]
            if alternating.step(http, limit=2)["has_more"] is False and alternating.since == end:
                break
        assert alternating.since == end

        from_lagging_export.step(on_primary)

        replica.replay(paused=False)
        replica.wait_replayed(end)
        only_replica.step(on_replica)
        assert only_replica.since == end

        _, truth = export(on_primary)
        for client in (only_replica, primary_first, alternating, from_lagging_export):
            assert client.seen == sorted(set(client.seen)), "a change was given twice"
            assert all(start < seq <= end for seq in client.seen)
            assert client.records == truth, "a client following next_since lost a change"


# --- /readyz reports the lag; MAX_REPLICA_LAG ------------------------------------------------


def test_readyz_reports_the_lag_and_a_replica_past_max_replica_lag_is_not_ready(
    replica: Cluster,
) -> None:
    threshold = 1.0
    with (
        live_server(replica.standby.url, cursor_secret=SECRET, max_replica_lag=threshold) as base,
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        ready = http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["replica"]["lag_seconds"] == 0

        # An idle primary sends nothing: the replica's last replayed commit grows old, but it
        # is not behind, and stays ready past the threshold.
        time.sleep(threshold * 1.5)
        idle = http.get("/readyz")
        assert idle.status_code == 200, idle.text
        assert idle.json()["replica"] == {"streaming": True, "lag_seconds": 0, "lag_bytes": 0}

        replica.replay(paused=True)
        seq = replica.load()
        deadline = time.monotonic() + WAIT_S
        while (response := http.get("/readyz")).status_code == 200:
            assert time.monotonic() < deadline, f"never not ready: {response.text}"
            time.sleep(0.1)
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["retry-after"].isdigit()
        problem = response.json()
        assert problem["role"] == "replica" and problem["last_seq"] < seq
        assert problem["replica"]["lag_seconds"] > threshold
        assert problem["replica"]["lag_bytes"] > 0
        assert "MAX_REPLICA_LAG" in problem["detail"]
        # Not ready is advice to the load balancer; the data endpoints still answer.
        assert http.get("/v2/cities/viborg").status_code == 200

        replica.replay(paused=False)
        replica.wait_replayed(seq)
        wait_until_ok(http, "/readyz", within=WAIT_S)
        assert http.get("/readyz").json()["replica"]["lag_seconds"] == 0


# --- the standby stops and comes back ----------------------------------------------------------


def test_a_stopped_standby_is_503_on_its_server_which_recovers_without_a_restart(
    replica: Cluster,
) -> None:
    with (
        httpx.Client(base_url=replica.replica_api, timeout=60) as on_replica,
        httpx.Client(base_url=replica.primary_api, timeout=60) as on_primary,
    ):
        replica.standby.stop()
        assert_outage(on_replica)
        assert on_primary.get("/v2/cities/viborg").status_code == 200

        # Written while the standby is down; its replication slot keeps the WAL for it.
        marker = f"Written while the standby was down {time.time_ns()}."
        seq = replica.load(set_background(marker))

        replica.standby.start()
        wait_until_ok(on_replica, "/v2/cities", within=WAIT_S)
        replica.wait_replayed(seq)
        assert marker in on_replica.get("/v2/cities/viborg").text
        wait_until_ok(on_replica, "/readyz", within=WAIT_S)


# --- the whole recipe: primary, replica, their servers, the caching proxy in front -------------


def test_a_client_syncing_through_the_proxy_in_front_of_primary_and_replica_misses_nothing(
    replica: Cluster,
) -> None:
    servers = [replica.primary_api, replica.replica_api]
    with (
        caching_proxy([base.removeprefix("http://") for base in servers]) as base,
        httpx.Client(base_url=base, timeout=60) as proxy,
        replica.http(replica.primary_api) as on_primary,
    ):
        expected = paged_ids([on_primary], "/v2/practices?limit=100")
        assert paged_ids([proxy], "/v2/practices?limit=2") == expected

        follower = Follower(proxy)
        replica.replay(paused=True)
        seq = replica.load()
        # The proxy sends misses to either server in turn; the replica, behind, answers that
        # nothing is new (kept by the proxy for max-age); the primary answers the changes.
        deadline = time.monotonic() + WAIT_S
        while follower.since < seq:
            assert time.monotonic() < deadline, f"the client is stuck at {follower.since} < {seq}"
            follower.step(proxy)
            time.sleep(0.2)
        replica.replay(paused=False)
        replica.wait_replayed(seq)

        _, truth = export(on_primary)
        assert follower.seen == sorted(set(follower.seen)), "a change was given twice"
        assert follower.records == truth
