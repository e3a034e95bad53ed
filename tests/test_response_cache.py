"""The response cache answers exactly as the uncached path does, and sees every load at once."""

import gzip
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.api import caching
from app.api.main import create_app
from app.api.response_cache import ResponseCache
from app.db import create_engine
from app.loader import load
from app.settings import Settings
from tests.live import client, live_app, live_server

URLS = [
    "/",
    "/v1/openapi.json",
    "/v1/meta",
    "/v1/practices",
    "/v1/practices?limit=3",
    "/v1/organisations?kind=ministry&kind=agency",
    "/v1/organisations?country=dk&limit=2",
    "/v1/cities/viborg",
    "/v1/practices/vink",
    "/v1/themes?q=hotline",
    "/v1/search?q=mentor",
    "/v1/changes?since=0&limit=5",
    "/v1/changes?since=100",
    "/v1/graph.svg?city=viborg",
    "/v2/countries/dk",
    "/v2/organisations/danish-prison-and-probation-service",
    "/v2/practices?limit=3",
    "/v2/search?q=Danemark",
    "/v2/graph?city=viborg",
    "/catalog",
    "/hsds/services?per_page=3",
]
VARYING = {"date", "x-request-id", "server"}
HOST = "api.test"


def _cache_of(app: object) -> ResponseCache:
    layer = app.middleware_stack  # type: ignore[attr-defined]
    while not isinstance(layer, ResponseCache):
        layer = layer.app
    return layer


def _answer(response: httpx.Response) -> tuple[int, bytes, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k not in VARYING}
    return response.status_code, response.content, headers


@pytest.fixture
def servers(
    database_url: str, seeds: Path, tmp_path: Path
) -> Iterator[tuple[httpx.Client, httpx.Client, object]]:
    """(cached, uncached) clients of two servers on one loaded database, and the cached app."""
    engine = create_engine(database_url)
    load(engine, seeds)
    engine.dispose()
    exports = tmp_path / "exports"
    app = create_app(Settings(database_url=database_url, export_cache_dir=str(exports)))
    with (
        live_app(app) as cached_base,
        live_server(database_url, response_cache_mb=0, export_cache_dir="") as plain_base,
        client(cached_base) as cached,
        client(plain_base) as plain,
    ):
        yield cached, plain, app


def _requests(plain: httpx.Client, url: str) -> list[tuple[str, dict[str, str]]]:
    """The request variants a URL is asked with: plain, gzip, and conditional ones."""
    first = plain.get(url, headers={"Host": HOST})
    etag, modified = first.headers["etag"], first.headers.get("last-modified")
    gzip_etag = plain.get(url, headers={"Host": HOST, "Accept-Encoding": "gzip"}).headers["etag"]
    variants: list[tuple[str, dict[str, str]]] = [
        ("GET", {"Accept-Encoding": "identity"}),
        ("GET", {"Accept-Encoding": "gzip"}),
        ("HEAD", {"Accept-Encoding": "identity"}),
        ("GET", {"If-None-Match": etag, "Accept-Encoding": "identity"}),
        ("GET", {"If-None-Match": gzip_etag, "Accept-Encoding": "gzip"}),
        ("GET", {"If-None-Match": '"other"', "Accept-Encoding": "identity"}),
        ("GET", {"Accept": "text/html", "Accept-Encoding": "identity"}),
        ("GET", {"Origin": "https://example.org", "Accept-Encoding": "identity"}),
        # Headers that choose another representation of the same URL.
        ("GET", {"Accept-Language": "fr", "Accept-Encoding": "identity"}),
        ("GET", {"Accept-Language": "da, en;q=0.5", "Accept-Encoding": "identity"}),
        ("GET", {"Accept": "text/csv", "Accept-Encoding": "identity"}),
        ("GET", {"Host": "data.example.org", "Accept-Encoding": "identity"}),
    ]
    if modified:
        variants.append(("GET", {"If-Modified-Since": modified, "Accept-Encoding": "identity"}))
    return variants


def test_cached_answers_are_the_uncached_ones(
    servers: tuple[httpx.Client, httpx.Client, object],
) -> None:
    cached, plain, app = servers
    for url in [*URLS, "/v1/export", "/v1/export?type=city&type=theme"]:
        for method, variant in _requests(plain, url):
            # One Host for both servers: the catalogue and HSDS write absolute URLs with it.
            headers = {"Host": HOST, **variant}
            expected = _answer(plain.request(method, url, headers=headers))
            for _ in range(2):  # a miss, then (where cacheable) a hit
                assert _answer(cached.request(method, url, headers=headers)) == expected, (
                    url,
                    method,
                    headers,
                )
    cache = _cache_of(app)
    assert cache.hits > len(URLS) * 4
    assert cache.entries
    kept = list(Path(app.state.settings.export_cache_dir).glob("export-*.ndjson"))  # type: ignore[attr-defined]
    assert len(kept) == 2  # the whole export and the one of two types


