"""Every SPEC §6 endpoint and error code through the real ASGI app (starlette TestClient)."""

from __future__ import annotations

import logging
import subprocess
import threading
import time

import pytest
from jsonschema import Draft202012Validator
from starlette.testclient import TestClient

from api import create_app
from api.auth import Keys, keys_from_env
from api.errors import STATUS
from api.slowlog import SlowLog
from firehose.events import validate
from firehose.log import EmbeddedLog
from indexer.store import Index
from slipstream import Slipstream
from tests.indexed import indexed
from unicorn_client import Client
from tests.test_typeahead_behaviour import HISTORY
from vocabulary import paths
from vocabulary.schema import VERTICALS

ADMIN, SEARCH = "admin-key-0123", "search-key-4567"
KEYS = {ADMIN: "admin", SEARCH: "search"}
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
AS_SEARCH = {"Authorization": f"Bearer {SEARCH}"}
MEDIA = [{"op": "media.upsert", "ts": 0, "media": {"id": 500, "owner": 24, "caption": "secret #joy", "taken_at": 3}},
         {"op": "media.upsert", "ts": 0, "media": {"id": 501, "owner": 22, "caption": "hidden", "taken_at": 3}}]


@pytest.fixture(scope="module")
def index():
    with indexed([validate(e) for e in HISTORY + MEDIA]) as (index, _):
        yield index


@pytest.fixture(scope="module")
def client(index):
    with TestClient(create_app(index=index, keys=KEYS, timeout_ms=60_000)) as client:  # no 504 on a busy machine
        yield client


@pytest.fixture(scope="module")
def as_search(client):
    """The typed client (unicorn_client) with the search key, over the same app: the happy paths go through it."""
    return Client(str(client.base_url), SEARCH, http=client)


@pytest.fixture(scope="module")
def as_admin(client):
    return Client(str(client.base_url), ADMIN, http=client)


def error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    return body["error"]["message"]


# typeahead

def test_typeahead_shape_and_social_context(client, as_search):
    got = client.get("/v1/typeahead", params={"q": "jo", "viewer": "1", "limit": 4, "verticals": "user"},
                     headers=AS_SEARCH)
    assert got.status_code == 200 and got.headers["content-type"] == "application/json"
    body = as_search.typeahead("jo", viewer=1, limit=4, verticals=("user",))
    assert body["results"] == got.json()["results"]
    assert set(body) == {"q", "results", "took_ms"} and body["q"] == "jo"
    assert [r["id"] for r in body["results"]] == ["21", "2", "3", "7"]
    mutual = body["results"][2]
    assert mutual["social"]["followed_by_count"] == 4 and len(mutual["social"]["followed_by"]) == 3
    assert all(isinstance(f["id"], str) for f in mutual["social"]["followed_by"])


def test_typeahead_verticals_hashtags_and_admin(as_admin):
    got = as_admin.typeahead("#jo")
    assert [(r["vertical"], r["id"], r["title"]) for r in got["results"]] == [
        ("hashtag", "joy", "#joy"), ("hashtag", "journey", "#journey")]
    places = as_admin.typeahead("jo", verticals=("place",))
    assert [(r["vertical"], r["title"], r["subtitle"]) for r in places["results"]] == [("place", "Jolly Tower", "Paris, FR")]


@pytest.mark.parametrize("params", [{}, {"q": "jo", "limit": "x"}, {"q": "jo", "limit": "0"}, {"q": "jo", "limit": "51"},
                                    {"q": "jo", "limit": "-1"}, {"q": "jo", "viewer": "abc"},
                                    {"q": "jo", "viewer": str(2**64)}, {"q": "jo", "verticals": "user,media"},
                                    {"q": "x" * 201}])
def test_typeahead_bad_request(client, params):
    error(client.get("/v1/typeahead", params={"viewer": "1", **params}, headers=AS_ADMIN), 400, "bad_request")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {ADMIN}"},
                                     {"Authorization": "Bearer"}, {"Authorization": f"Bearer {ADMIN}x"}])
