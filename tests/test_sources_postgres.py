"""The PostgreSQL platform stub mirrors SPEC §2 (the plain-Python model) and fills its outbox in order."""

from __future__ import annotations

import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings

from firehose.events import EventError, validate
from firehose.sources.generator import Scale, generate
from firehose.sources.postgres import PlatformDB, from_db, to_db, truncate
from indexer.rebuild import rebuild
from indexer.store import Index
from tests.model.platform import Platform
from tests.model.text import caption_mentions
from tests.strategies import events as event_lists
from vocabulary import paths

TINY = Scale(users=50, follows=300, media=80, likes=200, places=8, blocks=10, hashtags=30, changes=300)


def tables(dsn: str) -> Platform:
    """The platform state held by the tables, in the model's shape."""
    p = Platform()
    with psycopg.connect(dsn) as conn:
        for uid, username, full_name, is_private, is_verified in conn.execute(
                "SELECT id, username, full_name, is_private, is_verified FROM users"):
            p.users[from_db(uid)] = {"id": from_db(uid), "username": username, "full_name": full_name,
                                     "is_private": is_private, "is_verified": is_verified}
        p.follow_ts = {(from_db(a), from_db(b)): 0 for a, b in conn.execute("SELECT follower, followee FROM follows")}
        p.block_ts = {(from_db(a), from_db(b)): 0 for a, b in conn.execute("SELECT blocker, blocked FROM blocks")}
        p.like_ts = {(from_db(a), from_db(b)): 0 for a, b in conn.execute("SELECT user_id, media FROM likes")}
        for pid, name, city, country, lat, lng in conn.execute("SELECT id, name, city, country, lat, lng FROM places"):
            p.places[from_db(pid)] = {"id": from_db(pid), "name": name, "city": city, "country": country, "lat": lat, "lng": lng}
        for mid, owner, caption, taken_at, place, tags, mentions in conn.execute(
                "SELECT id, owner, caption, taken_at, place, hashtags, mentions FROM media"):
            p.media[from_db(mid)] = {"id": from_db(mid), "owner": from_db(owner), "caption": caption, "taken_at": taken_at,
                                     "place": None if place is None else from_db(place), "hashtags": tags,
                                     "explicit_mentions": None if mentions is None else [from_db(m) for m in mentions],
                                     "mention_names": caption_mentions(caption)}
    return p


def outbox(dsn: str) -> list[tuple[int, dict]]:
    with psycopg.connect(dsn) as conn:
        return [(i, orjson.loads(text)) for i, text in conn.execute("SELECT id, event::text FROM outbox ORDER BY id")]


def assert_same_state(actual: Platform, expected: Platform) -> None:
    assert actual.users == expected.users
    assert actual.follows == expected.follows
    assert actual.blocks == expected.blocks
    assert actual.likes == expected.likes
    assert actual.places == expected.places
    assert {m: actual.document("media", m) for m in actual.media} == {m: expected.document("media", m) for m in expected.media}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(history=event_lists(40))
def test_apply_mirrors_the_model_and_appends_the_outbox_in_order(pg_dsn: str, history: list[dict]) -> None:
    """The platform is one database: its commits come one after another in time, so `ts` increases here.
    It publishes hashtags normalized and mentions as sent (the outbox check), so its tables are
    compared with the model fed the events it published."""
    dsn = pg_dsn
    history = [{**e, "ts": n} for n, e in enumerate(history)]
    with PlatformDB(dsn) as db:
        with db.pool.connection() as conn:
            truncate(conn)
        ids = [db.apply(e) for e in history]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert_outbox_is(dsn, history)
    model = Platform()
    for _, published in outbox(dsn):
        model.apply(validate(published))
    assert_same_state(tables(dsn), model)


def assert_outbox_is(dsn: str, history: list[dict]) -> None:
    """The outbox holds the events in order, media with the hashtags the model derived and the mentions
    as sent: explicit ids, or none, which leaves the caption's names to whoever holds them when read."""
    replay = Platform()
    for (_, sent), event in zip(outbox(dsn), history, strict=True):
        event = validate(event)
        replay.apply(event)
        if event["op"] == "media.upsert":
            media = replay.media[event["media"]["id"]]
            event = {**event, "media": {**event["media"], "hashtags": media["hashtags"]}}
            if media["explicit_mentions"] is not None:
                event["media"]["mentions"] = media["explicit_mentions"]
        assert sent == event