def _raw(client_: httpx.Client, url: str, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """A response's body as sent (not decoded) and its headers."""
    with client_.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        body = b"".join(response.iter_raw())
        return body, {k: v for k, v in response.headers.items() if k not in VARYING}


def test_an_export_is_compressed_once_then_sent_as_kept(
    servers: tuple[httpx.Client, httpx.Client, object],
) -> None:
    """Every mirror asks for the export in gzip. The first such request keeps the gzip form
    beside the plain body; later ones are sent that file as it is, with the same headers, and
    it decodes to the body a server without copies sends."""
    cached, plain, app = servers
    folder = Path(app.state.settings.export_cache_dir)  # type: ignore[attr-defined]
    gzipped = {"Host": HOST, "Accept-Encoding": "gzip"}
    expected = plain.get("/v2/export", headers={"Host": HOST, "Accept-Encoding": "identity"})

    first, first_headers = _raw(cached, "/v2/export", gzipped)
    assert first_headers["content-encoding"] == "gzip"
    assert gzip.decompress(first) == expected.content
    (kept,) = folder.glob("export-*.ndjson.gz")
    assert kept.read_bytes() == first
    assert kept.with_name(kept.name.removesuffix(".gz")).read_bytes() == expected.content

    # The kept file is what is sent: one written at another level decodes alike and is sent.
    kept.write_bytes(gzip.compress(expected.content, compresslevel=1, mtime=0))
    again, again_headers = _raw(cached, "/v2/export", gzipped)
    assert again == kept.read_bytes() != first
    assert again_headers == first_headers
    plain_again = cached.get("/v2/export", headers={"Host": HOST, "Accept-Encoding": "identity"})
    assert plain_again.content == expected.content
    assert "content-encoding" not in plain_again.headers


def test_a_gzip_copy_goes_with_its_export(tmp_path: Path) -> None:
    """Kept exports beyond the newest few are removed, and a gzip copy with the body it is of."""
    for number in range(caching.EXPORT_FILES_KEPT + 2):
        body = tmp_path / f"export-{number:02}.ndjson"
        body.write_bytes(b"{}\n")
        (tmp_path / f"{body.name}.gz").write_bytes(gzip.compress(b"{}\n"))
        os.utime(body, (number, number))
    caching._forget_old_exports(tmp_path)
    left = sorted(path.name for path in tmp_path.iterdir())
    newest = range(2, caching.EXPORT_FILES_KEPT + 2)
    assert left == sorted(
        name for n in newest for name in (f"export-{n:02}.ndjson", f"export-{n:02}.ndjson.gz")
    )


def test_a_load_is_seen_at_once(
    servers: tuple[httpx.Client, httpx.Client, object], database_url: str, seeds: Path
) -> None:
    cached, plain, _ = servers
    urls = [
        "/v1/practices/vink",
        "/v1/practices",
        "/v1/meta",
        "/v1/changes?since=0&limit=5",
        "/v1/export",
    ]
    before = {url: cached.get(url).content for url in urls}
    assert {url: cached.get(url).content for url in urls} == before  # served from the cache

    practices = seeds / "practices.yaml"
    practices.write_text(
        practices.read_text(encoding="utf-8").replace(
            "name: VINK programme", "name: VINK programme (renamed)", 1
        ),
        encoding="utf-8",
    )
    engine = create_engine(database_url)
    assert load(engine, seeds).updated == 1
    engine.dispose()

    for url in urls:
        fresh = cached.get(url)
        assert _answer(fresh) == _answer(plain.get(url))
        assert fresh.content != before[url] or url.startswith("/v1/changes?since=0")
    assert "renamed" in cached.get("/v1/practices/vink").json()["name"]


def test_errors_are_never_cached(servers: tuple[httpx.Client, httpx.Client, object]) -> None:
    cached, _, app = servers
    for _ in range(2):
        assert cached.get("/v1/practices/no-such-practice").status_code == 404
        assert cached.get("/v1/practices?unknown=1").status_code == 400
    assert not any(key[1].endswith("no-such-practice") for key in _cache_of(app).entries)


def test_concurrent_requests_for_one_url_render_it_once(
    servers: tuple[httpx.Client, httpx.Client, object],
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    cached, plain, app = servers
    cache = _cache_of_after_start(cached, app)
    url = "/v1/search?q=the&limit=40"
    misses = cache.misses
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _answer(cached.get(url)), range(16)))
    assert cache.misses == misses + 1
    assert answers == [_answer(plain.get(url))] * 16


def _cache_of_after_start(http: httpx.Client, app: object) -> ResponseCache:
    http.get("/v1/meta")  # the middleware stack is built on the first request
    return _cache_of(app)


def test_after_a_failure_on_the_server_a_burst_retries_one_request_at_a_time(
    migrated_sqlite_file: Path, seeds: Path, tmp_path: Path
) -> None:
    """Requests waiting for a URL whose rendering failed on the server's side (here every
    search outlasts a tiny REQUEST_TIMEOUT: 503) do not all run it again side by side, which
    would make a slow query time out for every one of them: one tries while the others wait.
    On SQLite, whose deadline stops a statement after its first steps: PostgreSQL's timeout
    counts whole milliseconds, within which a search of the seeds can end."""
    import asyncio
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    from starlette.types import Receive, Scope, Send

    database_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    shutil.copy(migrated_sqlite_file, tmp_path / "db.sqlite3")
    engine = create_engine(database_url)
    load(engine, seeds)
    engine.dispose()
    app = create_app(Settings(database_url=database_url, request_timeout=0.000001))
    with live_app(app) as base, client(base) as http:
        cache = _cache_of_after_start(http, app)
        endpoint, running, most = cache.app, 0, 0

        async def slow_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
            nonlocal running, most
            running += 1
            most = max(most, running)
            try:
                await asyncio.sleep(0.1)  # long enough for the burst to arrive meanwhile
                await endpoint(scope, receive, send)
            finally:
                running -= 1

        cache.app = slow_endpoint
        misses = cache.misses
        with ThreadPoolExecutor(8) as pool:
            statuses = list(
                pool.map(lambda _: http.get("/v1/search?q=the&limit=40").status_code, range(16))
            )
    assert statuses == [503] * 16
    assert cache.misses == misses + 16  # each was answered by the endpoint, none from the cache
    assert most == 1
