"""SPEC §2 order rules: the index ends in the same state whatever the interleaving of partitions.

Caption mentions follow whoever holds a name now; event time decides between a delete and the
edges, blocks and likes keyed by other users; nothing inside a valid event stalls ingestion.
"""

from __future__ import annotations

import random
import struct
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from firehose.events import partition_key, validate
from indexer.store import Index
from slipstream import Slipstream
from tests.strategies import event as any_event
from vocabulary.schema import VERTICALS
from vocabulary.terms import LIVE

PARTITIONS = 3


def user(uid: int, username: str, ts: int, *, private: bool = False) -> dict:
    return validate({"op": "user.upsert", "ts": ts,
                     "user": {"id": uid, "username": username, "full_name": "", "is_private": private}})


def media(mid: int, owner: int, caption: str, ts: int, **extra) -> dict:
    return validate({"op": "media.upsert", "ts": ts,
                     "media": {"id": mid, "owner": owner, "caption": caption, "taken_at": 0, **extra}})


def op(name: str, ts: int, **fields) -> dict:
    return validate({"op": name, "ts": ts, **fields})


def apply(index: Index, events: list[dict], batch_size: int = 1_000_000) -> None:
    for start in range(0, len(events), batch_size):
        with index.writer() as batch:
            slip = Slipstream(batch)
            for event in events[start:start + batch_size]:
                slip.apply(event)


def doc(index: Index, vertical: str, ext: int) -> dict | None:
    with index.reader() as view:
        iid = view.iid(vertical, ext)
        return None if iid is None else view.doc(vertical, iid)


def posting(index: Index, vertical: str, term: str) -> set:
    """External ids in a posting, live or not."""
    with index.reader() as view:
        return {view.ext(vertical, i) for i in view.posting(vertical, term)}


def live(index: Index, vertical: str, term: str) -> set:
    with index.reader() as view:
        return {view.ext(vertical, i) for i in view.posting(vertical, term) & view.posting(vertical, LIVE)}


def mention_links(index: Index, mid: int) -> list[int]:
    """What `extract mention:` reads for one media."""
    with index.reader() as view:
        return [view.ext("user", u) for u in view.links(view.iid("media", mid))[3]]


_TIME_ENDS = {b"f": ("user", "user"), b"b": ("user", "user"), b"l": ("user", "media"), b"u": ("user",),
              b"m": ("media",)}


def state(index: Index) -> dict:
    """Everything the index holds, with internal ids replaced by external ones (they are allocated
    in arrival order, so they differ between interleavings)."""
    out: dict = {}
    with index.reader() as view:
        for vertical in VERTICALS:
            for term in view.terms(vertical, ""):
                out[vertical, "term", term] = {view.ext(vertical, i) for i in view.posting(vertical, term)}
            for i in view.posting(vertical, LIVE):
                out[vertical, "doc", view.ext(vertical, i)] = view.doc(vertical, i)
        for i in view.posting("media", LIVE):
            owner, place, tags, mentions = view.links(i)
            out["media", "links", view.ext("media", i)] = (
                view.ext("user", owner), view.ext("place", place) if place >= 0 else None,
                [view.ext("hashtag", t) for t in tags], [view.ext("user", u) for u in mentions])
        for key, ts in view.times():
            ends = _TIME_ENDS[key[:1]]
            iids = struct.unpack(f">{len(ends)}I", key[1:])
            out["time", key[:1], tuple(view.ext(v, i) for v, i in zip(ends, iids))] = ts
    return out


def test_a_mention_written_before_its_user_points_to_the_user_once_created(tmp_path):
    index = Index(tmp_path)
    apply(index, [media(100, 9, "hi @Ann", 1)])
    assert doc(index, "media", 100)["mentions"] == []
    apply(index, [user(1, "ann", 2)])
    assert doc(index, "media", 100)["mentions"] == [1]
    assert live(index, "media", "mention:1") == {100}
    assert mention_links(index, 100) == [1]
    index.close()


