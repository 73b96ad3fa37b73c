"""The aggregator keeps a viewer's context between requests (unicorn/aggregator.py): answers equal one index's
after the shards move on (follows, blocks, privacy changes written between requests), and a viewer's next
request at unchanged generations reads no context (round 0 is skipped)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firehose.events import validate
from tests.sharded import sharded, write_sharded
from tests.strategies import events
from tests.test_query_model import VERTICALS, query, sexpr
from unicorn.aggregator import Aggregator
from unicorn.engine import Engine
from unicorn.shard import LocalShard

PARTITIONS = 5


class CountingShard(LocalShard):
    """A LocalShard that counts the context reads (round 0) made of it."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.viewer_parts = 0

    def viewer_part(self, viewer: int):
        self.viewer_parts += 1
        return super().viewer_part(viewer)


def through(shards) -> tuple[Aggregator, list[CountingShard]]:
    counting = [CountingShard(Engine(index)) for index in shards]
    return Aggregator([[c] for c in counting], PARTITIONS), counting


def user(u: int, private: bool = False) -> dict:
    return {"op": "user.upsert", "ts": 1, "user": {"id": u, "username": f"jo{u}", "full_name": f"Jo {u}",
                                                   "is_private": private, "is_verified": False}}


def results(found) -> list:
    return [r["id"] for r in found.results], found.results, found.total


def test_a_kept_context_follows_the_shards_writes():
    """Viewer 1's context changes on other shards between requests: a follow of a private user (whose media it
    then sees), a block (which hides that user), and a `social` context that depends on who 1 follows."""
    base = [validate(e) for e in [user(u, private=u == 2) for u in range(1, 9)]
            + [{"op": "media.upsert", "ts": 2, "media": {"id": 100 + u, "owner": u, "caption": "#sun", "taken_at": u}}
               for u in range(1, 9)]
            + [{"op": "follow.add", "ts": 3, "follower": 3, "followee": u} for u in (4, 5, 6)]]
    steps = [[{"op": "follow.add", "ts": 4, "follower": 1, "followee": 2}],
             [{"op": "follow.add", "ts": 5, "follower": 1, "followee": 3}],
             [{"op": "block.add", "ts": 6, "blocker": 2, "blocked": 1}],
             [{"op": "user.upsert", "ts": 7, "user": {"id": 3, "username": "jo3", "full_name": "Jo 3",
                                                      "is_private": True, "is_verified": False}}]]
    requests = [("media", "(term hashtag:sun)"), ("user", "(term name:jo)"),
                ("user", "(apply following: (term following:1))")]
    with sharded(base, partitions=PARTITIONS) as (whole, shards, _):
        one = Engine(whole)
        aggregator, _ = through(shards)
        try:
            for step in [[], *steps]:
                write_sharded([validate(e) for e in step], whole, shards, PARTITIONS)
                for vertical, q in requests:
                    assert results(aggregator.search(vertical, q, 1, limit=50)) == \
                        results(one.search(vertical, q, 1, limit=50)), (step, q)
                    assert results(aggregator.search("user", q if vertical == "user" else "(term name:jo)", 1,
                                                     limit=50, order="social")) == \
                        results(one.search("user", q if vertical == "user" else "(term name:jo)", 1, limit=50,
                                           order="social")), (step, q)
                assert aggregator.typeahead("jo", 1, 10, ("user",)).results == one.typeahead("jo", 1, 10, ("user",)).results
        finally:
            aggregator.close()


def test_a_viewers_next_request_reads_no_context_until_a_shard_moves():
    base = [validate(e) for e in [user(u) for u in range(1, 9)]
            + [{"op": "follow.add", "ts": 2, "follower": 1, "followee": u} for u in range(2, 9)]]
    with sharded(base, partitions=PARTITIONS) as (whole, shards, _):
        aggregator, counting = through(shards)
        try:
            aggregator.typeahead("jo", 1, 10, ("user",))
            assert [c.viewer_parts for c in counting] == [1] * len(shards)
            aggregator.typeahead("jo", 1, 10, ("user",))
            aggregator.search("user", "(apply following: (term following:1))", 1)
            assert [c.viewer_parts for c in counting] == [1] * len(shards)
            write_sharded([validate({"op": "follow.remove", "ts": 3, "follower": 1, "followee": 2})], whole, shards,
                          PARTITIONS)
            expected = Engine(whole).typeahead("jo", 1, 10, ("user",)).results
            assert aggregator.typeahead("jo", 1, 10, ("user",)).results == expected
            assert [c.viewer_parts for c in counting] == [2] * len(shards)
        finally:
            aggregator.close()


searches = st.lists(st.tuples(st.one_of([st.tuples(st.just(v), query(v)) for v in VERTICALS]),
                              st.integers(1, 6), st.sampled_from(["static", "social"])), min_size=8, max_size=8)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(first=events(40), then=events(40), searches=searches)
def test_kept_contexts_answer_as_one_index_after_more_events(first, then, searches):
    """The same requests before and after more events (any of them), through one aggregator that keeps its
    viewers' contexts: each answer equals one index's at the time."""
    with sharded(first, partitions=PARTITIONS) as (whole, shards, _):
        one = Engine(whole)
        aggregator, _ = through(shards)
        try:
            for history in ([], then):
                write_sharded(history, whole, shards, PARTITIONS)
                for (vertical, q), viewer, order in searches:
                    text = sexpr(q)
                    expected = one.search(vertical, text, viewer, limit=20, order=order, timeout_ms=60_000)
                    got = aggregator.search(vertical, text, viewer, limit=20, order=order, timeout_ms=60_000)
                    assert results(got) == results(expected), (vertical, text, viewer, order)
                    assert aggregator.typeahead("j", viewer, 5, timeout_ms=60_000).results == \
                        one.typeahead("j", viewer, 5, timeout_ms=60_000).results, viewer
        finally:
            aggregator.close()
