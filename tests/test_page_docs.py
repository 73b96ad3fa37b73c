"""`/docs`, the API explorer, opened in headless Chromium from a real uvicorn server: it renders
every endpoint of /openapi.json with assets served by the server itself (no request leaves
127.0.0.1), needs no key, and its "try it out" sends a real request. Screenshot: test-artifacts/."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import orjson
import pytest
import uvicorn
from playwright.sync_api import expect, sync_playwright

from api.app import create_app
from firehose.events import validate
from slipstream import Slipstream
from tests.test_docs import DOCS
from tests.test_page_typeahead import ARGS, ARTIFACTS, CHROMIUM
from unicorn.store import Index


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    index = Index(tmp_path_factory.mktemp("explorer-index"))
    with index.writer() as batch:
        slip = Slipstream(batch)
        for line in (DOCS / "examples" / "platform.jsonl").read_text().splitlines():
            slip.apply(validate(orjson.loads(line)))
    app = create_app(index=index, keys={"explorer-key": "admin"}, timeout_ms=10_000)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),))
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the server did not start")
            thread.join(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()
        index.close()


def test_the_explorer_lists_every_endpoint_offline(url):
    hosts: set[str] = set()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
            page.goto(f"{url}/docs")
            for path in ("/v1/typeahead", "/v1/search", "/v1/documents/user/{id}", "/healthz", "/readyz"):
                expect(page.locator(".opblock-summary-path", has_text=path).first).to_be_visible()
            healthz = page.locator(".opblock", has=page.locator(".opblock-summary-path", has_text="/healthz")).first
            healthz.locator(".opblock-summary").click()
            healthz.get_by_role("button", name="Execute").click()
            expect(healthz.locator(".live-responses-table tr.response .response-col_status").first).to_contain_text("200")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "explorer.png"), full_page=False)
        finally:
            browser.close()
    assert hosts == {url.split("/")[2]}
