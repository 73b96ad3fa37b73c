"""A synthetic platform: its snapshot, then its change stream."""

from __future__ import annotations

from collections.abc import Iterator

from firehose.events import Event
from firehose.sources.generator.changes import ChangeStream
from firehose.sources.generator.snapshot import Snapshot


class SyntheticPlatform(Snapshot):
    """One seeded platform: `snapshot()` then `changes()`; `events()` is both in order."""

    def events(self) -> Iterator[Event]:
        yield from self.snapshot()
        yield from self.changes()

    def changes(self) -> Iterator[Event]:
        """Later activity on top of the snapshot; call after (or instead of) `snapshot()`."""
        return ChangeStream(self).run()
