"""The registry of event types: each docs/events.md event type is one entry here, its typed
schema, its partition key (the Kafka message key of docs/events.md) and its name (`op`).

Everything that reads or writes events takes the list of types from here: the decoders
(firehose.events.codec), the transports' partitioning, Slipstream's handlers, the sources.
A consumer that acts on every type keeps its handlers in a `Handlers`, one per type; the
test suite checks that each such table covers the registry (ARCHITECTURE.md, "Adding an event type").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from firehose.events.schema import Id, Media, Place, Record, Time, User

Event = dict[str, Any]


class EventBody(Record, tag_field="op"):
    """The fields every event has besides `op`, which is the tag naming its type."""

    ts: Time


class EventType:
    """One event type: `name` (the `op`), `schema` (its msgspec Struct) and `key`, the dotted
    path of its partition key in the event."""

    def __init__(self, schema: type[EventBody], key: str) -> None:
        self.schema = schema
        self.name: str = schema.__struct_config__.tag
        self.key = key
        self._steps = tuple(key.split("."))

    def partition_key(self, event: Event) -> int:
        value: Any = event
        for step in self._steps:
            value = value[step]
        return value

    def make(self, ts: int, **fields: Any) -> Event:
        """The canonical event of this type with fields that are already canonical (a source's own data)."""
        return {"op": self.name, "ts": ts, **fields}

    def __repr__(self) -> str:
        return f"EventType({self.name!r})"


REGISTRY: dict[str, EventType] = {}


def register(schema: type[EventBody], key: str) -> EventType:
    entry = EventType(schema, key)
    if entry.name in REGISTRY:
        raise ValueError(f"event type {entry.name!r} is registered twice")
    REGISTRY[entry.name] = entry
    return entry


class UserUpsert(EventBody, tag="user.upsert"):
    user: User


class UserDelete(EventBody, tag="user.delete"):
    id: Id


class FollowAdd(EventBody, tag="follow.add"):
    follower: Id
    followee: Id


class FollowRemove(EventBody, tag="follow.remove"):
    follower: Id
    followee: Id


class BlockAdd(EventBody, tag="block.add"):
    blocker: Id
    blocked: Id


class BlockRemove(EventBody, tag="block.remove"):
    blocker: Id
    blocked: Id


class PlaceUpsert(EventBody, tag="place.upsert"):
    place: Place


class MediaUpsert(EventBody, tag="media.upsert"):
    media: Media


class MediaDelete(EventBody, tag="media.delete"):
    id: Id
    owner: Id


class LikeAdd(EventBody, tag="like.add"):
    user: Id
    media: Id


class LikeRemove(EventBody, tag="like.remove"):
    user: Id
    media: Id


USER_UPSERT = register(UserUpsert, key="user.id")
USER_DELETE = register(UserDelete, key="id")
FOLLOW_ADD = register(FollowAdd, key="follower")
FOLLOW_REMOVE = register(FollowRemove, key="follower")
BLOCK_ADD = register(BlockAdd, key="blocker")
BLOCK_REMOVE = register(BlockRemove, key="blocker")
PLACE_UPSERT = register(PlaceUpsert, key="place.id")
MEDIA_UPSERT = register(MediaUpsert, key="media.owner")
MEDIA_DELETE = register(MediaDelete, key="owner")
LIKE_ADD = register(LikeAdd, key="user")
LIKE_REMOVE = register(LikeRemove, key="user")


def partition_key(event: Event) -> int:
    """The acting user (docs/events.md): all events of one entity share a partition and keep their order."""
    return REGISTRY[event["op"]].partition_key(event)


H = TypeVar("H", bound=Callable[..., Any])


class Handlers(Generic[H]):
    """A consumer's handler of each event type, registered once per type with `@handlers.on(TYPE)`."""

    def __init__(self, consumer: str) -> None:
        self.consumer = consumer
        self._by_name: dict[str, H] = {}

    def on(self, event_type: EventType) -> Callable[[H], H]:
        def register_handler(handler: H) -> H:
            if event_type.name in self._by_name:
                raise ValueError(f"{self.consumer} has two handlers of {event_type.name}")
            self._by_name[event_type.name] = handler
            return handler
        return register_handler

    def __getitem__(self, name: str) -> H:
        return self._by_name[name]

    def missing(self) -> list[str]:
        """The registered event types this consumer has no handler of."""
        return [name for name in REGISTRY if name not in self._by_name]

    def unknown(self) -> list[str]:
        """Handled names that are not registered event types."""
        return [name for name in self._by_name if name not in REGISTRY]
