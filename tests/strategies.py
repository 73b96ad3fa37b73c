"""Hypothesis strategies for SPEC §2 event sequences over small id spaces (so they collide)."""

from __future__ import annotations

import functools

from hypothesis import strategies as st

from firehose.events import validate

USER_IDS = st.integers(1, 6)
MEDIA_IDS = st.integers(100, 106)
PLACE_IDS = st.integers(200, 202)
NAMES = ["jo", "Joe", "jon.doe", "Zoë", "Ångström", "bob_smith", "li", "JOHANNA", "jonathanathan", "东京", "o'neil"]
WORDS = ["sunset", "Sunset", "café", "beach", "#sunset", "#Café_Paris", "#beach", "@jo", "@joe", "@zoë", "🌅", "#jonathanathan"]

names = st.sampled_from(NAMES)
caption = st.lists(st.sampled_from(WORDS), max_size=5).map(" ".join)


@st.composite
def user_upsert(draw):
    full = " ".join(draw(st.lists(names, min_size=0, max_size=2)))
    return {"op": "user.upsert", "ts": 0, "user": {
        "id": draw(USER_IDS), "username": draw(names), "full_name": full,
        "is_private": draw(st.booleans()), "is_verified": draw(st.booleans())}}


@st.composite
def media_upsert(draw):
    media = {"id": draw(MEDIA_IDS), "owner": draw(USER_IDS), "caption": draw(caption),
             "taken_at": draw(st.integers(0, 5)), "place": draw(st.none() | PLACE_IDS)}
    if draw(st.booleans()):
        media["hashtags"] = draw(st.lists(st.sampled_from(["sunset", "#Beach", "Café_Paris", ""]), max_size=3))
    if draw(st.booleans()):
        media["mentions"] = draw(st.lists(USER_IDS, max_size=3))
    return {"op": "media.upsert", "ts": 0, "media": media}


@st.composite
def place_upsert(draw):
    return {"op": "place.upsert", "ts": 0, "place": {
        "id": draw(PLACE_IDS), "name": draw(st.sampled_from(["Café de Flore", "Tokyo Tower", "Jo's Bar"])),
        "city": draw(st.sampled_from(["Paris", "Tokyo", "São Paulo"])), "country": "X", "lat": 1.0, "lng": 2.0}}


def _pair(op, a, b, left, right):
    return st.builds(lambda x, y: {"op": op, "ts": 0, a: x, b: y}, left, right)


@functools.cache
def event() -> st.SearchStrategy[dict]:
    """One SPEC §2 event (built once: rebuilding strategies for every draw is slow)."""
    return st.one_of(
        user_upsert(), user_upsert(), media_upsert(), media_upsert(), place_upsert(),
        st.builds(lambda i: {"op": "user.delete", "ts": 0, "id": i}, USER_IDS),
        st.builds(lambda i, o: {"op": "media.delete", "ts": 0, "id": i, "owner": o}, MEDIA_IDS, USER_IDS),
        _pair("follow.add", "follower", "followee", USER_IDS, USER_IDS),
        _pair("follow.add", "follower", "followee", USER_IDS, USER_IDS),
        _pair("follow.remove", "follower", "followee", USER_IDS, USER_IDS),
        _pair("block.add", "blocker", "blocked", USER_IDS, USER_IDS),
        _pair("block.remove", "blocker", "blocked", USER_IDS, USER_IDS),
        _pair("like.add", "user", "media", USER_IDS, MEDIA_IDS),
        _pair("like.remove", "user", "media", USER_IDS, MEDIA_IDS),
    ).map(validate)


ACTOR = {"user.upsert": lambda e: e["user"]["id"], "user.delete": lambda e: e["id"],
         "follow.add": lambda e: e["follower"], "follow.remove": lambda e: e["follower"],
         "block.add": lambda e: e["blocker"], "block.remove": lambda e: e["blocker"],
         "like.add": lambda e: e["user"], "like.remove": lambda e: e["user"],
         "media.upsert": lambda e: e["media"]["owner"], "media.delete": lambda e: e["owner"],
         "place.upsert": lambda e: ("place", e["place"]["id"])}


@st.composite
def events(draw, max_size: int = 80):
    """Sequences long enough for entities to meet (hypothesis otherwise favours very short lists).

    `ts` varies: it never goes back for one acting user (SPEC §2's Kafka key, one partition's order)
    but may across them, as partitions meet in any order, so event-time deletes are exercised."""
    clock: dict = {}
    stream = []
    for e in draw(st.lists(event(), min_size=max_size // 4, max_size=max_size)):
        actor = ACTOR[e["op"]](e)
        clock[actor] = max(clock.get(actor, 0), draw(st.integers(0, 30)))
        stream.append({**e, "ts": clock[actor]})
    return stream