def test_a_rename_moves_the_mention_and_a_free_name_points_to_no_one(tmp_path):
    index = Index(tmp_path)
    apply(index, [user(1, "ann", 1), media(100, 9, "@ann and @bob", 2), media(101, 9, "@bob", 3)])
    assert doc(index, "media", 100)["mentions"] == [1]
    apply(index, [user(1, "Bob", 4)])
    assert doc(index, "media", 100)["mentions"] == [1]
    assert doc(index, "media", 101)["mentions"] == [1]
    apply(index, [user(1, "carl", 5)])
    assert doc(index, "media", 100)["mentions"] == []
    assert doc(index, "media", 101)["mentions"] == []
    assert live(index, "media", "mention:1") == set()
    assert mention_links(index, 100) == []
    apply(index, [user(2, "ann", 6), user(3, "bob", 7)])
    assert doc(index, "media", 100)["mentions"] == [2, 3]
    assert mention_links(index, 100) == [2, 3]
    assert live(index, "media", "mention:2") == {100}
    assert live(index, "media", "mention:3") == {100, 101}
    index.close()


def test_a_shared_name_points_to_the_lowest_id_and_a_delete_releases_it(tmp_path):
    index = Index(tmp_path)
    apply(index, [user(5, "ann", 1), media(100, 9, "@ann", 2), user(3, "Ann", 3)])
    assert doc(index, "media", 100)["mentions"] == [3]
    apply(index, [op("user.delete", 4, id=3)])
    assert doc(index, "media", 100)["mentions"] == [5]
    apply(index, [op("user.delete", 5, id=5)])
    assert doc(index, "media", 100)["mentions"] == []
    assert posting(index, "media", "mention:5") == set()
    index.close()


def test_given_mentions_are_kept_and_a_media_leaves_the_name_index_when_updated_or_deleted(tmp_path):
    index = Index(tmp_path)
    apply(index, [user(1, "ann", 1), media(100, 9, "@ann", 2), media(101, 9, "@ann", 3, mentions=[7]),
                  media(102, 9, "@ann", 4)])
    assert posting(index, "media", "_atname:ann") == {100, 102}
    apply(index, [media(100, 9, "@ann", 5, mentions=[8]), op("media.delete", 6, id=102, owner=9)])
    assert posting(index, "media", "_atname:ann") == set()
    apply(index, [user(1, "bob", 7), user(2, "ann", 8)])
    assert doc(index, "media", 100)["mentions"] == [8]
    assert doc(index, "media", 101)["mentions"] == [7]
    index.close()


def test_a_follow_older_than_a_delete_is_dropped_whenever_it_arrives(tmp_path):
    late, early = Index(tmp_path / "late"), Index(tmp_path / "early")
    users = [user(1, "a", 1), user(2, "b", 2)]
    apply(late, [*users, op("user.delete", 10, id=2), op("follow.add", 5, follower=1, followee=2), user(2, "b", 11)])
    apply(early, [*users, op("follow.add", 5, follower=1, followee=2), op("user.delete", 10, id=2), user(2, "b", 11)])
    for index in (late, early):
        assert posting(index, "user", "following:1") == set()
        assert doc(index, "user", 1)["following_count"] == 0
        assert doc(index, "user", 2)["followers_count"] == 0
    assert state(late) == state(early)
    late.close(), early.close()


def test_a_follow_newer_than_a_delete_survives_it_and_counts_once_the_user_is_back(tmp_path):
    late, early = Index(tmp_path / "late"), Index(tmp_path / "early")
    users = [user(1, "a", 1), user(2, "b", 2)]
    apply(late, [*users, op("follow.add", 12, follower=1, followee=2), op("user.delete", 10, id=2)])
    apply(early, [*users, op("user.delete", 10, id=2), op("follow.add", 12, follower=1, followee=2)])
    for index in (late, early):
        assert posting(index, "user", "following:1") == {2}
        assert doc(index, "user", 1)["following_count"] == 0
        apply(index, [user(2, "b", 13)])
        assert doc(index, "user", 1)["following_count"] == 1
        assert doc(index, "user", 2)["followers_count"] == 1
    assert state(late) == state(early)
    late.close(), early.close()