def test_unauthorized(client, headers):
    for response in (client.get("/v1/typeahead", params={"q": "jo", "viewer": 1}, headers=headers),
                     client.post("/v1/search", json={"vertical": "user", "query": "(term name:jo)"}, headers=headers),
                     client.get("/v1/documents/user/2", headers=headers)):
        error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"


def test_search_key_needs_a_viewer(client):
    error(client.get("/v1/typeahead", params={"q": "jo"}, headers=AS_SEARCH), 403, "forbidden")
    error(client.post("/v1/search", json={"vertical": "user", "query": "(term name:jo)"}, headers=AS_SEARCH),
          403, "forbidden")
    error(client.get("/v1/documents/user/2", headers=AS_SEARCH), 403, "forbidden")


# search

def test_search_shape_privacy_and_explain(as_search):
    result = as_search.search("user", "(term name:jo)", viewer="1", limit=3, explain=True)
    assert set(result) == {"vertical", "total", "truncated", "results", "took_ms"}
    assert result["total"] == 7 and result["truncated"] is False  # jo.blocked is hidden from viewer 1
    assert [r["id"] for r in result["results"]] == ["7", "3", "2"]
    assert result["results"][0]["why"] == ["name:jo"] and result["results"][0]["doc"]["id"] == "7"
    social = as_search.search("user", "(term name:jo)", viewer=1, limit=3, explain=True, order="social")
    assert [r["id"] for r in social["results"]] == ["2", "3", "7"]
    json_form = as_search.search("user", {"term": "name:jo"}, viewer="1", limit=3, explain=True)
    assert json_form["results"] == result["results"]


def test_search_media_privacy(as_search, as_admin):
    assert as_search.search("media", "(term hashtag:joy)", viewer=4)["total"] == 2
    assert as_search.search("media", "(term hashtag:joy)", viewer=24)["total"] == 3
    assert as_admin.search("media", "(term hashtag:joy)")["total"] == 3


def test_bad_query_names_the_position(client):
    message = error(client.post("/v1/search", json={"vertical": "user", "query": "(and (term name:jo) (term zz:1))"},
                                headers=AS_ADMIN), 400, "bad_query")
    assert "position 26" in message  # where `zz:1` starts
    message = error(client.post("/v1/search", json={"vertical": "user", "query": {"and": [{"term": "name:jo"}, 3]}},
                                headers=AS_ADMIN), 400, "bad_query")
    assert "$.and[1]" in message


@pytest.mark.parametrize("body", [
    b"not json", b"[1, 2]", b'{"query": "(term name:jo)"}', b'{"vertical": "user"}',
    b'{"vertical": "video", "query": "(term name:jo)"}', b'{"vertical": 3, "query": "(term name:jo)"}',
    b'{"vertical": "user", "query": "(term name:jo)", "limit": 0}',
    b'{"vertical": "user", "query": "(term name:jo)", "limit": 1001}',
    b'{"vertical": "user", "query": "(term name:jo)", "limit": "5"}',
    b'{"vertical": "user", "query": "(term name:jo)", "order": "fancy"}',
    b'{"vertical": "user", "query": "(term name:jo)", "order": "social"}',
    b'{"vertical": "user", "query": "(term name:jo)", "explain": "yes"}',
    b'{"vertical": "user", "query": "(term name:jo)", "viewer": "x"}',
    b'{"vertical": "user", "query": "(term name:jo)", "viewer": true}',
    b'{"vertical": "user", "query": "(term name:jo)", "apply_fanout_max": 0}',
    b'{"vertical": "user", "query": "(term name:jo)", "surprise": 1}',
])
def test_search_bad_request(client, body):
    error(client.post("/v1/search", content=body, headers=AS_ADMIN), 400, "bad_request")


@pytest.mark.parametrize("query", [
    "(term name:" + "j" * 17_000 + ")",
    "(and " * 40 + "(term name:jo)" + ")" * 40,
    "(or " + "(term name:jo) " * 1100 + ")",
    {"or": [{"term": "name:jo"}] * 1100},
])
def test_too_large(client, query):
    error(client.post("/v1/search", json={"vertical": "user", "query": query}, headers=AS_ADMIN), 413, "too_large")


