"""The follow graph (unicorn.graph) against the postings it is read from.

After random batches of follows, unfollows, user creations and deletions (at varying event times),
events that change documents but no follow and batches that change no user, one batch per generation, every user's row of
the graph and the 2-hop counts of random sets of users must equal what the index's postings give
naively, and their weights what the followers' documents give (ceil(2^20 / following_count) each): rows of users changed since the base, read from the index when needed and handed on to
the next snapshots; after compactions into a new base (a small `rows_max` forces one after
nearly every batch); and for a view older than the latest snapshot (made from an older base, or
built from the index).
"""

from __future__ import annotations

import tempfile
from collections import Counter

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyroaring import BitMap

from firehose.events import validate
from indexer.store import Index
from slipstream import Slipstream
from tests.strategies import ACTOR, media_upsert
from unicorn.graph import FollowGraph
from unicorn.query.rank import as_array
from vocabulary import terms

USERS = st.integers(1, 12)


def _pair(op: str, a: str, z: str):
    """Users 1-3 act more often: long rows."""
    return st.builds(lambda x, y: {"op": op, "ts": 0, a: x, z: y}, st.integers(1, 3) | USERS, USERS)


def _user(uid: int, private: bool = False) -> dict:
    return {"op": "user.upsert", "ts": 0, "user": {
        "id": uid, "username": f"u{uid}", "full_name": "", "is_private": private, "is_verified": False}}


follows = _pair("follow.add", "follower", "followee")
event = st.one_of(
    *[follows] * 8, _pair("follow.remove", "follower", "followee"),
    st.builds(_user, USERS, st.booleans()), st.builds(lambda u: {"op": "user.delete", "ts": 0, "id": u}, USERS),
    media_upsert(),  # changes its owner's media_count: a rewritten document, no follow changed
)


@st.composite
def batches(draw):
    """Batches of events, the first creating every user and many follows; `ts` never goes back for
    one acting user (tests.strategies.events)."""
    clock: dict = {}
    made = []
    quiet = st.lists(st.builds(lambda u: {"op": "like.add", "ts": 0, "user": u, "media": 100}, USERS), max_size=1)
    batches = draw(st.lists(st.lists(event, min_size=1, max_size=16) | quiet, min_size=2, max_size=10))
    batches[0] = [_user(u) for u in range(1, 13)] + draw(st.lists(follows, min_size=20, max_size=40)) + batches[0]
    for batch in batches:
        stream = []
        for e in map(validate, batch):
            actor = ACTOR[e["op"]](e)
            clock[actor] = max(clock.get(actor, 0), draw(st.integers(0, 40)))
            stream.append({**e, "ts": clock[actor]})
        made.append(stream)
    return made


def naive_rows(view) -> dict[int, list[int]]:
    """Internal id -> its live followees, for every user the index knows, from the postings."""
    live = view.posting("user", terms.LIVE)
    rows = {}
    for ext in range(1, 13):
        iid = view.iid("user", ext)
        if iid is not None:
            rows[iid] = sorted(view.posting("user", terms.following(ext)) & live) if iid in live else []
    return rows


def naive_hops(rows: dict[int, list[int]], users: list[int]) -> dict[int, int]:
    return dict(Counter(followee for user in users for followee in rows.get(user, [])))


