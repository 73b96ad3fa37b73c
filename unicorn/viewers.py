"""A request's viewer, resolved once: what they may see (docs/privacy.md) and, on first use, their circle.

Every stage of one request (planning, evaluation, ranking, the typeahead's social context) reads
the same `Viewer`. `Viewers` holds an index's viewer caches: the privacy sets per (generation,
viewer) and the circles, one of each per engine.
"""

from __future__ import annotations

from unicorn.circle import Circle, Circles
from unicorn.query import privacy


class Viewer:
    def __init__(self, view, id: int | None, visibility: privacy.Visibility, circles: Circles) -> None:
        self.id = id  # the external user id; None is the admin, who sees all that is live
        self.visibility = visibility
        self._view, self._circles = view, circles
        self._circle: Circle | None = None

    @property
    def circle(self) -> Circle:
        """The viewer's visible followees and 2-hop counts in this request's snapshot."""
        if self._circle is None:
            self._circle = self._circles.get(self._view, self.id, self.visibility.visible["user"])
        return self._circle


class Viewers:
    def __init__(self, size: int = 1024) -> None:
        self.privacy = privacy.Cache(size)
        self.circles = Circles(size)

    def resolve(self, view, viewer: int | None) -> Viewer:
        """The viewer's context in snapshot `view`."""
        return Viewer(view, viewer, self.privacy.get(view, viewer), self.circles)
