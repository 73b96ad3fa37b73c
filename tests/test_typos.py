"""SPEC §6 typos: the edit rule against a plain-Python oracle (tests/model/typos.py) over the real
index, the `typo` flag, `typos=0`, privacy of the typo path, the order, and the API parameter."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from api import create_app
from api.openapi import document
from firehose.events import validate
from tests.indexed import indexed
from tests.model.typos import edits_allowed, match, osa
from unicorn.typeahead import Typeahead
from vocabulary.text import hashtag_name, tokens

ALPHABET = "abcd"  # few letters: names near each other and near the typed text
VIEWER = 1
ADMIN = "admin-key-0123"


def user(uid, username, full_name="", private=False):
    return {"op": "user.upsert", "ts": 0, "user": {"id": uid, "username": username, "full_name": full_name,
                                                    "is_private": private, "is_verified": False}}


def follow(a, b):
    return {"op": "follow.add", "ts": 0, "follower": a, "followee": b}


def media(mid, owner, tags, place=None):
    return {"op": "media.upsert", "ts": 0, "media": {"id": mid, "owner": owner, "caption": "", "taken_at": mid,
                                                     "hashtags": tags, "place": place}}


def place(pid, name):
    return {"op": "place.upsert", "ts": 0, "place": {"id": pid, "name": name, "city": "", "country": "",
                                                     "lat": 0.0, "lng": 0.0}}


def search(typeahead, q, viewer=VIEWER, typos="auto", verticals=("user", "hashtag", "place")):
    return typeahead.search(q, viewer, 50, verticals, timeout_ms=60_000, typos=typos)["results"]


def found(results) -> dict[tuple[str, str], bool]:
    return {(r["vertical"], r["id"]): r.get("typo", False) for r in results}


def test_oracle_distance():
    assert osa("jonh", "john") == 1 and osa("ca", "abc") == 3 and osa("abcd", "acbd") == 1
    assert osa("", "abc") == 3 and osa("kitten", "sitting") == 3


words = st.text(ALPHABET, min_size=1, max_size=11)


@st.composite
def near_word(draw, names):
    """A typed token: some edits of a prefix of one of `names`, or any word."""
    base = draw(st.sampled_from(names) | words)
    typed = base[:draw(st.integers(1, len(base)))]
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(typed)))
        kind = draw(st.sampled_from("isdt"))
        char = draw(st.sampled_from(ALPHABET))
        if kind == "i":
            typed = typed[:at] + char + typed[at:]
        elif kind == "s" and at < len(typed):
            typed = typed[:at] + char + typed[at + 1:]
        elif kind == "d" and at < len(typed) and len(typed) > 1:
            typed = typed[:at] + typed[at + 1:]
        elif kind == "t" and at + 1 < len(typed):
            typed = typed[:at] + typed[at + 1] + typed[at] + typed[at + 2:]
    return typed


@st.composite
def platforms(draw):
    names = draw(st.lists(words, min_size=1, max_size=8))
    history = [user(100 + n, f"u{n}", name) for n, name in enumerate(names)]
    history += [place(300 + n, name) for n, name in enumerate(names[:4])]
    history += [media(400 + n, 100, [name]) for n, name in enumerate(names[:4])]
    typed = [draw(near_word(names)) for _ in range(draw(st.integers(1, 2)))]
    return names, history, " ".join(typed)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(platforms())
def test_edit_rule_matches_the_oracle(case):
    """A name is found when every typed token starts a name token within the allowed edits (0 under 4
    characters, 1 from 4 to 7, 2 from 8), never beyond; `typo` exactly when no token matches exactly;
    with typos=0 only exact matches, the same as the exact path."""
    names, history, typed = case
    wanted = tokens(typed)
    with indexed([validate(e) for e in history]) as (index, _):
        typeahead = Typeahead(index)
        for typos in (True, False):
            expected = {}
            for n, name in enumerate(names):
                how = match(wanted, tokens(f"u{n}") + tokens(name), typos)
                if how:
                    expected["user", str(100 + n)] = how == "typo"
                how = match(wanted, tokens(name), typos)
                if how and n < 4:
                    expected["place", str(300 + n)] = how == "typo"
            tag = hashtag_name(typed)
            for name in dict.fromkeys(names[:4]) if " " not in tag else ():  # a hashtag is one word
                how = match([tag], [name], typos)
                if how:
                    expected["hashtag", name] = how == "typo"
            got = found(search(typeahead, typed, typos="auto" if typos else "0"))
            assert got == expected, f"{typed!r} over {names} typos={typos}"


def test_allowed_edits_by_length():
    assert [edits_allowed("x" * n) for n in (1, 3, 4, 7, 8, 12)] == [0, 0, 1, 1, 2, 2]


PRIVATE_TAG = "jonathan_secret"
HISTORY = [
    user(1, "vera", "Vera"),
    user(2, "jonathan.blocked", "Jonathan Blocked"),
    user(3, "jonathan.blocker", "Jonathan Blocker"),
    user(4, "priv", "Private Owner", private=True),
    user(5, "johnny", "Johnny Equal"),  # a typo of "jonh" (swap), the lower id
    user(6, "jonhny", "Jonhny Equal"),  # "jonh" exactly, the same followers (none)
    user(7, "jonhson", "Jonhson Stranger", private=False),
    user(8, "johnson", "Johnson Followed"),
    follow(1, 8),
    {"op": "block.add", "ts": 0, "blocker": 1, "blocked": 2},
    {"op": "block.add", "ts": 0, "blocker": 3, "blocked": 1},
    media(500, 4, [PRIVATE_TAG]),
    media(501, 8, ["jonathan_public"]),
]


@pytest.fixture(scope="module")
def typeahead():
    with indexed([validate(e) for e in HISTORY]) as (index, _):
        yield Typeahead(index)


@pytest.mark.parametrize("typed", ["jonahtan", "jnoathan", "jonathn", "onathan", "jonathab blo"])
def test_a_hidden_user_never_appears_through_a_typo(typeahead, typed):
    got = found(search(typeahead, typed))
    assert ("user", "2") not in got and ("user", "3") not in got
    assert {("user", "2"), ("user", "3")} <= set(found(search(typeahead, typed, viewer=None)))  # admin sees them


@pytest.mark.parametrize("typed", ["#jonathan_secert", "#jonatahn_", "#jonahtan", "jonatha_secret"])
def test_a_typo_finds_no_hashtag_the_exact_path_hides(typeahead, typed):
    """A hashtag reached through a typo is one the viewer finds by its exact name."""
    for viewer in (VIEWER, 4, None):
        for (vertical, ident), typo in found(search(typeahead, typed, viewer=viewer)).items():
            if vertical == "hashtag":
                assert typo
                exact = found(search(typeahead, f"#{ident}", viewer=viewer, verticals=("hashtag",)))
                assert exact == {("hashtag", ident): False}


def test_exact_before_an_otherwise_equal_typo_and_social_still_leads(typeahead):
    got = search(typeahead, "jonh", verticals=("user",))
    order = [(r["id"], r.get("typo", False)) for r in got]
    assert order[0] == ("8", True)  # the followee, through a swap, before every stranger
    strangers = [entry for entry in order[1:]]
    assert strangers.index(("6", False)) < strangers.index(("5", True))  # equal but for the typo
    assert strangers.index(("7", False)) < strangers.index(("5", True))
    assert got[0]["score"] > got[1]["score"]
    assert [r["id"] for r in search(typeahead, "jonh", verticals=("user",), typos="0")] == ["6", "7"]


@pytest.fixture(scope="module")
def client():
    with indexed([validate(e) for e in HISTORY]) as (index, _):
        with TestClient(create_app(index=index, keys={ADMIN: "admin"}, timeout_ms=60_000)) as client:
            yield client


def test_api_typos_parameter(client):
    auth = {"Authorization": f"Bearer {ADMIN}"}
    get = lambda **params: client.get("/v1/typeahead", params={"viewer": "1", "verticals": "user", **params},
                                      headers=auth)
    default, auto, off = get(q="johnsno"), get(q="johnsno", typos="auto"), get(q="johnsno", typos="0")
    assert default.status_code == auto.status_code == off.status_code == 200
    assert [(r["id"], r.get("typo")) for r in default.json()["results"]] == [("8", True)]
    assert default.json()["results"] == auto.json()["results"]
    assert off.json()["results"] == []
    for bad in ("1", "off", "", "AUTO", "2"):
        response = get(q="johnsno", typos=bad)
        assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request", bad


def test_openapi_documents_typos():
    params = {p["name"]: p for p in document()["paths"]["/v1/typeahead"]["get"]["parameters"]}
    assert params["typos"]["schema"] == {"type": "string", "enum": ["auto", "0"], "default": "auto"}
