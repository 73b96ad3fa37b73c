"""Blended typeahead (docs/http-api.md, issue 17): each searched vertical with good matches (found
without a typo) among its own first `limit` results gets a guaranteed share of the slots, the rest go
to the best of all, on one scale.

A hand-made platform where fourteen popular people named Susan outscore every hashtag and place
for "su", and `blend` itself against its rule over random rankings."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firehose.events import validate
from tests.indexed import indexed
from unicorn.typeahead import VERTICALS, Typeahead, blend, share

VIEWER, FRIEND = 1, 19  # FRIEND follows the private account
SUSANS = range(2, 16)
FANS = range(30, 40)


def user(uid, username, full_name="", private=False):
    return {"op": "user.upsert", "ts": 0, "user": {"id": uid, "username": username, "full_name": full_name,
                                                    "is_private": private, "is_verified": False}}


def follow(a, b):
    return {"op": "follow.add", "ts": 0, "follower": a, "followee": b}


def place(pid, name):
    return {"op": "place.upsert", "ts": 0, "place": {"id": pid, "name": name, "city": "Suva", "country": "FJ",
                                                     "lat": 0.0, "lng": 0.0}}


def media(mid, owner, caption, at=None):
    return {"op": "media.upsert", "ts": 0, "media": {"id": mid, "owner": owner, "caption": caption, "taken_at": mid,
                                                     "place": at}}


HISTORY = [validate(e) for e in [
    user(VIEWER, "vera", "Vera Viewer"),
    *(user(uid, f"susan{uid}", "Susan Lee") for uid in SUSANS),
    user(16, "suzy.private", "Suzy Private", private=True),
    user(17, "superfan", "Super Fan"),
    user(18, "sue.blocker", "Sue Blocker"),
    user(FRIEND, "ana", "Ana Lima"),
    *(user(uid, f"fan{uid}", "Fan") for uid in FANS),
    *(follow(fan, uid) for fan in FANS for uid in [*SUSANS, 17, 18]),
    follow(VIEWER, 2), follow(VIEWER, 3), follow(FRIEND, 16),
    {"op": "block.add", "ts": 0, "blocker": 18, "blocked": VIEWER},
    place(300, "Sun City"), place(301, "Sunny Bay"), place(302, "Summit Hut"), place(303, "Surfers Point"),
    media(400, 30, "#sunset", 300), media(401, 31, "#sunset #summer", 300), media(402, 32, "#sunset #summer", 301),
    media(403, 33, "#surf"), media(404, 34, "#sushi"),
    media(405, 16, "#supersecret"),
]]


@pytest.fixture(scope="module")
def typeahead():
    with indexed(HISTORY) as (index, _):
        yield Typeahead(index)


def ask(typeahead, q, viewer=VIEWER, limit=10, verticals=VERTICALS, typos="auto") -> list[dict]:
    return typeahead.search(q, viewer, limit, verticals, timeout_ms=60_000, typos=typos)["results"]


def titles(results) -> list[str]:
    return [r["title"] for r in results]


def count(results, vertical) -> int:
    return sum(r["vertical"] == vertical for r in results)


def test_su_shows_the_best_hashtag_and_place_among_the_people(typeahead):
    """Issue 17: ten Susans used to fill the list though #sunset and Sun City match as well."""
    got = ask(typeahead, "su")
    assert [r["vertical"] for r in got].count("user") == 8
    assert "#sunset" in titles(got) and "Sun City" in titles(got)
    assert titles(ask(typeahead, "su", verticals=("hashtag",), limit=1)) == ["#sunset"]
    assert titles(ask(typeahead, "su", verticals=("place",), limit=1)) == ["Sun City"]
    scores = [r["score"] for r in got]
    assert scores == sorted(scores, reverse=True)
    assert titles(got)[:2] == ["susan2", "susan3"]  # the viewer's followees lead


@pytest.mark.parametrize("limit", range(1, 21))
@pytest.mark.parametrize("verticals", [VERTICALS, ("user", "hashtag"), ("user", "place"), ("hashtag", "place")])
def test_each_vertical_gets_its_share_and_keeps_its_own_order(typeahead, limit, verticals):
    got = ask(typeahead, "su", limit=limit, verticals=verticals)
    each = share(limit, len(verticals))
    alone = {v: ask(typeahead, "su", limit=limit, verticals=(v,)) for v in verticals}
    assert len(got) == min(limit, sum(map(len, alone.values())))
    if limit >= len(verticals):
        for vertical in verticals:  # every match of "su" is a good one
            assert count(got, vertical) >= min(each, len(alone[vertical])), (vertical, titles(got))
    else:  # one slot for each of the `limit` verticals whose best result scores best
        best = sorted(verticals, key=lambda v: -alone[v][0]["score"])[:limit]
        assert sorted({r["vertical"] for r in got}) == sorted(best)
    for vertical in verticals:
        mine = [r for r in got if r["vertical"] == vertical]
        assert mine == alone[vertical][:len(mine)]


