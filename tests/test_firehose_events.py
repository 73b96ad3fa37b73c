"""The registry of event types (firehose/events): one entry per SPEC §2 type, validation generated
from its typed schema, and one handler per type in every consumer that acts on each type."""

from __future__ import annotations

import msgpack
import pytest

from firehose.events import REGISTRY, EventError, EventType, Handlers, from_msgpack, partition_key, validate
from firehose.events.registry import EventBody
from firehose.events.schema import Id
from firehose.sources import postgres
from slipstream import apply as slipstream

SPEC_TYPES = {"user.upsert", "user.delete", "follow.add", "follow.remove", "block.add", "block.remove",
              "place.upsert", "media.upsert", "media.delete", "like.add", "like.remove"}  # SPEC §2 table
CONSUMERS = {"slipstream": slipstream.handlers, "the PostgreSQL platform": postgres.applies}


def test_the_registry_holds_the_spec_types():
    assert set(REGISTRY) == SPEC_TYPES
    assert all(entry.name == name for name, entry in REGISTRY.items())


@pytest.mark.parametrize("consumer", CONSUMERS)
def test_every_event_type_has_one_handler_per_consumer(consumer):
    """The guard of ARCHITECTURE.md "Adding an event type": a type without a handler fails here;
    a second handler of a type fails when its module is imported (`Handlers.on`)."""
    handlers = CONSUMERS[consumer]
    assert handlers.missing() == [] and handlers.unknown() == []


def test_a_second_handler_of_a_type_is_refused():
    handlers: Handlers = Handlers("a consumer")
    handlers.on(REGISTRY["follow.add"])(lambda event: None)
    with pytest.raises(ValueError, match="a consumer has two handlers of follow.add"):
        handlers.on(REGISTRY["follow.add"])(lambda event: None)


def test_a_new_event_type_is_one_entry_and_the_guard_names_its_missing_handlers(monkeypatch):
    class StoryAdd(EventBody, tag="story.add"):
        user: Id
        story: Id

    monkeypatch.setitem(REGISTRY, "story.add", EventType(StoryAdd, key="user"))
    event = validate({"op": "story.add", "ts": 5, "user": 7, "story": 9, "color": "red"})
    assert event == {"op": "story.add", "ts": 5, "user": 7, "story": 9}
    assert partition_key(event) == 7
    with pytest.raises(EventError, match=r"^story: missing, expected an unsigned 64-bit integer id$"):
        validate({"op": "story.add", "ts": 5, "user": 7})
    assert all(handlers.missing() == ["story.add"] for handlers in CONSUMERS.values())


def test_canonical_events_fill_defaults_and_drop_unknown_and_null_fields():
    assert validate({"op": "place.upsert", "ts": 1, "place": {"id": 3, "name": "P", "lat": 5, "x": 1}, "y": 2}) == {
        "op": "place.upsert", "ts": 1,
        "place": {"id": 3, "name": "P", "city": "", "country": "", "lat": 5.0, "lng": 0.0}}
    assert validate({"op": "media.upsert", "ts": 1, "media": {"id": 1, "owner": 2, "taken_at": 3, "hashtags": None,
                                                              "mentions": [4]}}) == {
        "op": "media.upsert", "ts": 1,
        "media": {"id": 1, "owner": 2, "caption": "", "taken_at": 3, "place": None, "mentions": [4]}}
    assert validate({"op": "user.delete", "ts": -(2**63), "id": 2**64 - 1})["id"] == 2**64 - 1


@pytest.mark.parametrize(("event", "reason"), [
    ({"op": "user.upsert", "ts": 1, "user": {"id": 1}}, "user.username: missing, expected a string"),
    ({"op": "user.upsert", "ts": 1, "user": {"id": 2**64, "username": "a"}},
     "user.id: expected an unsigned 64-bit integer id, got 18446744073709551616"),
    ({"op": "user.upsert", "ts": 1, "user": None}, "user: expected an object, got None"),
    ({"op": "follow.add", "ts": 1, "follower": 1, "followee": True},
     "followee: expected an unsigned 64-bit integer id, got True"),
    ({"op": "follow.add", "ts": 2**63, "follower": 1, "followee": 2}, "ts: expected a 64-bit integer, got 9223372036854775808"),
    ({"op": "media.upsert", "ts": 1, "media": {"id": 1, "owner": 2, "taken_at": 3, "mentions": [1, -2]}},
     "media.mentions[1]: expected an unsigned 64-bit integer id, got -2"),
    ({"op": "media.upsert", "ts": 1, "media": {"id": 1, "owner": 2, "taken_at": 3, "mentions": [1, 2**64]}},
     "media.mentions[1]: expected an unsigned 64-bit integer id, got 18446744073709551616"),
    ({"op": "media.upsert", "ts": 1, "media": {"id": 1, "owner": 2, "taken_at": 3, "hashtags": ["a", 3]}},
     "media.hashtags[1]: expected a string, got 3"),
    ({"op": "place.upsert", "ts": 1, "place": {"id": 1, "name": "p", "lat": float("nan")}},
     "place.lat: expected a finite number, got nan"),
    ({"op": "place.upsert", "ts": 1, "place": {"id": 1, "name": "p", "lng": 10**400}},
     "place.lng: expected a finite number, got 1000000000000000000000000000000000000000000000000000000000000000000000000000"
     "000000000000000000000000... (401 characters)"),
    ({"op": "story.add", "ts": 1}, "op: unknown operation 'story.add'"),
    ([1], "expected a JSON object, got list"),
])
def test_a_refused_event_names_the_field_what_it_should_be_and_what_it_is(event, reason):
    with pytest.raises(EventError) as refused:
        validate(event)
    assert str(refused.value) == reason


def test_non_string_keys_of_a_msgpack_map_are_unknown_fields():
    payload = msgpack.packb({"op": "user.upsert", "ts": 1, 5: 6, "user": {"id": 1, "username": "a", 7: [8]}})
    assert from_msgpack(payload) == validate({"op": "user.upsert", "ts": 1, "user": {"id": 1, "username": "a"}})
