"""The docs/events.md event schema: validation, and JSON Lines / msgpack encodings.

`validate` returns a canonical event (a plain dict with only the known fields, defaults
filled in) or raises `EventError` with the reason. Everything downstream relies on it.
"""

from __future__ import annotations

import math
from typing import Any

import msgpack
import orjson

SCHEMA_VERSION = 1
MAX_ID = 2**64 - 1

Event = dict[str, Any]


class EventError(ValueError):
    """An event that is not valid per docs/events.md; the message is the dead-letter reason."""


def _id(obj: dict, key: str, where: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise EventError(f"{where}{key}: expected an unsigned 64-bit integer id, got {value!r}")
    return value


def _opt_id(obj: dict, key: str, where: str) -> int | None:
    return None if obj.get(key) is None else _id(obj, key, where)


def _str(obj: dict, key: str, where: str, default: str | None = None) -> str:
    value = obj.get(key, default)
    if not isinstance(value, str):
        raise EventError(f"{where}{key}: expected a string, got {value!r}")
    return value


def _bool(obj: dict, key: str, where: str) -> bool:
    value = obj.get(key, False)
    if not isinstance(value, bool):
        raise EventError(f"{where}{key}: expected a boolean, got {value!r}")
    return value


def _num(obj: dict, key: str, where: str) -> float:
    value = obj.get(key, 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise EventError(f"{where}{key}: expected a finite number, got {value!r}")
    return float(value)


def _int(obj: dict, key: str, where: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise EventError(f"{where}{key}: expected a 64-bit integer, got {value!r}")
    return value


def _entity(event: dict, key: str) -> dict:
    value = event.get(key)
    if not isinstance(value, dict):
        raise EventError(f"{key}: expected an object, got {value!r}")
    return value


def _user(event: dict) -> dict:
    u = _entity(event, "user")
    return {
        "id": _id(u, "id", "user."),
        "username": _str(u, "username", "user."),
        "full_name": _str(u, "full_name", "user.", ""),
        "is_private": _bool(u, "is_private", "user."),
        "is_verified": _bool(u, "is_verified", "user."),
    }


def _place(event: dict) -> dict:
    p = _entity(event, "place")
    return {
        "id": _id(p, "id", "place."),
        "name": _str(p, "name", "place."),
        "city": _str(p, "city", "place.", ""),
        "country": _str(p, "country", "place.", ""),
        "lat": _num(p, "lat", "place."),
        "lng": _num(p, "lng", "place."),
    }


def _media(event: dict) -> dict:
    m = _entity(event, "media")
    media = {
        "id": _id(m, "id", "media."),
        "owner": _id(m, "owner", "media."),
        "caption": _str(m, "caption", "media.", ""),
        "taken_at": _int(m, "taken_at", "media."),
        "place": _opt_id(m, "place", "media."),
    }
    if m.get("hashtags") is not None:
        tags = m["hashtags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise EventError(f"media.hashtags: expected a list of strings, got {tags!r}")
        media["hashtags"] = tags
    if m.get("mentions") is not None:
        mentions = m["mentions"]
        if not isinstance(mentions, list):
            raise EventError(f"media.mentions: expected a list of user ids, got {mentions!r}")
        media["mentions"] = [_id({"m": x}, "m", "media.mentions[]: ") for x in mentions]
    return media


def _pair(a: str, b: str):
    return lambda e: {a: _id(e, a, ""), b: _id(e, b, "")}


_BODIES = {
    "user.upsert": lambda e: {"user": _user(e)},
    "user.delete": lambda e: {"id": _id(e, "id", "")},
    "follow.add": _pair("follower", "followee"),
    "follow.remove": _pair("follower", "followee"),
    "block.add": _pair("blocker", "blocked"),
    "block.remove": _pair("blocker", "blocked"),
    "place.upsert": lambda e: {"place": _place(e)},
    "media.upsert": lambda e: {"media": _media(e)},
    "media.delete": lambda e: {"id": _id(e, "id", ""), "owner": _id(e, "owner", "")},
    "like.add": _pair("user", "media"),
    "like.remove": _pair("user", "media"),
}

OPS = frozenset(_BODIES)


def validate(obj: Any) -> Event:
    """The canonical form of a docs/events.md event, or `EventError` naming what is wrong."""
    if not isinstance(obj, dict):
        raise EventError(f"expected a JSON object, got {type(obj).__name__}")
    op = obj.get("op")
    if not isinstance(op, str) or op not in _BODIES:
        raise EventError(f"op: unknown operation {op!r}")
    event = {"op": op, "ts": _int(obj, "ts", "")}
    event.update(_BODIES[op](obj))
    return event


def partition_key(event: Event) -> int:
    """The acting user (docs/events.md): all events of one entity share a partition and keep their order."""
    op = event["op"]
    if op == "user.upsert":
        return event["user"]["id"]
    if op == "user.delete":
        return event["id"]
    if op.startswith("follow."):
        return event["follower"]
    if op.startswith("block."):
        return event["blocker"]
    if op.startswith("like."):
        return event["user"]
    if op == "media.upsert":
        return event["media"]["owner"]
    if op == "media.delete":
        return event["owner"]
    return event["place"]["id"]


def parse_json_line(line: bytes | str) -> Event:
    """One JSON Lines record -> canonical event, or `EventError`."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise EventError(f"not JSON: {exc}") from None
    return validate(obj)


def to_json_line(event: Event) -> bytes:
    return orjson.dumps(event) + b"\n"


def to_msgpack(event: Event) -> bytes:
    return msgpack.packb(event, use_bin_type=True)


def from_msgpack(payload: bytes) -> Event:
    """A wire record -> canonical event, or `EventError`."""
    try:
        obj = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except Exception as exc:  # msgpack raises several unrelated types on garbage
        raise EventError(f"not msgpack: {exc}") from None
    return validate(obj)
