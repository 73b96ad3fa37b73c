"""Validation and the JSON Lines / msgpack encodings of events, generated from the registry's schemas.

`validate` returns a canonical event (a plain dict with only the known fields, defaults filled
in) or raises `EventError` with the reason, naming the field. Everything downstream relies on it.
"""

from __future__ import annotations

import re
from typing import Any, Union

import msgpack
import msgspec
import orjson

from firehose.events.registry import REGISTRY, Event
from firehose.events.schema import describe, element

_MISSING = object()
# msgspec's refusals end in " - at `$.path[0].to`"; a missing field, or one `Record` finds out of
# range, is named in the text before: "... field `name`", "field `name` at 2 is out of range".
_NON_STRING_KEY = " - at `key` in "
_STEP = re.compile(r"\.(\w+)|\[(\d+)\]")
_FIELD = re.compile(r"field `(\w+)`(?: at (\d+))?")


class EventError(ValueError):
    """An event that is not valid per docs/events.md; the message is the dead-letter reason."""


def validate(obj: Any) -> Event:
    """The canonical form of a docs/events.md event, or `EventError` naming what is wrong."""
    if not isinstance(obj, dict):
        raise EventError(f"expected a JSON object, got {type(obj).__name__}")
    op = obj.get("op")
    entry = REGISTRY.get(op) if isinstance(op, str) else None
    if entry is None:
        raise EventError(f"op: unknown operation {_short(op)}")
    try:
        return msgspec.to_builtins(msgspec.convert(obj, entry.schema))
    except msgspec.ValidationError as exc:
        refusal = str(exc)
    if _NON_STRING_KEY in refusal:  # a msgpack map's non-string keys are unknown fields: ignored
        try:
            return msgspec.to_builtins(msgspec.convert(_string_keys(obj), entry.schema))
        except msgspec.ValidationError as exc:
            refusal = str(exc)
    raise EventError(_reason(entry.schema, obj, refusal))


def _string_keys(obj: dict) -> dict:
    """`obj` without its non-string keys, and those of the objects in it (an event's entities)."""
    return {key: {k: v for k, v in value.items() if isinstance(k, str)} if isinstance(value, dict) else value
            for key, value in obj.items() if isinstance(key, str)}


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


# Every registered type as one tagged union: a well-formed record decodes straight from its bytes.
_DECODER = msgspec.msgpack.Decoder(Union[tuple(entry.schema for entry in REGISTRY.values())])  # noqa: UP007


def from_msgpack(payload: bytes) -> Event:
    """A wire record -> canonical event, or `EventError`. A record the typed decoder refuses goes
    the way of `validate`, which names what is wrong (or takes a map with non-string keys)."""
    try:
        return msgspec.to_builtins(_DECODER.decode(payload))
    except (msgspec.DecodeError, ValueError):
        pass
    try:
        obj = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except Exception as exc:  # msgpack raises several unrelated types on garbage
        raise EventError(f"not msgpack: {exc}") from None
    return validate(obj)


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 120 else f"{shown[:100]}... ({len(shown)} characters)"


def _reason(schema: type, obj: dict, message: str) -> str:
    """The dead-letter reason of an event msgspec refused with `message`: the field, what it
    should be (its type's description in `schema`) and what it is."""
    text, _, where = message.partition(" - at ")
    path: list[str | int] = [name or int(index) for name, index in _STEP.findall(where)]
    shown = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path).removeprefix(".")
    if field := _FIELD.search(text):
        name, index = field.groups()
        path.append(name)
        shown = f"{shown}.{name}".removeprefix(".")
        if index is not None:
            path.append(int(index))
            shown += f"[{index}]"
    tp: Any = schema
    value: Any = obj
    for step in path:
        tp = element(tp, step) if tp is not None else None
        value = _child(value, step)
    if tp is None:
        return f"{shown}: {text}"
    if value is _MISSING:
        return f"{shown}: missing, expected {describe(tp)}"
    return f"{shown}: expected {describe(tp)}, got {_short(value)}"


def _child(value: Any, step: str | int) -> Any:
    if isinstance(step, int):
        return value[step] if isinstance(value, list) and step < len(value) else _MISSING
    return value.get(step, _MISSING) if isinstance(value, dict) else _MISSING
