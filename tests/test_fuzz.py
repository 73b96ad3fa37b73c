"""Bounded, seeded fuzzing of every parser of outside input: only the SPEC's typed errors come out.

Targets: the s-expression query parser and type checker, the JSON query form, the event decoder
(JSON Lines records as `unicorn ingest` reads them, msgpack records as the embedded log and Kafka
deliver them), and the HTTP parameters of typeahead, documents and search through the real ASGI
app over an index of a small generated platform. Inputs are grammar-aware (tests/fuzz_strategies.py)
plus raw text and byte mutation.

CI draws the same inputs every run (derandomized, no example database) within a small budget.
A longer run by hand, `N` inputs per target, or a fresh random draw with `UNICORN_FUZZ_SEED`:

    UNICORN_FUZZ_EXAMPLES=200000 python -m pytest tests/test_fuzz.py -s -p no:cacheprovider
    UNICORN_FUZZ_EXAMPLES=20000 UNICORN_FUZZ_SEED=$RANDOM python -m pytest tests/test_fuzz.py -s

Each target prints how many inputs it tried (`-s`); `--hypothesis-show-statistics` shows how
they were answered. The explicit `@example`s marked "issue 10" are inputs that reached a 500 or a
traceback when this file was written (ids of thousands of digits, the empty hashtag key).
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote, quote_from_bytes

import msgpack
import orjson
import pytest
from hypothesis import event, example, given, note, seed, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from api import create_app
from firehose.events import REGISTRY, EventError, from_msgpack, parse_json_line, validate
from firehose.sources.generator import Scale, generate
from tests import fuzz_strategies as fz
from tests.indexed import indexed
from unicorn.errors import QueryError
from unicorn.query import parse, typecheck
from vocabulary.schema import VERTICALS

EXAMPLES = int(os.environ.get("UNICORN_FUZZ_EXAMPLES", "0"))
SEED = os.environ.get("UNICORN_FUZZ_SEED")


def fuzz(ci_examples: int):
    """Settings for one target: `ci_examples` inputs, the same ones every run, unless the environment says otherwise."""
    def decorate(test):
        test = settings(max_examples=EXAMPLES or ci_examples, derandomize=SEED is None, database=None)(test)
        return test if SEED is None else seed(int(SEED))(test)
    return decorate


tried: dict[str, int] = {}


def count(target: str, *inputs) -> None:
    """Count one input of `target`, and show it (shortened) should it fail."""
    tried[target] = tried.get(target, 0) + 1
    for value in inputs:
        shown = repr(value)
        note(shown if len(shown) <= 400 else f"{shown[:400]}... ({len(shown)} characters)")


@pytest.fixture(autouse=True)
def report_count(request):
    yield
    name = request.node.name.removeprefix("test_")
    if name in tried:
        print(f"\nfuzz {name}: {tried[name]} inputs")


# --- queries ----------------------------------------------------------------------------------


def _parsed_or_refused(query, vertical: str, check_position) -> None:
    """Parse and type-check `query` as `vertical`: a tree, or bad_query naming its position, or too_large."""
    try:
        typecheck.check(parse.parse(query), vertical)
        event("type-checked")
    except QueryError as exc:
        assert exc.code in ("bad_query", "too_large"), (exc.code, exc.message)
        assert exc.message
        if exc.code == "bad_query":
            check_position(exc)
        event(exc.code)


@fuzz(ci_examples=150)
@given(fz.query_text, st.sampled_from(VERTICALS))
@example("(term following:" + "9" * 5000 + ")", "user")  # issue 10 item 5: a term id of thousands of digits
def test_query_text(text, vertical):
    count("query_text", text, vertical)

    def at_position(exc: QueryError) -> None:
        assert isinstance(exc.position, int) and 0 <= exc.position <= len(text), exc.position
        assert f"position {exc.position}" in exc.message, exc.message

    _parsed_or_refused(text, vertical, at_position)


@fuzz(ci_examples=100)
@given(fz.query_json, st.sampled_from(VERTICALS))
@example({"term": "owner:" + "9" * 5000}, "media")  # issue 10 item 5: a term id of thousands of digits
def test_query_json(obj, vertical):
    count("query_json", obj, vertical)
    decoded = orjson.loads(orjson.dumps(obj))  # exactly what a request body gives the parser

    def at_position(exc: QueryError) -> None:
        if isinstance(decoded, str):
            assert isinstance(exc.position, int) and f"position {exc.position}" in exc.message, exc.message
        else:
            assert isinstance(exc.position, str) and exc.position.startswith("$"), exc.position
            assert exc.position in exc.message, exc.message

    _parsed_or_refused(decoded, vertical, at_position)


@pytest.mark.parametrize("query", [5, None, [], ["and"], 1.5, True])
def test_a_query_neither_text_nor_object_is_bad_query_at_the_root(query):
    with pytest.raises(QueryError) as raised:
        parse.parse(query)
    assert raised.value.code == "bad_query" and raised.value.position == "$" and "at $" in raised.value.message


# --- events -----------------------------------------------------------------------------------


def _decoded_or_refused(decode, record) -> None:
    """A canonical SPEC §2 event, or the decoder's EventError with a reason; never another exception."""
    try:
        decoded = decode(record)
    except EventError as exc:
        assert str(exc)
        event("malformed: " + str(exc).split(":")[0][:30])
        return
    assert decoded["op"] in REGISTRY and validate(decoded) == decoded
    event(f"valid {decoded['op']}")


