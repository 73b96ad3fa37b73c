"""Stage 1, the pre-processor: attach to a media event what the parser's filters need.

Contract: `preprocess(batch, event) -> Enriched | None`. For a `media.upsert` it reads the owner
as of the index state at that event (the caller runs it right after Slipstream applied the event,
inside the batch's write transaction, through the `WriteBatch` API) and returns the event with the
owner's internal id, liveness and privacy; any other event gives None.
"""

from __future__ import annotations

from typing import NamedTuple

from firehose.events import Event


class Enriched(NamedTuple):
    ts: int  # the event's time, ms
    media: dict  # the docs/events.md `media` object, as the event carries it
    owner: int | None  # the owner's internal user id; None when the index has never seen the owner
    owner_live: bool  # the owner's user document exists
    owner_public: bool  # ... and is not private


def preprocess(batch, event: Event) -> Enriched | None:
    if event["op"] != "media.upsert":
        return None
    media = event["media"]
    owner = batch.iid("user", media["owner"])
    doc = batch.doc("user", owner) if owner is not None else None
    return Enriched(event["ts"], media, owner, doc is not None, doc is not None and not doc["is_private"])