def test_a_user_deleted_and_created_again_keeps_only_what_came_after(tmp_path):
    """Follows and blocks keyed by user 1, likes by user 3 on user 2's media, user 2's own events."""
    others = [op("follow.add", 3, follower=1, followee=2), op("block.add", 4, blocker=1, blocked=2),
              op("like.add", 5, user=3, media=100), op("follow.add", 8, follower=1, followee=2)]
    own = [user(2, "b", 1), media(100, 2, "x", 2), op("user.delete", 6, id=2), user(2, "b", 7),
           media(100, 2, "x", 7)]
    results = []
    for k, events in enumerate(([*others, *own], [*own, *others], [*others[:2], *own[:3], *others[2:], *own[3:]])):
        index = Index(tmp_path / str(k))
        apply(index, [user(1, "a", 0), user(3, "c", 0), *events])
        assert posting(index, "user", "following:1") == {2}
        assert posting(index, "user", "_blocks:1") == set()
        assert posting(index, "media", "liker:3") == set()
        assert doc(index, "user", 2)["followers_count"] == 1
        assert doc(index, "media", 100)["like_count"] == 0
        results.append(state(index))
        index.close()
    assert results[0] == results[1] == results[2]


def test_likes_follow_media_deletes_by_time_also_through_the_owner_delete(tmp_path):
    results = []
    base = [user(1, "a", 1), user(2, "b", 1), media(100, 1, "x", 2), media(101, 1, "y", 2)]
    likes = [op("like.add", 3, user=2, media=100), op("like.add", 9, user=2, media=101),
             op("like.add", 4, user=2, media=101)]
    deletes = [op("media.delete", 5, id=100, owner=1), op("user.delete", 8, id=1)]
    for k, events in enumerate(([*likes, *deletes], [*deletes, *likes], [likes[0], *deletes, *likes[1:]])):
        index = Index(tmp_path / str(k))
        apply(index, [*base, *events])
        assert posting(index, "media", "liker:2") == {101}
        assert posting(index, "user", "_liked:100") == set()
        assert doc(index, "media", 101) is None
        apply(index, [user(1, "a", 10), media(101, 1, "y", 11)])
        assert doc(index, "media", 101)["like_count"] == 1
        results.append(state(index))
        index.close()
    assert results[0] == results[1] == results[2]


def test_a_delete_of_a_user_never_seen_still_drops_older_edges(tmp_path):
    index = Index(tmp_path)
    apply(index, [op("user.delete", 5, id=2), op("follow.add", 4, follower=1, followee=2),
                  op("block.add", 4, blocker=1, blocked=2), op("follow.add", 6, follower=3, followee=2)])
    assert posting(index, "user", "follower:2") == {3}
    assert posting(index, "user", "_blockedby:2") == set()
    index.close()


def test_an_upsert_after_a_delete_of_the_same_user_applies_in_arrival_order(tmp_path):
    """One entity's events share a partition: an upsert that arrives after the delete recreates the
    user even with an older ts; the tombstone still drops edges older than the delete."""
    index = Index(tmp_path)
    apply(index, [user(2, "b", 1), op("user.delete", 10, id=2), user(2, "b", 9),
                  op("follow.add", 9, follower=1, followee=2)])
    assert doc(index, "user", 2)["username"] == "b"
    assert posting(index, "user", "follower:2") == set()
    index.close()


# nothing inside a valid event stalls ingestion

