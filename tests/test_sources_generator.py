"""The synthetic platform generator: deterministic, every event canonical, referentially sane."""

from __future__ import annotations

import itertools
import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from firehose.events import from_msgpack, parse_json_line, to_json_line, to_msgpack, validate
from firehose.sources.generator import SCALES, Scale, SyntheticPlatform, generate
from vocabulary.text import caption_hashtags, caption_mentions, normalize

TINY = Scale(users=60, follows=400, media=120, likes=300, places=12, blocks=15, hashtags=40, changes=400)


def check_history(events: list[dict]) -> None:
    """Replays the events, asserting each one makes sense against the platform as it is then."""
    users: dict[int, str] = {}
    follows: set[tuple[int, int]] = set()
    blocks: set[tuple[int, int]] = set()
    likes: set[tuple[int, int]] = set()
    media: dict[int, int] = {}
    places: set[int] = set()
    last_ts = 0
    for e in events:
        assert validate(e) == e
        assert e["ts"] > last_ts
        last_ts = e["ts"]
        op = e["op"]
        if op == "user.upsert":
            u = e["user"]
            assert re.fullmatch(r"[a-z0-9._]+", u["username"]) and not u["username"].endswith(".")
            assert u["username"] not in {n for i, n in users.items() if i != u["id"]}, "usernames are unique"
            users[u["id"]] = u["username"]
        elif op == "user.delete":
            uid = e["id"]
            assert uid in users
            del users[uid]
            follows = {f for f in follows if uid not in f}
            blocks = {b for b in blocks if uid not in b}
            likes = {lk for lk in likes if lk[0] != uid}
            media = {m: o for m, o in media.items() if o != uid}
        elif op in ("follow.add", "follow.remove"):
            pair = (e["follower"], e["followee"])
            assert pair[0] != pair[1] and pair[0] in users and pair[1] in users
            assert (pair in follows) == (op == "follow.remove")
            (follows.add if op == "follow.add" else follows.discard)(pair)
        elif op in ("block.add", "block.remove"):
            pair = (e["blocker"], e["blocked"])
            assert pair[0] != pair[1] and pair[0] in users and pair[1] in users
            assert (pair in blocks) == (op == "block.remove")
            (blocks.add if op == "block.add" else blocks.discard)(pair)
        elif op == "place.upsert":
            assert -90 <= e["place"]["lat"] <= 90 and -180 <= e["place"]["lng"] <= 180
            places.add(e["place"]["id"])
        elif op == "media.upsert":
            m = e["media"]
            assert m["owner"] in users and media.get(m["id"], m["owner"]) == m["owner"]
            assert m["place"] is None or m["place"] in places
            assert m["taken_at"] <= e["ts"]
            named = {n: i for i, n in users.items()}
            if "hashtags" in m:
                assert m["hashtags"] == caption_hashtags(m["caption"])
                assert m["mentions"] == [named[n] for n in caption_mentions(m["caption"])]
            else:
                assert all(n in named for n in caption_mentions(m["caption"]))
            media[m["id"]] = m["owner"]
        elif op == "media.delete":
            assert media.get(e["id"]) == e["owner"]
            del media[e["id"]]
            likes = {lk for lk in likes if lk[1] != e["id"]}
        elif op in ("like.add", "like.remove"):
            pair = (e["user"], e["media"])
            assert pair[0] in users and pair[1] in media
            assert (pair in likes) == (op == "like.remove")
            (likes.add if op == "like.add" else likes.discard)(pair)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_history_is_valid_and_referentially_sane(seed: int) -> None:
    check_history(list(generate(TINY, seed)))


def test_scale_s_is_sane_and_covers_every_operation() -> None:
    events = list(generate("S", 7))
    check_history(events)
    ops = {e["op"] for e in events}
    assert ops >= {"user.upsert", "user.delete", "follow.add", "follow.remove", "block.add", "block.remove",
                   "place.upsert", "media.upsert", "media.delete", "like.add", "like.remove"}


def test_same_seed_same_events_other_seed_other_events() -> None:
    first = list(generate(TINY, 3))
    assert first == list(generate(TINY, 3))
    assert first != list(generate(TINY, 4))


def test_snapshot_is_the_prefix_and_changes_stand_alone() -> None:
    everything = list(generate(TINY, 5))
    snapshot = list(generate(TINY, 5, changes=False))
    assert everything[: len(snapshot)] == snapshot
    assert everything[len(snapshot):] == list(SyntheticPlatform(TINY, 5).changes())
    assert {e["op"] for e in snapshot} <= {"place.upsert", "user.upsert", "follow.add", "block.add", "media.upsert", "like.add"}


def test_events_survive_both_wire_encodings() -> None:
    for e in itertools.islice(generate(TINY, 1), 2000):
        assert parse_json_line(to_json_line(e)) == e
        assert from_msgpack(to_msgpack(e)) == e


def test_realistic_shape() -> None:
    scale = SCALES["S"]
    p = SyntheticPlatform(scale, 11)
    snapshot = list(p.snapshot())
    users = [e["user"] for e in snapshot if e["op"] == "user.upsert"]
    assert 0.06 < sum(u["is_private"] for u in users) / len(users) < 0.14
    assert 0.005 < sum(u["is_verified"] for u in users) / len(users) < 0.04
    names = " ".join(u["full_name"] for u in users)
    scripts = {unicodedata.name(c).split()[0] for c in names if c.isalpha()}
    assert {"LATIN", "CJK", "HANGUL", "CYRILLIC"} <= scripts
    assert any(normalize(c) != c.casefold() for c in names), "accents that normalization folds"
    assert any(unicodedata.category(c) == "So" for c in names), "an occasional emoji"
    followers: dict[int, int] = {}
    for e in snapshot:
        if e["op"] == "follow.add":
            followers[e["followee"]] = followers.get(e["followee"], 0) + 1
    counts = sorted(followers.values(), reverse=True)
    assert counts[0] > 20 * counts[len(counts) // 2], "follower counts are heavy-tailed"
    tags: dict[str, int] = {}
    for e in snapshot:
        if e["op"] == "media.upsert":
            for t in caption_hashtags(e["media"]["caption"]):
                tags[t] = tags.get(t, 0) + 1
    top = sorted(tags.values(), reverse=True)
    assert top[0] > 10 * top[len(top) // 2], "hashtag use is heavy-tailed"
