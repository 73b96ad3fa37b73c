"""End to end in headless Chromium: `api.serve` runs a real uvicorn server on 127.0.0.1 over a small
indexed data directory, with signed viewers and the demo login as `unicorn demo` serves them; the
page is opened without a key, logs in through its "Log in as" picker, a name is typed key by key,
and the expected people appear first. No key or token ever reaches a URL or localStorage. A
screenshot goes to test-artifacts/."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright


expect.set_options(timeout=20_000)  # a busy shared machine can take seconds to start a browser or answer

from firehose.events import validate
from slipstream import Slipstream
from tests.processes import started, wait_for_line
from tests.test_typeahead_behaviour import HISTORY
from unicorn import paths
from unicorn.store import Index

KEY = "page-test-key"
SECRET = "page-test-secret-" + "x" * 32
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"  # Debian's package; the README's test command installs it
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    index = Index(paths.index(data))
    with index.writer() as batch:
        slip = Slipstream(batch)
        for event in HISTORY:
            slip.apply(validate(event))
    index.close()
    env = {**os.environ, "UNICORN_API_KEYS": f"{KEY}:search", "UNICORN_VIEWER_SECRET": SECRET,
           "UNICORN_DEMO_LOGIN_KEY": KEY, "UNICORN_TIMEOUT_MS": "60000"}
    log = data.parent / "server.log"
    with started([sys.executable, "-c", f"import api; api.serve({str(data)!r}, host='127.0.0.1', port=0)"],
                 log, env=env, cwd=Path(__file__).resolve().parent.parent) as process:
        port = wait_for_line(log, r"Uvicorn running on http://127\.0\.0\.1:(\d+)", process, 60).group(1)
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/readyz").status_code == 200
        yield url


def test_typing_shows_people_ranked_by_who_the_viewer_knows(server):
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 720, "height": 900})
            urls = []
            page.on("request", lambda request: urls.append(request.url))
            page.goto(server)
            expect(page.locator("#key, #viewer")).to_have_count(0)  # nothing to paste or pick by hand
            page.locator("#q").press_sequentially("jo", delay=60)
            expect(page.locator("#status")).to_have_class("error")  # not logged in yet
            page.fill("#q", "")
            page.get_by_label("Log in as").select_option("vera")
            expect(page.locator("#who")).to_have_text("Logged in as vera (user 1)")
            page.locator("#q").press_sequentially("jo.m", delay=60)
            first = page.locator("#results li").first
            expect(first.locator(".title")).to_have_text("jo.mutual")
            expect(first.locator(".social")).to_have_text("Followed by jo.followed, bob, cat and 1 other")
            page.fill("#q", "")
            page.locator("#q").press_sequentially("jo", delay=60)
            titles = page.locator("#results li .title")
            expect(titles.first).to_have_text("jo")
            expect(titles.nth(1)).to_contain_text("jo.followed")
            expect(titles.nth(1).locator(".following")).to_be_visible()
            expect(titles.nth(3).locator(".verified")).to_be_visible()  # jo.star
            expect(page.locator("#status")).to_contain_text("results")
            page.screenshot(path=str(ARTIFACTS / "typeahead.png"), full_page=True)
            assert page.evaluate("localStorage.length") == 0
            assert not any(KEY in url or "token" in url or "viewer=" in url for url in urls), urls
            page.get_by_label("Log in as").select_option("jo.followed")  # another viewer, another social context
            expect(page.locator("#who")).to_have_text("Logged in as jo.followed (user 2)")
            page.fill("#q", "")
            page.locator("#q").press_sequentially("jo.m", delay=60)
            expect(page.locator("#results li").first.locator(".title")).to_contain_text("jo.mutual")
            expect(page.locator("#results li").first.locator(".following")).to_be_visible()  # user 2 follows 3
        finally:
            browser.close()
