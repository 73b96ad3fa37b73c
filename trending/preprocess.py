"""Stage 1, the pre-processor: attach to each media event what the later stages need.

Contract: `Preprocessor.begin(batch)`; `observe(event)` for every event, in stream order, right
after Slipstream applied it (inside the batch's write transaction, through the `WriteBatch` API);
then `finish() -> (Clock, Enriched)`. `Enriched` holds the batch's `media.upsert` events, one
column per field: each with its owner's internal id, and whether the owner is live and public,
as of the index state at that event, and the stream's clock at that event (`as_of`: the highest `ts` of any event so
far, the scorer's notion of "now"). Other events only move the clock. Per event, `observe` only
appends to the columns: it makes no object the garbage collector would have to track.

The owners it reads are kept between events and batches: only a `user.upsert` or `user.delete`
changes whether a user's document exists and is private (Slipstream), so such an event drops its
user's entry, and a break in the batches' generations (an aborted batch, another writer) drops
them all. The clock commits with the batch:

| aux name | key | value |
|---|---|---|
| `trending.stream` | empty | msgpack `{"as_of", "first"}`: the highest `ts` so far, and the first event's `ts` |
"""

from __future__ import annotations

from typing import NamedTuple

import msgpack

from firehose.events import Event

CLOCK = "trending.stream"
OWNER_CACHE_MAX = 1_000_000  # owners kept between events
_NEVER = float("-inf")  # the clock before any event


class Enriched(NamedTuple):
    """A batch's media events: the i-th is `media[i]` at `ts[i]`, and so on."""

    ts: list[int]  # the event's time, ms
    media: list[dict]  # the docs/events.md `media` object, as the event carries it
    owner: list[int | None]  # the owner's internal user id; None when the index has never seen the owner
    owner_public: list[bool]  # the owner's user document exists and is not private
    as_of: list[int]  # the highest `ts` of the stream up to this event


class Clock(NamedTuple):
    as_of: int | None  # the highest `ts` of the stream so far
    first: int | None  # the `ts` of the stream's first event


def owner_status(batch, owner: int) -> tuple[int | None, bool]:
    """(internal id, live and public) of the user with external id `owner`, as the batch has them."""
    iid = batch.iid("user", owner)
    doc = batch.doc("user", iid) if iid is not None else None
    return iid, doc is not None and not doc["is_private"]


class Preprocessor:
    def __init__(self) -> None:
        self._owners: dict[int, tuple[int, bool]] = {}  # external id -> owner_status
        self._gen: int | None = None
        self._batch = None

    def begin(self, batch) -> None:
        if self._gen != batch.gen - 1:
            self._owners.clear()
            raw = batch.get_aux(CLOCK, b"")
            clock = msgpack.unpackb(raw) if raw is not None else {"as_of": None, "first": None}
            self._as_of = _NEVER if clock["as_of"] is None else clock["as_of"]
            self._first = clock["first"]
        elif len(self._owners) >= OWNER_CACHE_MAX:
            self._owners.clear()
        self._gen = batch.gen
        self._batch = batch
        self._ts: list[int] = []
        self._media: list[dict] = []
        self._owner: list[int | None] = []
        self._owner_public: list[bool] = []
        self._event_as_of: list[int] = []

    def observe(self, event: Event) -> None:
        ts = event["ts"]
        if ts > self._as_of:
            self._as_of = ts
            if self._first is None:
                self._first = ts
        op = event["op"]
        if op == "media.upsert":
            media = event["media"]
            status = self._owners.get(media["owner"])
            if status is None:
                status = self._read_owner(media["owner"])
            self._ts.append(ts)
            self._media.append(media)
            self._owner.append(status[0])
            self._owner_public.append(status[1])
            self._event_as_of.append(self._as_of)
        elif op == "user.upsert":
            self._owners.pop(event["user"]["id"], None)
        elif op == "user.delete":
            self._owners.pop(event["id"], None)

    def _read_owner(self, owner: int) -> tuple[int | None, bool]:
        status = owner_status(self._batch, owner)
        if status[0] is not None:  # an owner without an id yet gets one from any later event
            self._owners[owner] = status
        return status

    def finish(self) -> tuple[Clock, Enriched]:
        """The clock (written into the batch) and the batch's media events, enriched, in order."""
        clock = Clock(None if self._as_of == _NEVER else self._as_of, self._first)
        if clock.as_of is not None:
            self._batch.put_aux(CLOCK, b"", msgpack.packb(clock._asdict()))
        enriched = Enriched(self._ts, self._media, self._owner, self._owner_public, self._event_as_of)
        self._ts, self._media, self._owner, self._owner_public, self._event_as_of = [], [], [], [], []
        return clock, enriched
