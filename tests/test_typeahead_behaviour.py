"""Typeahead on one hand-made platform: the social tiers, `@`/`#`, normalization, privacy of the
social context, errors, and the engine's `order: "social"`."""

from __future__ import annotations

import numpy as np
import pytest

from firehose.events import validate
from slipstream import Slipstream
from tests.indexed import indexed
from unicorn.engine import Engine
from unicorn.errors import QueryError
from unicorn.social import Social
from unicorn.typeahead import Typeahead
from unicorn.viewers import Viewers

VIEWER = 1


def user(uid, username, full_name="", private=False, verified=False):
    return {"op": "user.upsert", "ts": 0, "user": {"id": uid, "username": username, "full_name": full_name,
                                                    "is_private": private, "is_verified": verified}}


def follow(a, b):
    return {"op": "follow.add", "ts": 0, "follower": a, "followee": b}


HISTORY = [
    user(1, "vera", "Vera Viewer"),
    user(2, "jo.followed", "Jo Followed"),
    user(3, "jo.mutual", "Jo Mutual"),
    user(4, "bob", "Bob A"), user(5, "cat", "Cat B"), user(6, "dan", "Dan C"),
    user(7, "jo.star", "Jo Star", verified=True),
    *(user(i, f"fan{i}", "Fan") for i in range(8, 21)),
    user(21, "jo", "Plain"),
    user(22, "jo.blocked", "Jo Blocked"),
    user(23, "mallory", "Mallory"),
    user(24, "jo.private", "Jo Private", private=True),
    user(25, "zed", "Jo Zed"),
    user(26, "jonathanathan", ""),
    follow(1, 2), follow(1, 4), follow(1, 5), follow(1, 6), follow(1, 23),
    *(follow(f, 3) for f in (2, 4, 5, 6, 23)),
    *(follow(f, 7) for f in range(8, 21)),
    {"op": "block.add", "ts": 0, "blocker": 1, "blocked": 22},
    {"op": "block.add", "ts": 0, "blocker": 23, "blocked": 1},
    {"op": "place.upsert", "ts": 0, "place": {"id": 300, "name": "Jolly Tower", "city": "Paris", "country": "FR",
                                              "lat": 1.0, "lng": 2.0}},
    {"op": "media.upsert", "ts": 0, "media": {"id": 400, "owner": 4, "caption": "#joy #Journey", "taken_at": 1,
                                              "place": 300}},
    {"op": "media.upsert", "ts": 0, "media": {"id": 401, "owner": 5, "caption": "#joy", "taken_at": 2}},
]


class Patient(Typeahead):
    """A generous default time budget: a loaded machine must not turn these answers into timeouts."""

    def search(self, *args, timeout_ms: float = 60_000, **kwargs) -> dict:
        return super().search(*args, timeout_ms=timeout_ms, **kwargs)


@pytest.fixture(scope="module")
def typeahead():
    with indexed([validate(e) for e in HISTORY]) as (index, _):
        yield Patient(index)


def ids(response: dict) -> list[tuple[str, str]]:
    return [(r["vertical"], r["id"]) for r in response["results"]]


def test_exact_username_then_followee_then_mutuals_then_popular(typeahead):
    got = typeahead.search("jo", viewer=VIEWER, limit=10)
    assert ids(got)[:4] == [("user", "21"), ("user", "2"), ("user", "3"), ("user", "7")]
    assert ("user", "24") in ids(got) and ("user", "25") in ids(got)  # a private user is found by name
    assert ("hashtag", "joy") in ids(got) and ("place", "300") in ids(got)
    assert got["results"][3]["verified"] is True and got["results"][0]["verified"] is False


def test_social_context_counts_and_names_only_visible_followees(typeahead):
    results = {r["id"]: r for r in typeahead.search("jo", viewer=VIEWER, limit=10)["results"]}
    mutual = results["3"]["social"]
    # 2, 4, 5 and 6 follow user 3 and are followed by the viewer; 23 too, but 23 blocks the viewer
    assert mutual["following"] is False and mutual["followed_by_count"] == 4
    assert [f["username"] for f in mutual["followed_by"]] == ["jo.followed", "bob", "cat"]
    assert results["2"]["social"] == {"following": True, "followed_by_count": 0, "followed_by": []}
    assert all("mallory" not in str(r) and "jo.blocked" not in str(r) for r in results.values())