def test_bulk_load_then_changes_mirror_the_model_with_64_bit_ids(pg_dsn: str) -> None:
    events = list(generate(TINY, 9))
    snapshot_size = sum(1 for _ in generate(TINY, 9, changes=False))
    big = {"op": "user.upsert", "ts": 1, "user": {"id": 2**64 - 1, "username": "max", "full_name": "Max Ünsigned",
                                                    "is_private": False, "is_verified": True}}
    with PlatformDB(pg_dsn) as db:
        assert db.bulk_load([big, *events[:snapshot_size]]) == snapshot_size + 1
        for e in events[snapshot_size:]:
            db.apply(e)
    assert_outbox_is(pg_dsn, [big, *events])
    model = Platform()
    for _, published in outbox(pg_dsn):
        model.apply(validate(published))
    assert_same_state(tables(pg_dsn), model)
    assert 2**64 - 1 in tables(pg_dsn).users and to_db(2**64 - 1) == -1


def test_caption_mentions_stay_names_and_follow_the_holder_through_a_rebuild(pg_dsn: str, tmp_path) -> None:
    """docs/events.md: a caption's `@name` points to whoever holds the name now, also in an index
    rebuilt from the platform's tables (which keep names, not the ids they pointed to when written)."""
    history = [
        {"op": "user.upsert", "ts": 1, "user": {"id": 2**63 + 5, "username": "Zoë", "full_name": ""}},
        {"op": "media.upsert", "ts": 2, "media": {"id": 1, "owner": 9, "caption": "hi @zoe @ann", "taken_at": 0}},
        {"op": "user.upsert", "ts": 3, "user": {"id": 7, "username": "zoe", "full_name": ""}},
        {"op": "user.upsert", "ts": 4, "user": {"id": 8, "username": "ann", "full_name": ""}},
        {"op": "media.upsert", "ts": 5, "media": {"id": 2, "owner": 9, "caption": "@ZOE and @ann.", "taken_at": 0,
                                                   "mentions": [8, 8]}},
        {"op": "user.upsert", "ts": 6, "user": {"id": 7, "username": "zed", "full_name": ""}},
    ]
    with PlatformDB(pg_dsn) as db:
        with db.pool.connection() as conn:
            truncate(conn)
        for e in history:
            db.apply(e)
    media = tables(pg_dsn).media
    assert (media[1]["explicit_mentions"], media[2]["explicit_mentions"]) == (None, [8])
    model = Platform()
    for e in history:
        model.apply(validate(e))
    assert model.mentions(1) == [2**63 + 5, 8]  # zoe: only Zoë holds it after the rename; ann: 8
    rebuild(pg_dsn, tmp_path, progress=False)
    index = Index(paths.index(tmp_path), readonly=True)
    try:
        with index.reader() as view:
            assert view.doc("media", view.iid("media", 1))["mentions"] == model.mentions(1)
            assert view.doc("media", view.iid("media", 2))["mentions"] == model.mentions(2) == [8]
    finally:
        index.close()


def test_invalid_events_raise_and_write_nothing(pg_dsn: str) -> None:
    with PlatformDB(pg_dsn) as db:
        db.apply({"op": "follow.add", "ts": 1, "follower": 1, "followee": 2})
        with pytest.raises(EventError, match="followee"):
            db.apply({"op": "follow.add", "ts": 2, "follower": 1, "followee": -3})
        with pytest.raises(ValueError, match="empty"):
            db.bulk_load([{"op": "follow.add", "ts": 3, "follower": 4, "followee": 5}])
    assert tables(pg_dsn).follows == {(1, 2)}
    assert len(outbox(pg_dsn)) == 1


def test_bulk_load_rejects_a_non_creating_event_and_loads_nothing(pg_dsn: str) -> None:
    with PlatformDB(pg_dsn) as db:
        with pytest.raises(ValueError, match="follow.remove"):
            db.bulk_load([{"op": "follow.add", "ts": 1, "follower": 1, "followee": 2},
                          {"op": "follow.remove", "ts": 2, "follower": 1, "followee": 2}])
        with pytest.raises(EventError):
            db.bulk_load([{"op": "follow.add", "ts": 1, "follower": 1}])
    assert tables(pg_dsn).follows == set() and outbox(pg_dsn) == []
