"""Issue 10 items 1, 2 and 5: keys built from hostile values, and ids past 2^64 - 1.

Values of any length are indexed and found (SPEC §2) through the real `unicorn ingest` and
`unicorn index --once`; empty values and ids past 2^64 - 1 are 400, never 500 (SPEC §6).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from api import create_app
from firehose.events import validate
from indexer.keys import KEY_MAX, text_key
from indexer.store import Index
from tests.indexed import indexed
from tests.test_api_endpoints import AS_ADMIN, KEYS, MEDIA, error
from tests.test_typeahead_behaviour import HISTORY
from vocabulary import paths
from vocabulary.schema import PREFIX_MAX

LONG_USER = "u" * 600
HUGE_USER = "u" * 10_000  # shares LONG_USER's readable key head
CYRILLIC = "ж" * 300  # one 600-byte token
WORD = "w" * 600
HUGE_WORD = "x" * 10_000
TAG = "t" * 600
HUGE_TAG = "t" * 10_000
CITY = "c" * 600
PLACE_TOKEN = "p" * 700
HUGE_ID = "9" * 5000  # past int()'s 4,300-digit limit
PAST_MAX = str(2**64)


def _events() -> list[dict]:
    user = {"is_private": False, "is_verified": False}
    return [
        {"op": "user.upsert", "ts": 1, "user": {"id": 1, "username": LONG_USER, "full_name": f"Ann {CYRILLIC}", **user}},
        {"op": "user.upsert", "ts": 2, "user": {"id": 2, "username": HUGE_USER, "full_name": "Bob", **user}},
        {"op": "place.upsert", "ts": 3, "place": {"id": 30, "name": f"Tower {PLACE_TOKEN}", "city": f"Old {CITY}",
                                                  "country": "FR", "lat": 1.0, "lng": 2.0}},
        {"op": "media.upsert", "ts": 4, "media": {"id": 100, "owner": 1, "taken_at": 5, "place": 30,
                                                  "caption": f"{WORD} {HUGE_WORD} #{TAG} @{LONG_USER}"}},
        {"op": "media.upsert", "ts": 5, "media": {"id": 101, "owner": 2, "taken_at": 6, "caption": "plain",
                                                  "hashtags": [HUGE_TAG], "mentions": [1]}},
    ]


def unicorn(data: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console.cli", *args, "--data", str(data)],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("hostile")
    events = data / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in _events()))
    ingested = unicorn(data, "ingest", str(events))
    assert ingested.returncode == 0 and "appended 5 events, dead-lettered 0" in ingested.stderr, ingested.stderr
    indexed = unicorn(data, "index", "--once")
    assert indexed.returncode == 0, indexed.stderr
    assert "applied 5 events, dead-lettered 0" in indexed.stderr
    return data


@pytest.fixture(scope="module")
def index(data):
    index = Index(paths.index(data), readonly=True)
    try:
        yield index
    finally:
        index.close()


@pytest.fixture(scope="module")
def client(index):
    with TestClient(create_app(index=index, keys=KEYS, timeout_ms=60_000)) as client:
        yield client


def search(client, vertical: str, query, **extra) -> list[str]:
    got = client.post("/v1/search", json={"vertical": vertical, "query": query, **extra}, headers=AS_ADMIN)
    assert got.status_code == 200, got.text
    return [r["id"] for r in got.json()["results"]]


# item 2: long values are indexed and found like short ones

def test_long_usernames_and_name_tokens_are_found(client):
    assert search(client, "user", f'(term username:"{LONG_USER}")') == ["1"]
    assert search(client, "user", f'(term username:"{HUGE_USER.upper()}")') == ["2"]
    assert search(client, "user", f'(term name:"{CYRILLIC}")') == ["1"]
    assert sorted(search(client, "user", f"(term name:{'u' * 601})")) == ["2"]
    assert sorted(search(client, "user", f"(term name:{'u' * 300})")) == ["1", "2"]


def test_long_caption_words_hashtags_and_mentions_are_found(client):
    assert search(client, "media", f"(term word:{WORD})") == ["100"]
    assert search(client, "media", {"term": f"word:{HUGE_WORD}"}) == ["100"]
    assert search(client, "media", f"(term hashtag:#{TAG})") == ["100"]
    assert search(client, "media", {"term": f"hashtag:{HUGE_TAG}"}) == ["101"]
    assert sorted(search(client, "media", "(term mention:1)")) == ["100", "101"]  # @LONG_USER resolved
    assert sorted(search(client, "hashtag", f"(term name:{TAG})")) == sorted([TAG, HUGE_TAG])
    assert sorted(search(client, "hashtag", f"(term name:{'t' * 650})")) == [HUGE_TAG]
    assert sorted(search(client, "hashtag", "(extract hashtag: (term owner:2))")) == [HUGE_TAG]


def test_long_hashtags_in_documents_and_typeahead(client):
    for tag in (TAG, HUGE_TAG):
        got = client.get(f"/v1/documents/hashtag/%23{tag}", headers=AS_ADMIN)
        assert got.status_code == 200, got.text
        assert got.json()["doc"] == {"id": tag, "name": tag, "media_count": 1}
    typed = client.get("/v1/typeahead", params={"q": "#" + "t" * 150}, headers=AS_ADMIN).json()
    assert sorted(r["id"] for r in typed["results"]) == sorted([TAG, HUGE_TAG])


def test_long_city_and_place_name_tokens_are_found(client):
    assert search(client, "place", f"(term city:{CITY})") == ["30"]
    assert search(client, "place", f"(term name:{PLACE_TOKEN})") == ["30"]
    assert search(client, "media", "(apply place: (term city:old))") == ["100"]


def test_prefix_scans_give_whole_terms(index):
    with index.reader() as view:
        words = {"word:plain", f"word:{WORD}", f"word:{HUGE_WORD}", f"word:{TAG}", f"word:{LONG_USER}"}
        assert set(view.terms("media", "word:")) == words  # the caption's #tag and @name are words too
        assert list(view.terms("media", f"word:{HUGE_WORD[:400]}")) == [f"word:{HUGE_WORD}"]
        assert list(view.terms("media", f"word:{HUGE_WORD[:400]}y")) == []
        assert set(view.terms("user", "username:")) == {f"username:{LONG_USER}", f"username:{HUGE_USER}"}
        assert set(view.terms("place", "city:")) == {"city:old", f"city:{CITY}"}
        assert set(view.terms("hashtag", f"name:{'t' * 5}")) == {f"name:{'t' * n}" for n in range(5, PREFIX_MAX + 1)}


def test_text_keys_fit_lmdb_and_stay_distinct():
    assert text_key("word:abc") == b"word:abc"
    keys = {text_key(v) for v in ("", "é" * 256, "é" * 300, LONG_USER, HUGE_USER, "a" * KEY_MAX)}
    assert len(keys) == 6 and all(0 < len(k) <= KEY_MAX for k in keys)


# item 1: empty values

@pytest.fixture(scope="module")
def small():
    with indexed([validate(e) for e in HISTORY + MEDIA]) as (index, _):
        with TestClient(create_app(index=index, keys=KEYS, timeout_ms=60_000)) as client:
            yield client


@pytest.mark.parametrize("tag", ["%23", "%23%CC%81", "%CC%81"])
def test_empty_hashtag_document_is_bad_request(small, tag):
    error(small.get(f"/v1/documents/hashtag/{tag}", headers=AS_ADMIN), 400, "bad_request")


@pytest.mark.parametrize("q", ["#", "@", "# ", "@ ", "#\u0301"])
def test_typeahead_of_a_bare_sigil_is_empty(small, q):
    got = small.get("/v1/typeahead", params={"q": q}, headers=AS_ADMIN)
    assert got.status_code == 200 and got.json()["results"] == []


@pytest.mark.parametrize("vertical,query", [
    ("user", '(term name:"")'), ("user", '(term username:"")'), ("media", '(term word:"")'),
    ("media", '(term hashtag:"")'), ("media", '(term hashtag:"#")'), ("place", '(term city:"")'),
    ("hashtag", '(term name:"#")'), ("media", {"term": "hashtag:#"})])
def test_empty_term_values_are_bad_query(small, vertical, query):
    message = error(small.post("/v1/search", json={"vertical": vertical, "query": query}, headers=AS_ADMIN),
                    400, "bad_query")
    assert "position" in message or "$" in message


@pytest.mark.parametrize("vertical,query", [
    ("user", '(term username:"\u0301")'), ("media", '(term word:"!!")'), ("place", '(term city:"-")'),
    ("user", '(term name:"..")')])
def test_values_normalized_to_nothing_match_nothing(small, vertical, query):
    assert search(small, vertical, query) == []


# item 5: ids past 2^64 - 1

@pytest.mark.parametrize("params", [{"viewer": HUGE_ID}, {"limit": HUGE_ID}, {"viewer": PAST_MAX}, {"limit": PAST_MAX}],
                         ids=["huge-viewer", "huge-limit", "past-max-viewer", "past-max-limit"])
def test_typeahead_huge_ids_are_bad_request(small, params):
    message = error(small.get("/v1/typeahead", params={"q": "jo", **params}, headers=AS_ADMIN), 400, "bad_request")
    assert len(message) < 300


@pytest.mark.parametrize("vertical", ["user", "media", "place"])
@pytest.mark.parametrize("ident", [HUGE_ID, PAST_MAX, "0" * 5000 + PAST_MAX], ids=["huge", "past-max", "zeros"])
def test_document_huge_ids_are_bad_request(small, vertical, ident):
    error(small.get(f"/v1/documents/{vertical}/{ident}", headers=AS_ADMIN), 400, "bad_request")
    error(small.get(f"/v1/documents/{vertical}/1", params={"viewer": ident}, headers=AS_ADMIN), 400, "bad_request")


def test_leading_zeros_do_not_make_an_id_huge(small):
    assert small.get(f"/v1/documents/user/{'0' * 5000}1", headers=AS_ADMIN).json()["id"] == "1"


@pytest.mark.parametrize("body", [{"viewer": HUGE_ID}, {"viewer": PAST_MAX}, {"limit": HUGE_ID}, {"viewer": int(PAST_MAX)}],
                         ids=["huge-viewer", "past-max-viewer", "huge-limit", "past-max-json-viewer"])
def test_search_huge_viewer_and_limit_are_bad_request(small, body):
    got = small.post("/v1/search", json={"vertical": "user", "query": "(term name:jo)", **body}, headers=AS_ADMIN)
    error(got, 400, "bad_request")


@pytest.mark.parametrize("query,where", [
    (f"(term following:{HUGE_ID})", "position 6"), (f"(term following:{PAST_MAX})", "position 6"),
    (f"(and (term name:jo) (term follower:{HUGE_ID}))", "position 26"),
    ({"term": f"following:{HUGE_ID}"}, "$.term"),
    (f"(weak-and (term name:jo) (term name:a :optional-hits {HUGE_ID}))", "position"),
    ({"weak_and": [{"term": "name:jo"}, {"term": "name:a", "optional_hits": HUGE_ID}]}, "optional_hits")],
    ids=["following", "past-max", "nested", "json", "optional-hits", "json-optional-hits"])
def test_huge_ids_inside_a_query_are_bad_query_with_position(small, query, where):
    got = small.post("/v1/search", json={"vertical": "user", "query": query}, headers=AS_ADMIN)
    assert where in error(got, 400, "bad_query")


@pytest.mark.parametrize("args", [("--viewer", HUGE_ID, "(term name:a)"), ("--viewer", PAST_MAX, "(term name:a)"),
                                  (f"(term following:{HUGE_ID})",), ('{"term": "name:',)],
                         ids=["huge-viewer", "past-max-viewer", "huge-term", "bad-json"])
def test_cli_query_prints_one_line_error(tmp_path, args):
    events = tmp_path / "events.jsonl"
    user = {"id": 1, "username": "ann", "full_name": "Ann", "is_private": False, "is_verified": False}
    events.write_text(json.dumps({"op": "user.upsert", "ts": 1, "user": user}) + "\n")
    assert unicorn(tmp_path, "ingest", str(events)).returncode == 0
    assert unicorn(tmp_path, "index", "--once").returncode == 0
    failed = unicorn(tmp_path, "query", *args)
    assert failed.returncode != 0
    assert "Traceback" not in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1 and failed.stderr.startswith("Error: ")


# the store's keys of any length, against a plain dict

_TEXT = st.text(alphabet="aé😀ж\ud800", max_size=700)  # a lone surrogate comes from a command line


@settings(max_examples=40)
@given(st.lists(st.tuples(_TEXT, st.integers(0, 9)), max_size=12), st.lists(_TEXT, max_size=4))
def test_postings_and_hashtag_ids_of_any_length(tmp_path_factory, stored, probes):
    model: dict[str, set[int]] = {}
    for value, iid in stored:
        model.setdefault(value, set()).add(iid)
    index = Index(tmp_path_factory.mktemp("keys"))
    try:
        with index.writer() as batch:
            for value, iid in stored:
                batch.add("media", f"word:{value}", iid)
                batch.intern("hashtag", value)
        with index.reader() as view:
            for value in [*model, *probes]:
                assert set(view.posting("media", f"word:{value}")) == model.get(value, set())
                found = view.iid("hashtag", value)
                assert (found is not None) == (value in model)
                if found is not None:
                    assert view.ext("hashtag", found) == value
            for prefix in ["", *(v[:n] for v in [*model, *probes] for n in (1, 200, 300))]:
                expected = {f"word:{v}" for v in model if v.startswith(prefix)}
                assert set(view.terms("media", f"word:{prefix}")) == expected
    finally:
        index.close()
