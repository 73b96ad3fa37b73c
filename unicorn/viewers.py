"""A request's viewer, resolved once: what they may see (docs/privacy.md) and, on first use, their circle.

Every stage of one request (planning, evaluation, ranking, the typeahead's social context) reads
the same `Viewer`. `Viewers` holds an index's viewer caches: the privacy sets per (generation,
viewer) and the circles, one of each per engine. On an index shard the viewer comes with its context
(unicorn.context), resolved by the aggregator over all shards.
"""

from __future__ import annotations

from unicorn.circle import Circle, Circles, ShardCircle
from unicorn.context import ViewerContext
from unicorn.query import privacy


class Viewer:
    def __init__(self, view, id: int | None, visibility: privacy.Visibility, circles: Circles,
                 context: ViewerContext | None = None) -> None:
        self.id = id  # the external user id; None is the admin, who sees all that is live
        self.visibility = visibility
        self._view, self._circles, self._context = view, circles, context
        self._circle: Circle | ShardCircle | None = None

    @property
    def circle(self) -> Circle | ShardCircle:
        """The viewer's visible followees and 2-hop counts in this request's snapshot."""
        if self._circle is None:
            self._circle = self._circles.get(self._view, self.id, self.visibility.visible["user"], self._context)
        return self._circle


class Viewers:
    def __init__(self, size: int = 1024) -> None:
        self.privacy = privacy.Cache(size)
        self.circles = Circles(size)

    def resolve(self, view, viewer: int | None, context: ViewerContext | None = None) -> Viewer:
        """The viewer's context in snapshot `view`: from the index, or on an index shard from the `context` the
        aggregator resolved (unicorn.context; then `viewer` is its viewer)."""
        return Viewer(view, viewer, self.privacy.get(view, viewer, context), self.circles, context)
