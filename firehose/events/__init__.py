"""docs/events.md events: the registry of event types (registry.py), the typed fields they are
made of (schema.py), and validation and encodings generated from them (codec.py)."""

from firehose.events.codec import (
    EventError,
    from_msgpack,
    parse_json_line,
    to_json_line,
    to_msgpack,
    validate,
)
from firehose.events.registry import (
    BLOCK_ADD,
    BLOCK_REMOVE,
    FOLLOW_ADD,
    FOLLOW_REMOVE,
    LIKE_ADD,
    LIKE_REMOVE,
    MEDIA_DELETE,
    MEDIA_UPSERT,
    PLACE_UPSERT,
    REGISTRY,
    USER_DELETE,
    USER_UPSERT,
    Event,
    EventType,
    Handlers,
    partition_key,
)
from firehose.events.schema import MAX_ID

__all__ = [
    "BLOCK_ADD", "BLOCK_REMOVE", "FOLLOW_ADD", "FOLLOW_REMOVE", "LIKE_ADD", "LIKE_REMOVE", "MAX_ID", "MEDIA_DELETE",
    "MEDIA_UPSERT", "PLACE_UPSERT", "REGISTRY", "USER_DELETE", "USER_UPSERT", "Event", "EventError", "EventType",
    "Handlers", "from_msgpack", "parse_json_line", "partition_key", "to_json_line", "to_msgpack", "validate",
]
