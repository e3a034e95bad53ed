"""Two API servers (`scn serve`) behind nginx configured by deploy/nginx.conf, the caching proxy
docs/OPERATIONS.md deploys: HTTP caching as a CDN sees it.

Through the proxy: Cache-Control, ETag and Vary arrive as the API sends them; a client's
If-None-Match gets 304; each language, media type and content coding is kept apart (a French
request never gets a copy of an English body); a load is visible once the copy's max-age has
passed; error answers are never kept.
"""

import gzip
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.db import create_engine
from app.loader import load
from tests.helpers import edit_record, read_seed_file, write_seed_file
from tests.live import serve_process
from tests.nginx_proxy import caching_proxy

pytestmark = pytest.mark.slow

MAX_AGE = 3  # CACHE_MAX_AGE of the servers: short, so the test sees copies expire
SECRET = "proxy-test-cursor-secret"


@dataclass
class Deployment:
    proxy: str
    servers: list[str]
    database_url: str
    seeds: Path

    def load(self) -> None:
        engine = create_engine(self.database_url)
        try:
            load(engine, self.seeds)
        finally:
            engine.dispose()


@pytest.fixture
def deployment(database_url: str, seeds: Path, tmp_path: Path) -> Iterator[Deployment]:
    with ExitStack() as stack:
        deployment = Deployment("", [], database_url, seeds)
        deployment.load()
        for _ in range(2):
            base, _process = stack.enter_context(
                serve_process(
                    database_url,
                    CURSOR_SECRET=SECRET,
                    CACHE_MAX_AGE=str(MAX_AGE),
                    EXPORT_CACHE_DIR=str(tmp_path / "export-cache"),
                )
            )
            deployment.servers.append(base)
        deployment.proxy = stack.enter_context(
            caching_proxy([base.removeprefix("http://") for base in deployment.servers])
        )
        yield deployment


def cache_status(response: httpx.Response) -> str:
    return response.headers.get("x-cache-status", "")


def test_through_the_proxy_cache_headers_vary_and_revalidation(deployment: Deployment) -> None:
    with (
        httpx.Client(base_url=deployment.proxy, timeout=60) as proxy,
        httpx.Client(base_url=deployment.servers[0], timeout=60) as direct,
    ):
        first = proxy.get("/v2/countries/dk")
        assert first.status_code == 200, first.text[:300]
        assert cache_status(first) == "MISS"
        assert first.headers["cache-control"] == f"public, max-age={MAX_AGE}"
        vary = {v.strip().lower() for v in first.headers["vary"].split(",")}
        assert vary >= {"accept", "accept-encoding", "accept-language"}
        etag = first.headers["etag"]
        same = direct.get("/v2/countries/dk")
        assert (same.headers["etag"], same.content) == (etag, first.content)

        again = proxy.get("/v2/countries/dk")
        assert cache_status(again) == "HIT"
        assert (again.headers["etag"], again.content) == (etag, first.content)
        assert again.headers["cache-control"] == first.headers["cache-control"]

        # A client that holds the representation revalidates it: 304, no body.
        not_modified = proxy.get("/v2/countries/dk", headers={"If-None-Match": etag})
        assert not_modified.status_code == 304
        assert not_modified.content == b""
        assert not_modified.headers["etag"] == etag
        assert (
            proxy.get("/v2/countries/dk", headers={"If-None-Match": '"other"'}).status_code == 200
        )

        # Languages are kept apart: French after English, English after French, both cached.
        for _ in range(2):
            english = proxy.get("/v2/countries/dk", headers={"Accept-Language": "en"})
            french = proxy.get("/v2/countries/dk", headers={"Accept-Language": "fr"})
            assert french.json()["name"] == {"fr": "Danemark"}, french.text[:300]
            assert english.json()["name"] == {"en": "Denmark"}, english.text[:300]
            assert "fr" in french.headers["content-language"]
            assert "fr" not in english.headers["content-language"]
            assert french.headers["etag"] != english.headers["etag"]
            assert (
                french.content
                == direct.get("/v2/countries/dk", headers={"Accept-Language": "fr"}).content
            )
        assert cache_status(french) == cache_status(english) == "HIT"

        # Media types are kept apart: CSV and JSON for the same URL.
        for _ in range(2):
            csv = proxy.get("/v2/cities", headers={"Accept": "text/csv"})
            json = proxy.get("/v2/cities", headers={"Accept": "application/json"})
            assert csv.headers["content-type"].startswith("text/csv"), csv.headers
            assert json.headers["content-type"].startswith("application/json")
            assert json.json()["data"]
        assert cache_status(json) == "HIT"

        # Content codings are kept apart: gzip only for a client that asked for it.
        raw = {"Accept-Encoding": "gzip"}
        identity = {"Accept-Encoding": "identity"}
        for _ in range(2):
            zipped = proxy.get("/v2/cities", headers=raw)
            plain = proxy.get("/v2/cities", headers=identity)
            assert zipped.headers.get("content-encoding") == "gzip"
            assert "content-encoding" not in plain.headers
            assert plain.json() == zipped.json()  # httpx undid the gzip
        assert cache_status(zipped) == cache_status(plain) == "HIT"
        with proxy.stream("GET", "/v2/cities", headers=raw) as stream:
            assert gzip.decompress(b"".join(stream.iter_raw())) == plain.content

        # Both API servers answer the proxy's misses (each process has its own request-id
        # prefix): the load is spread.
        ids = set()
        for number in range(1, 9):
            miss = proxy.get(f"/v2/practices?limit={number}")
            assert cache_status(miss) == "MISS"
            ids.add(miss.headers["x-request-id"][:16])
        assert len(ids) == 2, ids