def _traced_lines(events: list[dict], tmp: Path) -> int:
    """Python lines executed while applying `events` to a fresh index (a measure of work)."""
    index = Index(tmp)
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    with index.writer() as batch:
        slip = Slipstream(batch)
        sys.settrace(tracer)
        try:
            for event in events:
                slip.apply(event)
        finally:
            sys.settrace(None)
    index.close()
    return count


def _many_mentions(n: int) -> list[dict]:
    users = [user(i, f"u{i}", i) for i in range(1, n + 1)]
    caption = " ".join(f"@u{i}" for i in range(1, n + 1))
    return [*users, media(100_000, 1, caption, n + 1), user(n, "renamed", n + 2),
            media(100_001, 1, "x", n + 3, mentions=list(range(1, n + 1))),
            media(100_002, 1, "x", n + 4, hashtags=[f"t{i}" for i in range(n)])]


def test_work_grows_linearly_with_mentions_and_hashtags_of_one_event(tmp_path):
    small = _traced_lines(_many_mentions(1000), tmp_path / "small")
    large = _traced_lines(_many_mentions(2000), tmp_path / "large")
    assert large < 2.2 * small


def test_five_thousand_mentions_and_thousands_of_hashtags_are_indexed(tmp_path):
    n = 5000
    index = Index(tmp_path)
    apply(index, _many_mentions(n))
    assert doc(index, "media", 100_000)["mentions"] == list(range(1, n))
    assert mention_links(index, 100_001) == list(range(1, n + 1))
    assert live(index, "media", f"mention:{n - 1}") == {100_000, 100_001}
    assert live(index, "media", f"mention:{n}") == {100_001}
    assert live(index, "media", f"hashtag:t{n - 1}") == {100_002}
    apply(index, [user(n + 1, f"u{n}", n + 5)])
    assert doc(index, "media", 100_000)["mentions"] == [*range(1, n), n + 1]
    index.close()


# the property: every interleaving that keeps each partition's order gives one state

OWNER = {m: 1 + m % 4 for m in range(100, 107)}  # one owner per media: its events share a partition


def _keyed(event: dict) -> dict:
    """The strategy's event with its media's owner fixed (SPEC §2: one entity, one partition)."""
    if event["op"] == "media.upsert":
        return {**event, "media": {**event["media"], "owner": OWNER[event["media"]["id"]]}}
    if event["op"] == "media.delete":
        return {**event, "owner": OWNER[event["id"]]}
    return event


def interleavings(stream: list[dict], seed: int) -> dict[str, list[dict]]:
    parts: list[list[dict]] = [[] for _ in range(PARTITIONS)]
    for event in stream:
        parts[partition_key(event) % PARTITIONS].append(event)
    round_robin = [e for row in range(max(map(len, parts))) for part in parts if row < len(part)
                   for e in [part[row]]]
    rng = random.Random(seed)
    shuffled, cursors = [], [0] * PARTITIONS
    while len(shuffled) < len(stream):
        p = rng.choice([p for p in range(PARTITIONS) if cursors[p] < len(parts[p])])
        shuffled.append(parts[p][cursors[p]])
        cursors[p] += 1
    return {
        "one partition": stream,
        "round robin": round_robin,
        "drained in turn": [e for part in parts for e in part],
        "drained in reverse turn": [e for part in reversed(parts) for e in part],
        "random": shuffled,
    }


@settings(max_examples=80, deadline=None)
@given(events=st.lists(any_event(), min_size=10, max_size=40), seed=st.integers(0, 2**32),
       batch_size=st.integers(1, 8))
def test_every_interleaving_of_partitions_gives_the_same_index(events, seed, batch_size, tmp_path_factory):
    stream = [{**_keyed(e), "ts": ts} for ts, e in enumerate(events, start=1)]
    states = {}
    for name, order in interleavings(stream, seed).items():
        index = Index(tmp_path_factory.mktemp("order"))
        apply(index, order, batch_size)
        states[name] = state(index)
        index.close()
    reference = states.pop("one partition")
    for name, got in states.items():
        assert got == reference, name