def test_body_over_the_limit_is_too_large(client):
    error(client.post("/v1/search", content=b" " * 70_000, headers=AS_ADMIN), 413, "too_large")
    deep = b'{"vertical": "user", "query": ' + b'{"and": [' * 600 + b'{"term": "name:jo"}' + b"]}" * 600 + b"}"
    error(client.post("/v1/search", content=deep, headers=AS_ADMIN), 413, "too_large")


def test_timeout(index):
    with TestClient(create_app(index=index, keys=KEYS, timeout_ms=0)) as client:
        error(client.post("/v1/search", json={"vertical": "user", "query": "(term name:jo)"}, headers=AS_ADMIN),
              504, "timeout")
        error(client.get("/v1/typeahead", params={"q": "jo"}, headers=AS_ADMIN), 504, "timeout")


# documents

def test_document_and_string_ids(as_search, as_admin):
    assert as_search.document("media", 500, viewer=24) == {"vertical": "media", "id": "500", "doc": {
        "id": "500", "owner": "24", "owner_username": "jo.private", "caption": "secret #joy", "hashtags": ["joy"],
        "mentions": [], "place": None, "taken_at": 3, "like_count": 0}}
    hashtag = as_admin.document("hashtag", "JOY")
    assert hashtag == {"vertical": "hashtag", "id": "joy", "doc": {"id": "joy", "name": "joy", "media_count": 2}}  # 500 is private


def test_hidden_documents_are_indistinguishable_from_absent(client):
    absent = client.get("/v1/documents/user/999", params={"viewer": 1}, headers=AS_SEARCH)
    for path in ("/v1/documents/user/22", "/v1/documents/user/23", "/v1/documents/media/501",
                 "/v1/documents/media/500", "/v1/documents/media/999"):
        hidden = client.get(path, params={"viewer": 1}, headers=AS_SEARCH)
        assert (hidden.status_code, hidden.content) == (absent.status_code, absent.content) == (404, absent.content)
    error(absent, 404, "not_found")
    assert client.get("/v1/documents/user/22", headers=AS_ADMIN).status_code == 200


@pytest.mark.parametrize("path", ["/v1/documents/video/1", "/v1/documents/user/abc", "/v1/documents/user/-1"])
def test_document_bad_request(client, path):
    error(client.get(path, headers=AS_ADMIN), 400, "bad_request")


# service endpoints

