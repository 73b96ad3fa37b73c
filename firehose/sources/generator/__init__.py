"""A deterministic synthetic platform as docs/events.md canonical events.

`SyntheticPlatform(scale, seed)` yields the initial platform (`snapshot()`: places, users,
follows, blocks, media, likes) and then a stream of later changes (`changes()`). The same
(scale, seed) gives the same events for a given Faker version.

Modules: scales (how big), pools (names and words from Faker), graph (the platform as arrays),
snapshot (its events and the initial platform), changes (the change stream), platform (both).
"""

from __future__ import annotations

from collections.abc import Iterator

from firehose.events import Event
from firehose.sources.generator.graph import MEDIA_ID0, PLACE_ID0, T0, user_id
from firehose.sources.generator.platform import SyntheticPlatform
from firehose.sources.generator.pools import Pools
from firehose.sources.generator.scales import SCALES, Scale

_Pools = Pools  # bench.typos builds a platform's names without its events

__all__ = ["MEDIA_ID0", "PLACE_ID0", "SCALES", "T0", "Pools", "Scale", "SyntheticPlatform", "generate", "user_id"]


def generate(scale: str | Scale, seed: int = 0, *, changes: bool = True) -> Iterator[Event]:
    """The platform's events: the initial snapshot, then (unless `changes=False`) the change stream."""
    platform = SyntheticPlatform(scale, seed)
    return platform.events() if changes else platform.snapshot()
