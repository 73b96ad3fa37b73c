"""The typed client (unicorn_client) against the real app, sync and async: every call, and errors
raised with the API's status and code."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.testclient import TestClient

from api.app import create_app
from tests.test_docs import example_index
from unicorn_client import AsyncClient, Client, UnicornError

KEYS = {"client-admin": "admin", "client-search": "search"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    index = example_index(tmp_path_factory.mktemp("client-index"))
    yield create_app(index=index, keys=KEYS, timeout_ms=10_000)
    index.close()


def test_sync_client(app):
    with TestClient(app, base_url="http://unicorn") as http, Client("http://unicorn", "client-search", http=http) as client:
        hits = client.typeahead("jo", viewer=6, verticals=("user",))
        assert [r["id"] for r in hits["results"]] == ["2", "4", "3"]
        assert hits["results"][0]["social"]["following"] is True
        page = client.search("media", "(and (term hashtag:sunset) (apply owner: (term following:6)))", viewer=6,
                             explain=True)
        assert (page["total"], [r["id"] for r in page["results"]]) == (2, ["100", "102"])
        assert client.document("user", 2, viewer=6)["doc"]["username"] == "jo.doe"
        assert client.ready()["status"] == "ready" and client.health() == {"status": "ok"}
        trends = client.trending("hashtag", viewer=6, limit=5)
        assert set(trends) == {"kind", "results", "as_of"} and trends["kind"] == "hashtag"
        exact = client.typeahead("jonh", viewer=6, verticals=("user",), typos="0")
        assert exact["results"] == [] and client.typeahead("jonh", viewer=6, verticals=("user",))["results"]
        with pytest.raises(UnicornError) as raised:
            client.document("media", 101, viewer=6)
        assert (raised.value.status, raised.value.code) == (404, "not_found")
        with pytest.raises(UnicornError) as raised:
            client.search("user", "(term name:jo)")
        assert (raised.value.status, raised.value.code) == (403, "forbidden")
        with pytest.raises(UnicornError) as raised:
            client.search("user", "(and (term name:jo)", viewer=6)
        assert raised.value.code == "bad_query" and "position" in raised.value.message


def test_async_client(app):
    async def calls() -> tuple:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://unicorn")
        async with AsyncClient("http://unicorn", "client-admin", http=http) as client:
            hits = await client.typeahead("#su")
            page = await client.search("user", "(term name:jo)", limit=2)
            doc = await client.document("place", 10)
            with pytest.raises(UnicornError) as raised:
                await client.document("user", "18446744073709551616")
            return hits, page, doc, raised.value
    hits, page, doc, error = asyncio.run(calls())
    assert [r["id"] for r in hits["results"]][:2] == ["sunset", "surf"]
    assert (page["total"], [r["id"] for r in page["results"]]) == (4, ["2", "3"])
    assert doc["doc"]["name"] == "Sun City Beach"
    assert (error.status, error.code) == (400, "bad_request")


def test_a_wrong_key_is_unauthorized(app):
    with TestClient(app, base_url="http://unicorn") as http, Client("http://unicorn", "nope", http=http) as client:
        with pytest.raises(UnicornError) as raised:
            client.typeahead("jo", viewer=6)
        assert (raised.value.status, raised.value.code) == (401, "unauthorized")


def test_the_client_leaves_a_shared_http_client_unauthenticated(app):
    """The key goes with each of the client's requests, not into the http client it is given."""
    with TestClient(app, base_url="http://unicorn") as http:
        client = Client("http://unicorn", "client-search", http=http)
        assert client.typeahead("jo", viewer=6)["results"]
        assert http.get("/v1/typeahead", params={"q": "jo", "viewer": 6}).status_code == 401


def test_built_requests_are_what_the_client_sends(app):
    with TestClient(app, base_url="http://unicorn") as http:
        request = Client("http://unicorn", "client-search", http=http).requests.typeahead("jo", viewer=6, limit=3)
        assert request.url.raw_path == b"/v1/typeahead?q=jo&limit=3&viewer=6"
        assert request.headers["authorization"] == "Bearer client-search"
        assert len(http.send(request).json()["results"]) == 3