def naive_weights(view, rows: dict[int, list[int]], users: list[int]) -> dict[int, int]:
    share = {u: -(-(1 << 20) // view.doc("user", u)["following_count"]) for u in users if rows[u]}
    return {c: sum(share[u] for u in users if c in rows[u]) for u in users for c in rows[u]}


def check(graph: FollowGraph, view, subsets: list[list[int]]) -> None:
    """Hop counts first: they read the changed rows they need, and the rows must not depend on it."""
    rows = naive_rows(view)
    snapshot = graph.at(view)
    assert snapshot.gen == view.gen
    for subset in subsets + [list(rows)]:
        users = sorted({u for u in subset if u in rows})
        ids, counts = snapshot.hop_counts(view, BitMap(users))
        assert ids.dtype == np.uint32 and np.all(np.diff(ids.astype(np.int64)) > 0)
        assert dict(zip(ids.tolist(), counts.tolist())) == naive_hops(rows, users)
        weights = naive_weights(view, rows, users)
        assert dict(zip(ids.tolist(), snapshot.hop(view, BitMap(users)).weights.tolist())) == weights
        hop_ids, hop_counts, hop_weights, followers = snapshot.hop(view, BitMap(users), followers_max=1 << 20)
        assert hop_ids.tolist() == ids.tolist() and hop_counts.tolist() == counts.tolist()
        assert dict(zip(ids.tolist(), hop_weights.tolist())) == weights
        starts = np.cumsum(counts, dtype=np.int64) - counts
        assert {c: sorted(followers[s:s + n].tolist()) for c, s, n in zip(ids.tolist(), starts.tolist(), counts.tolist())} \
            == {c: [u for u in users if c in rows[u]] for c in ids.tolist()}
    assert {iid: snapshot.followees(view, iid).tolist() for iid in rows} == rows


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=batches(), rows_max=st.sampled_from([0, 1, 3, None]), keep=st.sampled_from([1, 8]),
       read_ahead=st.sampled_from([0, 1, 64]), old_after=st.integers(0, 9),
       subsets=st.lists(st.lists(st.integers(0, 12), max_size=8), min_size=1, max_size=3),
       checked=st.lists(st.booleans(), min_size=10, max_size=10))
def test_rows_and_hop_counts_equal_the_postings(history, rows_max, keep, read_ahead, old_after, subsets, checked):
    with tempfile.TemporaryDirectory() as tmp:
        index = Index(tmp)
        graph = FollowGraph(rows_max=rows_max, keep=keep, read_ahead=read_ahead)  # keep=1: older views from a base
        old = None
        try:
            for n, batch in enumerate(history):
                with index.writer() as writer:
                    slip = Slipstream(writer)
                    for e in batch:
                        slip.apply(e)
                if n == old_after:
                    old = index.reader()
                if checked[n] or n == len(history) - 1:  # some generations are skipped: several batches at once
                    with index.reader() as view:
                        check(graph, view, subsets)
            if old is not None:
                check(graph, old, subsets)
                with index.reader() as view:
                    check(graph, view, subsets)
        finally:
            if old is not None:
                old.close()
            index.close()


def test_rows_read_are_handed_on_and_merged_into_a_new_base_past_the_bound():
    follow = lambda a, z, ts: validate({"op": "follow.add", "ts": ts, "follower": a, "followee": z})
    user = lambda u: validate({"op": "user.upsert", "ts": 0, "user": {
        "id": u, "username": f"u{u}", "full_name": "", "is_private": False, "is_verified": False}})
    media = lambda owner, ts: validate({"op": "media.upsert", "ts": ts, "media": {
        "id": 100 + owner, "owner": owner, "caption": "", "taken_at": 0, "place": None}})
    with tempfile.TemporaryDirectory() as tmp:
        index = Index(tmp)
        try:
            graph = FollowGraph(rows_max=2, read_ahead=0)
            seen = []  # what each snapshot's rows of users 1-5, and of users 1 and 3, are made of

            def commit(*events):
                """The snapshot after `events`, and its rows of users 1-5, by external id."""
                with index.writer() as writer:
                    for e in events:
                        Slipstream(writer).apply(e)
                with index.reader() as view:
                    snapshot = graph.at(view)
                    ext = {view.iid("user", u): u for u in range(1, 6)}
                    one_and_three = BitMap([view.iid("user", 1), view.iid("user", 3)])
                    seen.append((snapshot.seen(view, BitMap(ext)), snapshot.seen(view, one_and_three)))
                    return snapshot, {u: [ext[z] for z in snapshot.followees(view, iid).tolist()]
                                      for iid, u in ext.items()}

            base, rows = commit(*map(user, range(1, 6)), follow(1, 2, 1))
            assert rows == {1: [2], 2: [], 3: [], 4: [], 5: []} and graph.builds == 1
            with index.reader() as view:
                iid = {u: view.iid("user", u) for u in range(1, 6)}
            five, one_and_three = BitMap(iid.values()), BitMap([iid[1], iid[3]])
            one, rows = commit(follow(3, 4, 2))  # users 3 and 4 changed: their rows are read
            assert one.base is base.base and set(one.changed) == set(one.rows) == {iid[3], iid[4]} and rows[3] == [4]
            quiet, _ = commit(media(5, 3))  # user 5 changed (a media)
            assert quiet.base is one.base and quiet.rows[iid[3]] is one.rows[iid[3]]  # handed on, not read again
            assert quiet.unchanged(seen[2][0], five) and quiet.unchanged(seen[1][1], one_and_three)
            assert not quiet.unchanged(seen[1][0], five)  # user 5 changed since
            assert not quiet.unchanged(seen[0][1], one_and_three)  # user 3 changed since
            two, _ = commit(follow(4, 5, 4))  # 3's row handed on, 4's and 5's read
            assert two.base is one.base and graph.compactions == 0
            three, rows = commit(media(2, 5))  # three rows handed on: merged
            assert three.base is not two.base and graph.compactions == 1 and graph.builds == 1
            assert set(three.changed) == set(three.base.stale) == {iid[2]}  # user 2's row was not read since
            assert rows == {1: [2], 2: [], 3: [4], 4: [5], 5: []}
            assert not three.unchanged(seen[3][1], one_and_three) and three.unchanged(seen[4][1], one_and_three)
        finally:
            index.close()


def test_a_user_who_does_not_exist_has_no_row_until_created():
    with tempfile.TemporaryDirectory() as tmp:
        index = Index(tmp)
        try:
            graph = FollowGraph()
            with index.writer() as writer:
                Slipstream(writer).apply(validate({"op": "follow.add", "ts": 1, "follower": 1, "followee": 2}))
            with index.reader() as view:
                assert graph.at(view).followees(view, view.iid("user", 1)).tolist() == []
                assert as_array(view.posting("user", terms.following(1))).tolist() == [view.iid("user", 2)]
            for uid in (1, 2):
                with index.writer() as writer:
                    Slipstream(writer).apply(validate({"op": "user.upsert", "ts": 2, "user": {
                        "id": uid, "username": f"u{uid}", "full_name": "", "is_private": False,
                        "is_verified": False}}))
                with index.reader() as view:
                    check(graph, view, [[view.iid("user", 1)]])
            assert graph.builds == 1
        finally:
            index.close()
