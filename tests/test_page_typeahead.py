"""End to end in headless Chromium: `api.serve` runs a real uvicorn server on 127.0.0.1 over a small
data directory built as `unicorn index --once` builds it (an embedded firehose drained by the real
indexer, trending pipeline included), with signed viewers and the demo login as `unicorn demo`
serves them. The page is opened without a key and logs in through its "Log in as" picker; names are
typed key by key. Covered: social ranking, the combobox's keyboard (arrows, Enter, Escape), a click
that opens the document view, highlighted matches, a 390 px phone, trending while the box is empty.
No key or token ever reaches a URL or localStorage. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

import indexer
from firehose.log import EmbeddedLog
from tests.processes import started, wait_for_line
from tests.test_typeahead_behaviour import HISTORY, user

expect.set_options(timeout=20_000)  # a busy shared machine can take seconds to start a browser or answer

KEY = "page-test-key"
SECRET = "page-test-secret-" + "x" * 32
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"  # Debian's package; the README's test command installs it
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1024, "height": 800}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}

MINUTE = 60_000
NOW = 1_700_000_000_000
FANS = range(8, 21)  # HISTORY's thirteen public fans of jo.star
TRENDS = [
    user(27, "zoe.a", "Zoë Ångström"),
    {"op": "place.upsert", "ts": NOW, "place": {"id": 301, "name": "Sunset Pier", "city": "Santa Monica",
                                                "country": "US", "lat": 34.0083, "lng": -118.4988}},
    *({"op": "media.upsert", "ts": NOW + n * MINUTE,  # every fan within the trending window: #sunset and the pier trend
       "media": {"id": 500 + n, "owner": fan, "caption": "golden hour #sunset", "taken_at": NOW + n * MINUTE,
                 "place": 301}} for n, fan in enumerate(FANS)),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    with EmbeddedLog(data / "firehose").producer() as producer:
        for event in HISTORY + TRENDS:
            producer.send(event)
    stats = indexer.run(data, once=True, progress=False)
    assert (stats.applied, stats.dead_lettered) == (len(HISTORY) + len(TRENDS), 0)
    env = {**os.environ, "UNICORN_API_KEYS": f"{KEY}:search", "UNICORN_VIEWER_SECRET": SECRET,
           "UNICORN_DEMO_LOGIN_KEY": KEY, "UNICORN_TIMEOUT_MS": "60000"}
    log = data.parent / "server.log"
    with started([sys.executable, "-c", f"import api; api.serve({str(data)!r}, host='127.0.0.1', port=0)"],
                 log, env=env, cwd=Path(__file__).resolve().parent.parent) as process:
        port = wait_for_line(log, r"Uvicorn running on http://127\.0\.0\.1:(\d+)", process, 60).group(1)
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/readyz").status_code == 200
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@contextmanager
def logged_in(browser: Browser, server: str, persona: str = "vera", **context) -> Iterator[Page]:
    """A fresh tab logged in as `persona`; on leaving, neither its key nor its token was ever in a
    requested URL, and localStorage is empty."""
    tab = browser.new_context(**({"viewport": DESKTOP} | context))
    try:
        page = tab.new_page()
        urls: list[str] = []
        page.on("request", lambda request: urls.append(request.url))
        page.goto(server)
        page.get_by_label("Log in as").select_option(persona)
        expect(page.locator("#who")).to_contain_text(f"Logged in as {persona} ")
        token = page.evaluate("JSON.parse(sessionStorage.getItem('unicorn.session')).token")
        yield page
        assert page.evaluate("localStorage.length") == 0
        assert not any(KEY in url or token in url or "viewer=" in url for url in urls), urls
    finally:
        tab.close()


def typed(page: Page, text: str) -> None:
    page.fill("#q", "")
    page.locator("#q").press_sequentially(text, delay=60)
    expect(page.locator("#results")).to_have_attribute("data-q", text)  # the answer to the whole text


def options(page: Page):
    return page.locator('#results [role="option"]')


def stat(page: Page, field: str):
    return page.locator(f'#doc .stat[data-field="{field}"] dd')


def test_typing_shows_people_ranked_by_who_the_viewer_knows(server, browser):
    page = browser.new_page(viewport={"width": 720, "height": 900})
    try:
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
        first = page.locator("#results .result").first
        expect(first.locator(".title")).to_have_text("jo.mutual")
        expect(first.locator(".social")).to_have_text("Followed by jo.followed, bob, cat and 1 other")
        page.fill("#q", "")
        page.locator("#q").press_sequentially("jo", delay=60)
        titles = page.locator("#results .result .title")
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
        expect(page.locator("#results .result").first.locator(".title")).to_contain_text("jo.mutual")
        expect(page.locator("#results .result").first.locator(".following")).to_be_visible()  # user 2 follows 3
    finally:
        page.close()


def test_arrows_move_the_selection_enter_opens_the_document_escape_closes(server, browser):
    with logged_in(browser, server) as page:
        q = page.locator("#q")
        expect(q).to_have_attribute("role", "combobox")
        expect(q).to_have_attribute("aria-controls", "results")
        typed(page, "jo")
        expect(q).to_have_attribute("aria-expanded", "true")
        expect(page.locator("#results")).to_have_attribute("role", "listbox")
        expect(options(page).first.locator(".title")).to_have_text("jo")
        expect(page.locator('[aria-selected="true"]')).to_have_count(0)
        steps = [("ArrowDown", 0), ("ArrowDown", 1), ("ArrowDown", 2), ("ArrowUp", 1), ("ArrowDown", 2)]
        for key, index in steps:
            q.press(key)
            selected = options(page).nth(index)
            expect(selected).to_have_attribute("aria-selected", "true")
            expect(page.locator('#results [aria-selected="true"]')).to_have_count(1)
            expect(q).to_have_attribute("aria-activedescendant", selected.get_attribute("id"))
        expect(q).to_be_focused()  # the focus stays in the input; the selection is aria-activedescendant's
        expect(options(page).nth(2).locator(".title")).to_have_text("jo.mutual")
        q.press("Enter")
        doc = page.locator("#doc")
        expect(doc).to_be_visible()
        expect(page.locator("#doc-title")).to_have_text("jo.mutual")
        expect(doc.locator(".doc-subtitle")).to_have_text("Jo Mutual")
        expect(stat(page, "followers_count")).to_have_text("5")
        expect(stat(page, "following_count")).to_have_text("0")
        expect(stat(page, "media_count")).to_have_text("0")
        expect(doc.locator(".social")).to_have_text("Followed by jo.followed, bob, cat and 1 other")
        page.screenshot(path=str(ARTIFACTS / "document.png"))
        page.keyboard.press("Escape")  # closes the document, back to the list as it was
        expect(doc).to_be_hidden()
        expect(q).to_be_focused()
        expect(options(page).nth(2)).to_have_attribute("aria-selected", "true")
        q.press("Escape")  # closes the list, keeps the text
        expect(page.locator("#results")).to_be_hidden()
        expect(q).to_have_attribute("aria-expanded", "false")
        assert q.get_attribute("aria-activedescendant") is None
        expect(q).to_have_value("jo")
        q.press("ArrowUp")  # opens it again, on the last option
        expect(page.locator("#results")).to_be_visible()
        expect(options(page).last).to_have_attribute("aria-selected", "true")
        q.press("Home")
        q.press("ArrowDown")  # wraps around to the first
        q.press("Enter")
        expect(page.locator("#doc-title")).to_have_text("jo")
        expect(page.locator("#doc .doc-subtitle")).to_have_text("Plain")


def test_a_click_opens_a_place_and_a_hashtag(server, browser):
    with logged_in(browser, server) as page:
        typed(page, "sun")
        place = options(page).filter(has_text="Sunset Pier")
        expect(place.locator(".subtitle")).to_have_text("Santa Monica, US")
        place.click()
        doc = page.locator("#doc")
        expect(page.locator("#doc-title")).to_have_text("Sunset Pier")
        expect(doc.locator(".doc-subtitle")).to_have_text("Santa Monica, United States")
        expect(stat(page, "media_count")).to_have_text("13")
        expect(stat(page, "city")).to_have_text("Santa Monica")
        expect(stat(page, "country")).to_have_text("United States")
        expect(doc.locator(".coordinates")).to_have_text("34.0083° N, 118.4988° W")
        page.screenshot(path=str(ARTIFACTS / "document-place.png"))
        page.get_by_role("button", name="Close").click()
        expect(doc).to_be_hidden()
        options(page).filter(has_text="#sunset").click()
        expect(page.locator("#doc-title")).to_have_text("#sunset")
        expect(stat(page, "media_count")).to_have_text("13")
        page.mouse.click(5, 5)  # the backdrop
        expect(doc).to_be_hidden()
        typed(page, "jolly")
        options(page).first.click()
        expect(page.locator("#doc-title")).to_have_text("Jolly Tower")
        expect(doc.locator(".doc-subtitle")).to_have_text("Paris, France")
        expect(stat(page, "media_count")).to_have_text("1")


def marks(locator) -> list[str]:
    return locator.locator("mark").all_inner_texts()


def test_the_matched_start_of_each_name_token_is_highlighted(server, browser):
    with logged_in(browser, server) as page:
        typed(page, "jo.m")
        first = options(page).first
        expect(first.locator(".title")).to_have_text("jo.mutual")
        assert marks(first.locator(".title")) == ["jo", "m"]
        assert marks(first.locator(".subtitle")) == ["Jo", "M"]
        typed(page, "ANG")  # case and accents do not matter, as in the typeahead's own matching
        zoe = options(page).first
        expect(zoe.locator(".title")).to_have_text("zoe.a")
        assert marks(zoe.locator(".subtitle")) == ["Ång"]
        assert marks(zoe.locator(".title")) == []
        typed(page, "zoë a")
        assert marks(options(page).first.locator(".title")) == ["zoe", "a"]
        assert marks(options(page).first.locator(".subtitle")) == ["Zoë", "Å"]
        typed(page, "#su")
        tag = options(page).first
        expect(tag.locator(".title")).to_have_text("#sunset")
        assert marks(tag.locator(".title")) == ["su"]
        assert marks(tag.locator(".subtitle")) == []  # "13 posts" is not a name


def no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_phone_stacks_the_picker_and_the_box_and_nothing_scrolls_sideways(server, browser):
    with logged_in(browser, server, **PHONE) as page:
        width = PHONE["viewport"]["width"]
        expect(page.locator("#results .trending.place")).to_be_visible()
        assert no_horizontal_scroll(page)
        page.screenshot(path=str(ARTIFACTS / "phone-trending.png"))
        picker, box = page.locator("#persona").bounding_box(), page.locator("#q").bounding_box()
        assert picker["y"] + picker["height"] <= box["y"]  # stacked, not side by side
        for element in (picker, box):
            assert 0 <= element["x"] and element["x"] + element["width"] <= width
        typed(page, "jo")
        expect(options(page)).to_have_count(10)
        assert no_horizontal_scroll(page)
        titles = page.locator("#results .result .title")
        for n in range(4):  # the short names show whole, in a readable size, inside the screen
            title = titles.nth(n)
            assert title.evaluate("e => e.scrollWidth <= e.clientWidth")
            assert title.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 14
            frame = title.bounding_box()
            assert frame["x"] >= 0 and frame["x"] + frame["width"] <= width
        page.screenshot(path=str(ARTIFACTS / "phone.png"))
        options(page).nth(2).tap()
        expect(page.locator("#doc-title")).to_have_text("jo.mutual")
        expect(stat(page, "followers_count")).to_have_text("5")
        sheet = page.locator("#doc").bounding_box()
        assert sheet["x"] >= 0 and sheet["x"] + sheet["width"] <= width
        assert no_horizontal_scroll(page)
        page.screenshot(path=str(ARTIFACTS / "phone-document.png"))


def test_trending_shows_while_the_box_is_empty_and_opens_like_a_result(server, browser):
    tab = browser.new_context(viewport=DESKTOP)
    try:
        page = tab.new_page()
        page.goto(server)
        expect(page.locator("#status")).to_contain_text("Log in as a demo user")
        expect(page.locator("#results .trending")).to_have_count(0)  # trending needs a viewer
    finally:
        tab.close()
    with logged_in(browser, server) as page:
        hashtags, places = page.locator("#results .trending.hashtag"), page.locator("#results .trending.place")
        expect(hashtags).to_be_visible()
        expect(hashtags.locator(".group-label")).to_have_text("Trending hashtags")
        expect(hashtags.locator('[role="option"] .title')).to_have_text(["#sunset"])
        expect(hashtags.locator('[role="option"] .subtitle')).to_have_text(["13 accounts lately · usually 0"])
        expect(places.locator('[role="option"] .title')).to_have_text(["Sunset Pier"])
        expect(page.locator("#q")).to_have_attribute("aria-expanded", "true")
        page.screenshot(path=str(ARTIFACTS / "trending.png"))
        page.locator("#q").press("Enter")  # nothing picked yet: nothing opens
        expect(page.locator("#doc")).to_be_hidden()
        page.locator("#q").press("j")  # typing replaces trending with results
        expect(page.locator("#status")).to_contain_text("result")
        expect(page.locator("#results .trending")).to_have_count(0)
        expect(options(page).first.locator(".title")).to_contain_text("jo.followed")  # vera follows jo.followed
        page.locator("#q").press("Backspace")
        expect(places).to_be_visible()
        page.locator("#q").press("ArrowDown")
        page.locator("#q").press("ArrowDown")
        expect(places.locator('[role="option"]')).to_have_attribute("aria-selected", "true")
        page.locator("#q").press("Enter")
        expect(page.locator("#doc-title")).to_have_text("Sunset Pier")
        expect(page.locator("#doc .trend-badge")).to_have_text("Trending · 13 accounts lately")
        page.keyboard.press("Escape")
        hashtags.locator('[role="option"]').click()
        expect(page.locator("#doc-title")).to_have_text("#sunset")
        expect(stat(page, "media_count")).to_have_text("13")
        expect(stat(page, "recent")).to_have_text("13")