@fuzz(ci_examples=150)
@given(fz.json_record)
@example(b'{"op": [], "ts": 1}')
@example('{"op": {"user.upsert": 1}, "ts": 1}')
def test_event_json_line(record):
    count("event_json_line", record)
    _decoded_or_refused(parse_json_line, record)


@fuzz(ci_examples=150)
@given(fz.msgpack_payload)
@example(b"\x82\xa2op\x90\xa2ts\x01")  # {"op": [], "ts": 1}
def test_event_msgpack(record):
    count("event_msgpack", record)
    _decoded_or_refused(from_msgpack, record)


@pytest.mark.parametrize("op", [[], {}, ["user.delete"], {"user.delete": 1}])
def test_an_event_whose_op_is_not_a_string_is_malformed(op):
    for decode, record in [(parse_json_line, orjson.dumps({"op": op, "ts": 1, "id": 1})),
                           (from_msgpack, msgpack.packb({"op": op, "ts": 1, "id": 1})),
                           (validate, {"op": op, "ts": 1, "id": 1})]:
        with pytest.raises(EventError, match="op: unknown operation"):
            decode(record)


# --- HTTP -------------------------------------------------------------------------------------

PLATFORM = list(generate(Scale(users=40, follows=200, media=80, likes=150, places=8, blocks=10, hashtags=30,
                               changes=60), seed=10))
USERS = sorted({e["user"]["id"] for e in PLATFORM if e["op"] == "user.upsert"})
USERNAMES = sorted({e["user"]["username"] for e in PLATFORM if e["op"] == "user.upsert"})
MEDIA = sorted({e["media"]["id"] for e in PLATFORM if e["op"] == "media.upsert"})
PLACES = sorted({e["place"]["id"] for e in PLATFORM if e["op"] == "place.upsert"})
HASHTAGS = sorted({t for e in PLATFORM if e["op"] == "media.upsert" for t in e["media"].get("hashtags", [])})
ADMIN, SEARCH = "fuzz-admin-key", "fuzz-search-key"
# status -> the SPEC §6 codes it may carry (no 500, and no 503 over an open index)
CODES = {400: {"bad_query", "bad_request"}, 401: {"unauthorized"}, 403: {"forbidden"}, 404: {"not_found"},
         413: {"too_large"}, 504: {"timeout"}}


@pytest.fixture(scope="module")
def client():
    with indexed(PLATFORM) as (index, _):
        with TestClient(create_app(index=index, keys={ADMIN: "admin", SEARCH: "search"})) as client:
            yield client


def _answered(response, shape: set[str]) -> None:
    """A 200 of the endpoint's shape, or a SPEC §6 error: {"error": {"code", "message"}} with its status's code."""
    status = response.status_code
    assert status == 200 or status in CODES, (status, response.text[:500])
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    if status == 200:
        assert set(body) == shape, body
    else:
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
        assert body["error"]["code"] in CODES[status], (status, body)
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    event(f"{status} {body['error']['code'] if status != 200 else ''}")