def test_a_load_shows_through_the_proxy_within_max_age_and_errors_are_not_kept(
    deployment: Deployment,
) -> None:
    with (
        httpx.Client(base_url=deployment.proxy, timeout=60) as proxy,
        httpx.Client(base_url=deployment.servers[1], timeout=60) as direct,
    ):
        before = proxy.get("/v2/cities/viborg")
        stored = time.monotonic()
        assert cache_status(before) == "MISS"
        # An error answer is not kept: asked twice, it goes to an API server twice.
        for _ in range(2):
            missing = proxy.get("/v2/organisations/proxy-test-organisation")
            assert missing.status_code == 404
            assert missing.headers["content-type"].startswith("application/problem+json")
            assert missing.headers["cache-control"] == "no-store"
            assert cache_status(missing) == "MISS"
            invalid = proxy.get("/v2/cities?limit=0")
            assert invalid.status_code == 400
            assert cache_status(invalid) == "MISS"

        marker = f"Loaded behind the proxy {time.time_ns()}."
        edit_record(
            deployment.seeds,
            "cities.yaml",
            "viborg",
            lambda city: city.update(background=marker),
        )
        organisations = read_seed_file(deployment.seeds, "organisations.yaml")
        organisations.append(
            {
                "id": "proxy-test-organisation",
                "name": "Proxy test organisation",
                "kind": "unit",
                "country": "dk",
                "sources": ["who-does-what-in-denmark"],
            }
        )
        write_seed_file(deployment.seeds, "organisations.yaml", organisations)
        deployment.load()

        # The servers serve the load at once; so does the proxy where it kept no copy (the
        # 404 was not kept).
        assert marker in direct.get("/v2/cities/viborg").text
        created = proxy.get("/v2/organisations/proxy-test-organisation")
        assert created.status_code == 200, created.text[:300]

        # The proxy's copy stays until its max-age has passed, and not longer.
        kept = proxy.get("/v2/cities/viborg")
        if time.monotonic() - stored < MAX_AGE:
            assert cache_status(kept) == "HIT" and marker not in kept.text
        while marker not in (fresh := proxy.get("/v2/cities/viborg")).text:
            assert time.monotonic() - stored < MAX_AGE + 10, "the copy outlived its max-age"
            time.sleep(0.1)
        # nginx counts whole seconds; the bound above allows for a busy machine.
        assert time.monotonic() - stored >= MAX_AGE - 1
        assert cache_status(fresh) in ("EXPIRED", "REVALIDATED", "MISS")
        assert fresh.headers["etag"] == direct.get("/v2/cities/viborg").headers["etag"]
