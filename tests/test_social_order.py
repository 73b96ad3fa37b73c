"""The social order by mutual weight (docs/http-api.md "Typeahead", issue 16): users followed by the viewer's
followees come in the order of the sum of those followees' shares ceil(2^20 / following_count), then by
followers; in one index, through shards, in typeahead and in the engine's `order: "social"`. `social` still
counts the followees who follow a result."""

from __future__ import annotations

import pytest

from firehose.events import validate
from tests.indexed import indexed
from tests.sharded import aggregator, sharded
from unicorn.engine import Engine

VIEWER = 1


def _user(uid: int, username: str, full_name: str = "") -> dict:
    return {"op": "user.upsert", "ts": 0, "user": {"id": uid, "username": username, "full_name": full_name,
                                                   "is_private": False, "is_verified": False}}


def _follow(a: int, z: int) -> dict:
    return {"op": "follow.add", "ts": 1, "follower": a, "followee": z}


def _history(followers: dict[int, int], follows: list[tuple[int, int]]) -> list[dict]:
    """Users 1-9 (the viewer and followees), users named jo* (10-19, each with `followers[uid]` followers
    among users 100+), users 20-29 to be followed, and `follows`."""
    events = [_user(u, f"f{u}") for u in range(1, 10)] + [_user(u, f"x{u}") for u in range(20, 30)]
    events += [_user(u, f"jo{u}", f"Jo {u}") for u in followers]
    stranger = iter(range(100, 1000))
    for uid, count in followers.items():
        for s in [next(stranger) for _ in range(count)]:
            events += [_user(s, f"s{s}"), _follow(s, uid)]
    events += [_follow(a, z) for a, z in follows]
    return [validate(e) for e in events]


# the viewer follows 2 and 3; 2 follows only 10 (share 2^20), 3 follows 11 and five others (share ceil(2^20 / 6));
# 11 has more followers than 10: both have one mutual, and 10 comes first by weight
SELECTIVE = _history({10: 1, 11: 5}, [(VIEWER, 2), (VIEWER, 3), (2, 10), (3, 11), *((3, u) for u in range(20, 25))])
# the viewer follows 2, 3 and 4; 2 follows 10 and one other (share 2^19); 3 and 4 follow 11 and three others
# each (shares 2^18): equal weights (2^19), so the more followed 11 comes first; 12 (one mutual through 4, 2^18)
# comes last although the most followed
EQUAL = _history({10: 1, 11: 3, 12: 9}, [(VIEWER, 2), (VIEWER, 3), (VIEWER, 4), (2, 10), (2, 20), (3, 11), (4, 11),
                                         *((3, u) for u in (21, 22, 23)), (4, 12), (4, 24), (4, 25)])
CASES = [(SELECTIVE, ["10", "11"], [1, 1]), (EQUAL, ["11", "10", "12"], [2, 1, 1])]


@pytest.mark.parametrize(("history", "order", "counts"), CASES, ids=["selective_followee_first", "equal_weights"])
def test_users_with_mutuals_come_in_the_order_of_their_mutual_weight(history, order, counts):
    with indexed(history) as (index, _):
        engine = Engine(index)
        found = engine.typeahead("jo", VIEWER, limit=10, verticals=("user",), timeout_ms=60_000).results
        assert [r["id"] for r in found] == order
        assert [r["social"]["followed_by_count"] for r in found] == counts
        assert [r["social"]["following"] for r in found] == [False] * len(order)
        scores = [r["score"] for r in found]
        assert scores == sorted(scores, reverse=True) and all(1 < s < 3 for s in scores)
        searched = engine.search("user", "(term name:jo)", VIEWER, limit=10, order="social", timeout_ms=60_000)
        assert [r["id"] for r in searched.results] == order


@pytest.mark.parametrize(("history", "order", "counts"), CASES, ids=["selective_followee_first", "equal_weights"])
def test_mutual_weights_through_shards_equal_one_index(history, order, counts):
    """The followees, the users they follow and the results live on different shards: each shard weighs its
    users with the followee counts of the viewer's context."""
    with sharded(history) as (whole, shards, _):
        one, through = Engine(whole), aggregator(shards)
        try:
            expected = one.typeahead("jo", VIEWER, limit=10, verticals=("user",), timeout_ms=60_000)
            got = through.typeahead("jo", VIEWER, limit=10, verticals=("user",), timeout_ms=60_000)
            assert [r["id"] for r in got.results] == order
            assert got.results == expected.results and got.keys == expected.keys
            searched = through.search("user", "(term name:jo)", VIEWER, limit=10, order="social", timeout_ms=60_000)
            assert [r["id"] for r in searched.results] == order
        finally:
            through.close()


def test_weights_past_32_bits_keep_their_order():
    """4,100 followees who follow only 10 weigh 4,100 * 2^20 > 2^32 together: 10 comes before 11, whom five
    followees who follow only 11 weigh 5 * 2^20, one index and through shards."""
    many = range(1_000, 5_100)
    events = [_user(VIEWER, "vera"), _user(10, "jo10", "Jo Ten"), _user(11, "jo11", "Jo Eleven")]
    events += [_user(f, f"f{f}") for f in [*many, *range(20, 25)]]
    events += [_follow(VIEWER, f) for f in [*many, *range(20, 25)]]
    events += [_follow(f, 10) for f in many] + [_follow(f, 11) for f in range(20, 25)]
    history = [validate(e) for e in events]
    with sharded(history) as (whole, shards, _):
        one, through = Engine(whole), aggregator(shards)
        try:
            for engine in (one, through):
                found = engine.typeahead("jo", VIEWER, limit=10, verticals=("user",), timeout_ms=60_000).results
                assert [r["id"] for r in found] == ["10", "11"]
                assert [r["social"]["followed_by_count"] for r in found] == [len(many), 5]
        finally:
            through.close()
