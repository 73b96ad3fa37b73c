"""The typed fields and entities that docs/events.md events are made of (msgspec Structs).

Each field type carries its description, which is what a refused event's reason says was
expected. msgspec checks everything but the top of the id range (its integer bounds stop at
int64), which `Record` checks after decoding.
"""

from __future__ import annotations

import sys
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

import msgspec
from msgspec import UNSET, Meta, UnsetType

MAX_ID = 2**64 - 1

Id = Annotated[int, Meta(ge=0, description="an unsigned 64-bit integer id")]
Time = Annotated[int, Meta(ge=-(2**63), le=2**63 - 1, description="a 64-bit integer")]
Number = Annotated[float, Meta(ge=-sys.float_info.max, le=sys.float_info.max, description="a finite number")]
Text = Annotated[str, Meta(description="a string")]
Flag = Annotated[bool, Meta(description="a boolean")]
Hashtags = Annotated[list[Text], Meta(description="a list of strings")]
Mentions = Annotated[list[Id], Meta(description="a list of user ids")]


class Record(msgspec.Struct):
    """A typed object of an event: unknown fields are ignored; ids past 2**64 - 1 are refused."""

    def __post_init__(self) -> None:
        for name in id_fields(type(self)):
            value = getattr(self, name)
            if isinstance(value, int) and value > MAX_ID:
                raise ValueError(f"field `{name}` is out of range")
            if isinstance(value, list):
                for index, item in enumerate(value):
                    if item > MAX_ID:
                        raise ValueError(f"field `{name}` at {index} is out of range")


class User(Record):
    id: Id
    username: Text
    full_name: Text = ""
    is_private: Flag = False
    is_verified: Flag = False


class Place(Record):
    id: Id
    name: Text
    city: Text = ""
    country: Text = ""
    lat: Number = 0.0
    lng: Number = 0.0


class Media(Record, kw_only=True):
    """`hashtags` and `mentions` are absent from the canonical event unless given (not null)."""

    id: Id
    owner: Id
    caption: Text = ""
    taken_at: Time
    place: Id | None = None
    hashtags: Hashtags | None | UnsetType = UNSET
    mentions: Mentions | None | UnsetType = UNSET

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.hashtags is None:
            self.hashtags = UNSET
        if self.mentions is None:
            self.mentions = UNSET


def field_types(record: type[Record]) -> dict[str, Any]:
    return get_type_hints(record, include_extras=True)


def unwrap(tp: Any) -> Any:
    """The type a value of `tp` has when present: without `None` or `UNSET`."""
    if get_origin(tp) is Union:
        present = [arg for arg in get_args(tp) if arg not in (type(None), UnsetType)]
        if len(present) == 1:
            return present[0]
    return tp


@cache
def id_fields(record: type[Record]) -> tuple[str, ...]:
    return tuple(name for name, tp in field_types(record).items() if unwrap(tp) in (Id, Mentions))


def describe(tp: Any) -> str:
    """What a value of the field type `tp` is, in words."""
    tp = unwrap(tp)
    for meta in get_args(tp)[1:]:
        if isinstance(meta, Meta) and meta.description:
            return meta.description
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return "an object"
    return str(tp)


def element(tp: Any, step: str | int) -> Any:
    """The type of `step` (a field name, or a list index) inside a value of type `tp`, or None."""
    tp = unwrap(tp)
    if get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if isinstance(step, int):
        return get_args(tp)[0] if get_origin(tp) is list else None
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return field_types(tp).get(step)
    return None