def test_shares_at_limit_20_and_for_two_verticals(typeahead):
    assert share(20, 3) == 3 and share(10, 2) == 2 and share(10, 3) == 1 and share(2, 3) == 1
    got = ask(typeahead, "su", limit=20)
    assert titles(got)[-6:] == ["#sunset", "#summer", "Sun City", "#surf", "Sunny Bay", "Summit Hut"]
    assert count(got, "hashtag") == 3 and count(got, "place") == 3
    got = ask(typeahead, "su", verticals=("user", "hashtag"))
    assert count(got, "user") == 8 and titles(got)[-2:] == ["#sunset", "#summer"]
    assert titles(ask(typeahead, "su", limit=2)) == ["susan2", "#sunset"]
    assert titles(ask(typeahead, "su", limit=1)) == ["susan2"]


def test_a_vertical_without_good_matches_yields_its_share(typeahead):
    """"susan" finds no hashtag or place: the whole list is people; "sun" finds no person: hashtags and places."""
    got = ask(typeahead, "susan")
    assert count(got, "user") == 10
    got = ask(typeahead, "sun", limit=4)
    assert titles(got) == ["#sunset", "Sun City", "Sunny Bay"]


def test_typo_matches_are_not_good_matches(typeahead):
    """"susa" finds #sushi only through an edit: it gets no share and stays below the people; typed exactly,
    "sush" gives #sushi its share."""
    assert [(r["title"], r.get("typo")) for r in ask(typeahead, "susa", verticals=("hashtag",))] == [("#sushi", True)]
    assert count(ask(typeahead, "susa"), "user") == 10
    assert count(ask(typeahead, "susa", typos="0"), "user") == 10
    assert [(r["title"], r.get("typo")) for r in ask(typeahead, "sush", verticals=("hashtag",))] == [("#sushi", None)]


def test_privacy_decides_what_may_blend(typeahead):
    """A hashtag only a private account's media carry takes a share only for a viewer who sees that media;
    an account that blocks the viewer never appears, whatever the shares."""
    assert "#supersecret" not in titles(ask(typeahead, "supe"))
    assert titles(ask(typeahead, "supe", verticals=("hashtag",))) == []
    assert titles(ask(typeahead, "supe", viewer=FRIEND, limit=2)) == ["superfan", "#supersecret"]
    for limit in (1, 10, 20, 50):
        assert "sue.blocker" not in titles(ask(typeahead, "su", limit=limit))
    assert "sue.blocker" in titles(ask(typeahead, "su", viewer=FRIEND, limit=50))


def test_prefixed_requests_search_one_vertical_unblended(typeahead):
    assert titles(ask(typeahead, "#su")) == ["#sunset", "#summer", "#surf", "#sushi"]
    assert titles(ask(typeahead, "#su")) == titles(ask(typeahead, "su", verticals=("hashtag",)))
    got = ask(typeahead, "@su")
    assert len(got) == 10 and count(got, "user") == 10 and titles(got)[:2] == ["susan2", "susan3"]


# `blend` alone: entries (key, vertical, good); a vertical's ranking is in key order.
rankings = st.lists(st.lists(st.tuples(st.integers(0, 30), st.booleans()), max_size=12), min_size=1, max_size=3)


@settings(max_examples=300, deadline=None)
@given(drawn=rankings, limit=st.integers(1, 25))
def test_blend_keeps_its_rule(drawn, limit):
    lists = [sorted(((-score, v, n), v, good) for n, (score, good) in enumerate(entries))
             for v, entries in enumerate(drawn)]
    good = [sum(e[2] for e in entries[:limit]) for entries in lists]  # good among a vertical's first `limit`
    got = blend([entries[:limit] for entries in lists], limit, good=lambda e: e[2])
    keys = [e[0] for e in got]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert len(got) == min(limit, sum(min(limit, len(entries)) for entries in lists))
    taken = [[e for e in got if e[1] == v] for v in range(len(lists))]
    for v, entries in enumerate(lists):
        assert taken[v] == entries[:len(taken[v])]  # a vertical's first entries
    if len(lists) == 1:
        return
    each = share(limit, len(lists))
    guaranteed = [min(each, g) for g in good]
    if limit >= each * len(lists):
        assert all(len(t) >= g for t, g in zip(taken, guaranteed))
    else:
        with_good = sorted((lists[v][0][0], v) for v in range(len(lists)) if good[v])
        assert all(taken[v] for _, v in with_good[:limit])
    # an entry chosen over a better one left out was needed for its vertical's share
    left_out = [e for entries, t in zip(lists, taken) for e in entries[len(t):limit]]
    for e in got:
        if left_out and min(left_out)[0] < e[0]:
            assert len(taken[e[1]]) <= guaranteed[e[1]], (e, min(left_out))