def test_hidden_users_are_never_found_but_the_admin_sees_all(typeahead):
    assert ("user", "22") not in ids(typeahead.search("jo", viewer=VIEWER, limit=50))
    assert typeahead.search("mallory", viewer=VIEWER)["results"] == []
    admin = typeahead.search("jo", limit=50)
    assert ("user", "22") in ids(admin)
    assert all("social" not in r for r in admin["results"])


def test_at_searches_usernames_only_and_hash_searches_hashtags_only(typeahead):
    at = ids(typeahead.search("@jo", viewer=VIEWER, limit=20))
    assert at[0] == ("user", "21") and {v for v, _ in at} == {"user"}
    assert ("user", "25") not in at  # "Jo" is only in zed's full name
    assert ("user", "26") in at  # "jonathanathan" starts with jo
    assert ids(typeahead.search("#jo", viewer=VIEWER)) == [("hashtag", "joy"), ("hashtag", "journey")]
    assert ids(typeahead.search("#joy", viewer=VIEWER))[0] == ("hashtag", "joy")
    assert typeahead.search("@", viewer=VIEWER)["results"] == typeahead.search("#", viewer=VIEWER)["results"] == []


def test_normalization_multi_token_and_long_prefixes(typeahead):
    assert ids(typeahead.search("  JÖ ", viewer=VIEWER)) == ids(typeahead.search("jo", viewer=VIEWER))
    assert ids(typeahead.search("jo st", viewer=VIEWER)) == [("user", "7")]
    assert ids(typeahead.search("jolly tow", viewer=VIEWER)) == [("place", "300")]
    assert ids(typeahead.search("jonathanatha", viewer=VIEWER)) == [("user", "26")]
    assert typeahead.search("jonathanatx", viewer=VIEWER, typos="0")["results"] == []
    found = typeahead.search("jonathanatx", viewer=VIEWER)["results"]  # one substitution from "jonathanath"
    assert [(r["id"], r.get("typo")) for r in found] == [("26", True)]


def test_verticals_and_limit(typeahead):
    got = typeahead.search("jo", viewer=VIEWER, limit=3, verticals=("hashtag", "place"))
    # joy has 2 media; journey and the place 1 each, and on equal scores hashtags come before places
    assert ids(got) == [("hashtag", "joy"), ("hashtag", "journey"), ("place", "300")]
    assert len(typeahead.search("jo", viewer=VIEWER, limit=2)["results"]) == 2


@pytest.mark.parametrize("kwargs", [{"limit": 0}, {"limit": 51}, {"verticals": ("media",)}, {"verticals": ()},
                                    {"q": "x" * 201}])
def test_bad_parameters_are_refused(typeahead, kwargs):
    args = {"q": "jo", "viewer": VIEWER, **kwargs}
    with pytest.raises(QueryError) as info:
        typeahead.search(**args)
    assert info.value.code == "bad_request"


def test_time_budget(typeahead):
    with pytest.raises(QueryError) as info:
        typeahead.search("jo", viewer=VIEWER, timeout_ms=0)
    assert info.value.code == "timeout"


def test_engine_social_order(typeahead):
    social = Social()
    engine = Engine(typeahead.index, rankers={"social": social.ranker})
    got = engine.search("user", "(term name:jo)", viewer=VIEWER, order="social", limit=4)
    assert [r["id"] for r in got.results] == ["2", "3", "7", "21"]
    assert got.total == 7  # jo, jo.followed, jo.mutual, jo.star, jo.private, zed, jonathanathan; not jo.blocked
    static = engine.search("user", "(term name:jo)", viewer=VIEWER, limit=1)
    assert static.results[0]["id"] == "7"


def test_circles_are_renewed_when_unchanged_and_rebuilt_when_the_graph_moves():
    with indexed([validate(e) for e in HISTORY]) as (index, _):
        viewers = Viewers()

        def circle_after(*events):
            with index.writer() as batch:
                for event in events:
                    Slipstream(batch).apply(validate(event))
            with index.reader() as view:
                return viewers.resolve(view, VIEWER).circle

        with index.reader() as view:
            first = viewers.resolve(view, VIEWER).circle
        quiet = circle_after({"op": "like.add", "ts": 0, "user": 8, "media": 400})
        assert quiet is not first and quiet.hop is first.hop and quiet.followees is first.followees
        moved = circle_after(follow(4, 7))  # a followee of the viewer follows jo.star
        with index.reader() as view:
            star = np.array([view.iid("user", 7)], np.uint32)
        assert moved.hop is not quiet.hop and int(moved.mutuals(star)[0]) == 1 and int(quiet.mutuals(star)[0]) == 0
