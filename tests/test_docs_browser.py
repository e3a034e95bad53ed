"""/docs in a real browser: headless Chromium (the Debian package, driven by Playwright) renders
every operation of the contract, "Try it out" -> "Execute" on a list returns data, and nothing
is fetched from anywhere but the API itself.

The screenshot goes to the test's temporary folder; with UPDATE_DOCS_SCREENSHOT=1
(`make docs-screenshot`) it replaces docs/img/docs.png, which the README shows.
"""

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from app import migrate
from app.db import create_engine
from app.loader import load
from app.settings import PROJECT_ROOT
from tests.conftest import IN_CI, SEEDS
from tests.live import live_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOT = PROJECT_ROOT / "docs" / "img" / "docs.png"
CONTRACT = json.loads((PROJECT_ROOT / "openapi" / "v1.json").read_text(encoding="utf-8"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('browser')}/docs.sqlite3"
    migrate.upgrade(url)
    engine = create_engine(url)
    load(engine, SEEDS)
    engine.dispose()
    with live_server(url) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing: `make system-packages` installs Debian's chromium"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        # Debian's Chromium, not a browser downloaded by Playwright.
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def test_the_docs_page_renders_every_operation_and_runs_one(
    base: str, page: Page, tmp_path: Path
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{base}/docs")
    page.wait_for_selector(".opblock", timeout=30_000)

    rendered = {
        (
            block.locator(".opblock-summary-method").inner_text().lower(),
            block.locator(".opblock-summary-path").get_attribute("data-path"),
        )
        for block in page.locator(".opblock").all()
    }
    in_contract = {(method, path) for path, item in CONTRACT["paths"].items() for method in item}
    assert rendered == in_contract

    # "Try it out" on a list, then "Execute": the page calls the API and shows its answer.
    cities = page.locator("#operations-Cities-listCities")
    cities.locator(".opblock-summary").click()
    cities.get_by_role("button", name="Try it out").click()
    cities.get_by_role("button", name="Execute").click()
    response = cities.locator(".live-responses-table .response")
    response.wait_for(timeout=30_000)
    assert response.locator(".response-col_status").first.inner_text().strip() == "200"
    body = json.loads(response.locator(".response-col_description pre").first.inner_text())
    assert {"aarhus", "copenhagen", "viborg"} <= {city["id"] for city in body["data"]}

    # Nothing came from the network: every request went to this server (or was inline data).
    origin = urlsplit(base).netloc
    outside = [
        url
        for url in requested
        if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).netloc != origin
    ]
    assert not outside, f"the docs page fetched from elsewhere: {outside}"
    assert f"{base}/v1/openapi.json" in requested
    assert any(url.startswith(f"{base}/v1/cities") for url in requested)
    assert not errors, errors

    shot = tmp_path / "docs.png"
    # The picture: the list operation's answer, as a reader sees it after "Execute".
    cities.locator(".responses-wrapper").evaluate("el => el.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
        shutil.copyfile(shot, SCREENSHOT)