def test_health_ready_metrics_without_a_key(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["index_open"] and ready["index_generation"] >= 1
    assert ready["index_size_bytes"] > 0 and ready["firehose_lag"] is None
    assert client.get("/v1/typeahead", params={"q": "jo"}, headers=AS_ADMIN).status_code == 200
    assert client.get("/v1/typeahead", params={"q": "jo"}).status_code == 401
    metrics = client.get("/metrics").text
    assert 'unicorn_http_requests_total{endpoint="/v1/typeahead",method="GET",status="200"}' in metrics
    assert 'unicorn_http_requests_total{endpoint="/v1/typeahead",method="GET",status="401"}' in metrics
    assert 'unicorn_http_request_seconds_bucket{endpoint="/v1/typeahead",le="0.2"}' in metrics
    assert "unicorn_index_size_bytes " in metrics and "unicorn_index_generation " in metrics


def test_not_ready_until_the_index_exists_then_lag(tmp_path):
    events = [validate(e) for e in HISTORY[:3]]
    with EmbeddedLog(paths.firehose(tmp_path)).producer() as producer:
        for event in events:
            producer.send(event)
    with TestClient(create_app(tmp_path, keys=KEYS, timeout_ms=60_000)) as client:
        error(client.get("/readyz"), 503, "not_ready")
        error(client.get("/v1/typeahead", params={"q": "jo"}, headers=AS_ADMIN), 503, "not_ready")
        error(client.get("/v1/typeahead", params={"q": "jo"}), 401, "unauthorized")
        index = Index(paths.index(tmp_path))
        with index.writer() as batch:  # an index that has seen none of the firehose's offsets
            Slipstream(batch).apply(events[0])
        index.close()
        ready = client.get("/readyz").json()
        assert ready["index_open"] and ready["firehose_lag"] == 3 and ready["indexer"] is None
        assert client.get("/v1/typeahead", params={"q": "vera"}, headers=AS_ADMIN).json()["results"][0]["id"] == "1"
        assert "unicorn_firehose_lag 3.0" in client.get("/metrics").text
        # the real indexer, in its own process (one LMDB environment per process), drains the firehose
        subprocess.run(["unicorn", "index", "--once", "--data", str(tmp_path)], check=True, capture_output=True)
        ready = client.get("/readyz").json()
        assert ready["firehose_lag"] == 0 and ready["indexer"]["applied_total"] == 3
        assert client.get("/v1/typeahead", params={"q": "jo.followed"}, headers=AS_ADMIN).json()["results"][0]["id"] == "2"


def test_unknown_routes_and_methods(client):
    error(client.get("/v2/nothing", headers=AS_ADMIN), 404, "not_found")
    error(client.get("/v1/search", headers=AS_ADMIN), 405, "method_not_allowed")
    metrics = client.get("/metrics").text  # counted under the route that matched, "other" when none did
    assert 'unicorn_http_requests_total{endpoint="other",method="GET",status="404"}' in metrics
    assert 'unicorn_http_requests_total{endpoint="/v1/search",method="GET",status="405"}' in metrics


def test_page_and_assets_need_no_key(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="q"' in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    error(client.get("/static/nothing.js"), 404, "not_found")


def test_openapi_matches_the_routes(client):
    served = client.get("/openapi.json").json()
    assert served["openapi"].startswith("3.")
    assert {"/v1/typeahead", "/v1/search", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/",
            *(f"/v1/documents/{vertical}/{{id}}" for vertical in VERTICALS)} <= set(served["paths"])  # SPEC §6's table
    documented = {(path, method.upper()) for path, ops in served["paths"].items() for method in ops}
    app_routes = {(r.path.replace("{vertical}", vertical), m) for r in client.app.routes if hasattr(r, "methods")
                  for m in r.methods - {"HEAD"} for vertical in VERTICALS}  # one documented path per vertical
    assert documented == app_routes | {("/static/{file}", "GET")}
    codes = {code for ops in served["paths"].values() for op in ops.values() for code in op["responses"]}
    assert {str(s) for c, s in STATUS.items() if c not in ("internal", "method_not_allowed")} <= codes



# what docs/http-api.md says a search body may be, written out here rather than taken from api/models.py
JO = {"vertical": "user", "query": "(term name:jo)"}
SEARCH_BODIES = [
    (JO, True),
    ({"vertical": "media", "query": {"term": "hashtag:joy"}, "viewer": "0001", "limit": 1000, "order": "social",
      "explain": True, "apply_fanout_max": 2**64 - 1}, True),
    ({**JO, "viewer": 2**64 - 1, "limit": 1, "order": "static", "explain": False, "apply_fanout_max": 1}, True),
    ({**JO, "viewer": None}, True),
    ({"query": "(term name:jo)"}, False), ({"vertical": "user"}, False), ({**JO, "vertical": "video"}, False),
    ({**JO, "vertical": None}, False), ({**JO, "limit": 0}, False), ({**JO, "limit": 1001}, False),
    ({**JO, "limit": "5"}, False), ({**JO, "limit": 5.5}, False), ({**JO, "limit": True}, False),
    ({**JO, "order": "fancy"}, False), ({**JO, "order": None}, False), ({**JO, "explain": "yes"}, False),
    ({**JO, "explain": 1}, False), ({**JO, "viewer": "x"}, False), ({**JO, "viewer": True}, False),
    ({**JO, "viewer": -1}, False), ({**JO, "viewer": 2**64}, False), ({**JO, "viewer": "18446744073709551616"}, False),
    ({**JO, "apply_fanout_max": 0}, False), ({**JO, "apply_fanout_max": 2**64}, False), ({**JO, "surprise": 1}, False),
]


@pytest.mark.parametrize("body,valid", SEARCH_BODIES)
def test_the_served_search_schema_and_the_server_agree_with_the_docs(client, body, valid):
    schema = client.get("/openapi.json").json()["components"]["schemas"]["SearchRequest"]
    assert Draft202012Validator(schema).is_valid(body) == valid
    answer = client.post("/v1/search", json=body, headers=AS_ADMIN)
    if valid:
        assert answer.status_code == 200, answer.text
    else:
        error(answer, 400, "bad_request")


# slow-query log

def test_slow_requests_are_logged_with_the_query(index, caplog):
    with TestClient(create_app(index=index, keys=KEYS, slow_ms=0, timeout_ms=60_000)) as client, \
            caplog.at_level(logging.WARNING):
        found = client.post("/v1/search", json={"vertical": "user", "query": "(term name:vera)"}, headers=AS_ADMIN)
    assert found.status_code == 200 and found.json()["total"] >= 1
    assert any("slow request" in r.message and "(term name:vera)" in r.message for r in caplog.records)


def test_slow_log_snapshots_the_stack_of_the_running_request(caplog):
    slow = SlowLog(threshold_ms=5)
    done = threading.Event()

    def stuck_in_a_long_step():
        with slow.watch("search q=(term name:slow)"):
            done.wait(5)

    worker = threading.Thread(target=stuck_in_a_long_step)
    with caplog.at_level(logging.WARNING, logger="unicorn.slow"):
        worker.start()
        for _ in range(500):
            if any("request past" in r.message for r in caplog.records):
                break
            time.sleep(0.01)
        done.set()
        worker.join()
    snapshot = next(r.message for r in caplog.records if "request past" in r.message)
    assert "search q=(term name:slow)" in snapshot and "stuck_in_a_long_step" in snapshot


def test_the_slow_log_watchdog_ends_when_nothing_is_in_flight_and_returns_with_the_next_request(caplog):
    """An idle app keeps no thread polling: each app (each test's, each worker's) would add one for good."""
    slow = SlowLog(threshold_ms=4)
    with caplog.at_level(logging.WARNING, logger="unicorn.slow"):
        for n in range(2):
            before = set(threading.enumerate())
            with slow.watch(f"typeahead q=late{n}"):
                watchdogs = [t for t in threading.enumerate() if t.name == "slow-query-log" and t not in before]
                deadline = time.monotonic() + 30
                while not any(f"q=late{n}" in r.message and "request past" in r.message for r in caplog.records):
                    assert time.monotonic() < deadline
                    time.sleep(0.01)
            assert len(watchdogs) == 1
            watchdogs[0].join(30)
            assert not watchdogs[0].is_alive()


# keys

def test_keys_from_the_environment_and_a_keys_file(tmp_path):
    keys_file = tmp_path / "keys"
    keys_file.write_text("# ops\nfile-admin:admin\n\nfile-search:search  # the page\n")
    keys = keys_from_env({"UNICORN_API_KEYS": "env-a:admin, env-s:search", "UNICORN_API_KEYS_FILE": str(keys_file)})
    assert keys == {"env-a": "admin", "env-s": "search", "file-admin": "admin", "file-search": "search"}
    checker = Keys(keys)
    assert checker.role("Bearer file-search") == "search" and checker.role("bearer env-a") == "admin"
    assert checker.role("Bearer env-") is None and checker.role(None) is None


@pytest.mark.parametrize("spec", ["justakey", "k:root", ":admin", "k:admin,other"])
def test_malformed_keys_are_refused_at_startup(spec):
    with pytest.raises(ValueError, match="KEY:admin or KEY:search"):
        keys_from_env({"UNICORN_API_KEYS": spec})