url_text = st.text(fz.no_surrogate_char, max_size=12)  # a str httpx can encode; raw bytes come percent-encoded
platform_id = st.sampled_from(USERS + MEDIA + PLACES).map(str)
id_param = fz.mostly(platform_id, fz.id_text | url_text)
auth = fz.mostly(st.sampled_from([{"Authorization": f"Bearer {ADMIN}"}, {"Authorization": f"Bearer {SEARCH}"}]),
              st.sampled_from([{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic " + ADMIN},
                               {"Authorization": ADMIN}]))
q_param = st.one_of(
    st.sampled_from(USERNAMES + [f"#{t}" for t in HASHTAGS] + [f"@{u}" for u in USERNAMES]),
    st.sampled_from(USERNAMES).map(lambda u: u[:3]),
    st.sampled_from(["", " ", "#", "@", "# ", "##x", "jo ", "\x00", "a" * 200, "a" * 201, "é" * 201]),
    url_text,
)
verticals_param = fz.mostly(
    st.lists(st.sampled_from(["user", "hashtag", "place"]), min_size=1, max_size=3).map(",".join),
    st.lists(st.sampled_from(list(VERTICALS) + ["", " user", "users", ","]), max_size=4).map(",".join))
limit_param = fz.mostly(st.integers(1, 50).map(str), st.integers(0, 60).map(str) | fz.number_text | url_text)


typos_param = st.sampled_from(["auto", "0", "1", "", "x"])
one_in_five = st.integers(0, 4)
raw_param_name = st.sampled_from(["q", "viewer", "limit", "verticals"])
raw_param_bytes = st.binary(max_size=16) | st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\x00", b"%", b"&&", b"="])


@st.composite
def typeahead_query(draw) -> str:
    """A typeahead query string: drawn parameters (all but q may be missing), sometimes raw bytes percent-encoded."""
    params = {"q": draw(q_param), "viewer": draw(id_param), "limit": draw(limit_param),
              "verticals": draw(verticals_param), "typos": draw(typos_param)}
    params = {k: v for k, v in params.items() if k == "q" or draw(st.booleans())}
    parts = [f"{quote(k)}={quote(v, safe='')}" for k, v in params.items()]
    if draw(one_in_five) == 0:
        parts.append(f"{draw(raw_param_name)}={quote_from_bytes(draw(raw_param_bytes), safe='&=%')}")
    return "&".join(parts)


@fuzz(ci_examples=100)
@given(typeahead_query(), auth)
@example("q=jo&viewer=" + "9" * 5000, {"Authorization": f"Bearer {ADMIN}"})  # issue 10 item 5
@example("q=jo&limit=" + "9" * 5000, {"Authorization": f"Bearer {ADMIN}"})  # issue 10 item 5
def test_http_typeahead(client, query, headers):
    count("http_typeahead", "GET /v1/typeahead?" + query, headers)
    _answered(client.get("/v1/typeahead?" + query, headers=headers), {"q", "results", "took_ms"})


document_vertical = fz.mostly(st.sampled_from(VERTICALS), st.sampled_from(["users", "", "Hashtag", "%", "a b"]))
document_id = fz.mostly(
    platform_id | st.sampled_from(HASHTAGS + ["#" + t for t in HASHTAGS] + [t.upper() for t in HASHTAGS]),
    st.one_of(fz.id_text, url_text, st.sampled_from(["#", "##", " ", "%", ".", "..", "%23"]),
              st.integers(300, 700).map(lambda n: "h" * n)),  # past LMDB's 511-byte key
)


@fuzz(ci_examples=100)
@given(document_vertical, document_id, st.none() | id_param, auth)
@example("hashtag", "#", None, {"Authorization": f"Bearer {ADMIN}"})  # issue 10 item 1: an empty hashtag key
@example("hashtag", "h" * 600, None, {"Authorization": f"Bearer {ADMIN}"})  # issue 10 items 1-2: a key over 511 bytes
@example("user", "9" * 5000, None, {"Authorization": f"Bearer {ADMIN}"})  # issue 10 item 5
def test_http_documents(client, vertical, ident, viewer, headers):
    url = f"/v1/documents/{quote(vertical, safe='')}/{quote(ident, safe='')}"
    if viewer is not None:
        url += f"?viewer={quote(viewer, safe='')}"
    count("http_documents", "GET " + url, headers)
    _answered(client.get(url, headers=headers), {"vertical", "id", "doc"})


# (vertical, query) pairs that type-check over the platform
VALID_SEARCHES = [
    ("user", f"(term name:{USERNAMES[0][:2]})"), ("user", f"(apply follower: (term username:{USERNAMES[1]}))"),
    ("user", f"(weak-and (term name:{USERNAMES[2][:1]}) (term is:verified :optional-hits 2))"),
    ("user", f"(difference (term following:{USERS[0]}) (term follower:{USERS[1]}))"),
    ("user", f"(extract owner: (term hashtag:{HASHTAGS[0]}))"),
    ("media", f"(or (term owner:{USERS[2]}) (term hashtag:#{HASHTAGS[1]} :optional-weight 0.5))"),
    ("media", f"(strong-or (apply liker: (term name:{USERNAMES[3][:2]}) :optional-weight 0.3) "
              f"(term place:{PLACES[0]}))"),
    ("media", {"and": [{"term": f"owner:{USERS[3]}"}, {"apply": "mention:", "query": {"term": "name:a"}}]}),
    ("hashtag", f"(term name:{HASHTAGS[2][:2]})"), ("hashtag", f"(extract hashtag: (term owner:{USERS[4]}))"),
    ("place", f"(and (term name:{PLACES[0]}) (term city:x))"), ("place", f"(extract place: (term liker:{USERS[5]}))"),
]
# field -> (good values, bad values)
SEARCH_FIELD_VALUES = {
    "vertical": (st.sampled_from(VERTICALS), st.sampled_from(["", "users", "USER"]) | fz.json_scalar),
    "query": (st.one_of(fz.sexpr().map(fz.no_surrogates), fz.json_query()),
              st.one_of(fz.mutated_text(fz.sexpr()).map(fz.no_surrogates), fz.json_scalar)),
    "viewer": (st.sampled_from(USERS) | platform_id, st.one_of(fz.id_text, fz.huge_digits().map(int), fz.json_scalar)),
    "limit": (st.integers(1, 1000), st.integers(-2, 1002) | st.sampled_from([1001, 2**64, 10**30]) | fz.json_scalar),
    "order": (st.sampled_from(["static", "social"]), st.sampled_from(["", "STATIC", "random"]) | fz.json_scalar),
    "explain": (st.booleans(), fz.json_scalar),
    "apply_fanout_max": (st.integers(1, 10**6), st.sampled_from([0, -1, 2**64, 10**30]) | fz.json_scalar),
}


# field -> (good values, mostly good values)
SEARCH_FIELDS = {name: (good, fz.mostly(good, bad)) for name, (good, bad) in SEARCH_FIELD_VALUES.items()}
valid_search = st.sampled_from(VALID_SEARCHES)
unknown_field = st.sampled_from(["typos", "q", "Vertical", ""])
body_rendering = st.sampled_from(["plain"] * 6 + ["mutate", "pad", "other"])
odd_body = st.sampled_from([b"", b"[]", b"null", b"{", b"\xff", b'{"vertical":"user","query":"' + b"(" * 3000 + b'"}',
                            b'{"vertical":"user","query":' + b'{"and":[' * 600 + b"]}" * 600 + b"}"])


@st.composite
def search_body(draw) -> bytes:
    """A search body: drawn fields (required ones may be missing, unknown ones added), written by stdlib json
    (ints past 64 bits and NaN as written), sometimes byte-mutated or padded past the 64 KiB limit."""
    all_good = draw(st.booleans())
    body = {}
    for name, (good, mixed) in SEARCH_FIELDS.items():
        present = all_good or draw(one_in_five) != 0 if name in ("vertical", "query") else draw(st.booleans())
        if present:
            body[name] = draw(good if all_good else mixed)
    if draw(st.booleans()):
        body["vertical"], body["query"] = draw(valid_search)
    if not all_good and draw(one_in_five) == 0:
        body[draw(unknown_field)] = draw(fz.json_scalar)
    text = json.dumps(body, ensure_ascii=draw(st.booleans()))
    how = "plain" if all_good else draw(body_rendering)
    if how == "mutate":
        return draw(fz.mutated_bytes(st.just(text)))
    if how == "pad":
        return text.encode()[:-1] + b', "pad": "' + b"x" * (64 * 1024) + b'"}'
    if how == "other":
        return draw(odd_body)
    return text.encode("utf-8", "surrogatepass")


@fuzz(ci_examples=120)
@given(search_body(), auth)
@example(b'{"vertical": "user", "query": "(term name:jo)", "viewer": "' + b"9" * 5000 + b'"}',
         {"Authorization": f"Bearer {ADMIN}"})  # issue 10 item 5
@example(b'{"vertical": "user", "query": "(term following:' + b"9" * 5000 + b')"}',
         {"Authorization": f"Bearer {ADMIN}"})  # issue 10 item 5
def test_http_search(client, body, headers):
    count("http_search", body, headers)
    response = client.post("/v1/search", content=body, headers={**headers, "Content-Type": "application/json"})
    _answered(response, {"vertical", "total", "truncated", "results", "took_ms"})
