"""A viewer's circle: their visible followees F and the 2-hop counts |follower:c & F|, as of one snapshot,
and the SPEC §6 `social` context of a user result (who of F follow it).

The 2-hop counts are counted over all of F in the in-memory follow graph (unicorn.graph): one
gather of F's rows and one count. A newer snapshot renews a circle when F and the graph rows of F
are unchanged, and rebuilds it otherwise, so a live indexer committing many generations does not make
every viewer pay a rebuild. `Circles` keeps the latest circle per viewer, least recently used out.
"""

from __future__ import annotations

import copy
import threading

import numpy as np
from cachetools import LRUCache
from pyroaring import AbstractBitMap, FrozenBitMap

from unicorn.graph import FollowGraph, bitmap
from unicorn.query import rank
from vocabulary import terms

SHOWN = 3  # followees named in a result's social context


class Circle:
    """Viewer V's visible followees F and the 2-hop counts |follower:c & F|, as of one snapshot."""

    def __init__(self, view, viewer: int | None, visible_users: AbstractBitMap, graph: FollowGraph) -> None:
        self.viewer = viewer
        self.names: dict[int, dict] = {}  # followee iid -> {"id", "username", "full_name"}
        self.followees = _followees(view, viewer, visible_users)
        self.followee_ids = rank.as_array(self.followees)
        self._graph = graph
        snapshot = graph.at(view)
        self.hop_ids, self.hop_counts = snapshot.hop_counts(view, self.followees)
        self.hop = bitmap(self.hop_ids)
        self._seen = snapshot.seen(view, self.followees)  # the graph rows counted

    def renewed(self, view, visible_users: AbstractBitMap) -> Circle | None:
        """This circle for a newer snapshot when F and the graph rows of F are unchanged in it, else None."""
        if _followees(view, self.viewer, visible_users) != self.followees:
            return None
        if not self._graph.at(view).unchanged(self._seen, self.followees):
            return None
        fresh = copy.copy(self)
        fresh.names = {}  # followees may have been renamed
        return fresh

    def mutuals(self, ids: np.ndarray) -> np.ndarray:
        """The 2-hop count of each id (0 outside the 2-hop set)."""
        if not len(self.hop_ids):
            return np.zeros(len(ids), np.int64)
        at = np.minimum(np.searchsorted(self.hop_ids, ids), len(self.hop_ids) - 1)
        return np.where(self.hop_ids[at] == ids, self.hop_counts[at], 0)

    def context(self, view, iid: int, ext: int) -> dict:
        """SPEC §6 `social` of one user result: only visible followees are counted or named."""
        if iid not in self.hop:
            return {"following": iid in self.followees, "followed_by_count": 0, "followed_by": []}
        via = view.posting("user", terms.follower(ext)) & self.followees
        shown = rank.as_array(via)
        if len(shown) > 1:
            cols = view.rank("user")
            shown = shown[np.lexsort((cols.ext_id[shown], -cols.count[shown]))[:SHOWN]]
        return {"following": iid in self.followees, "followed_by_count": len(via),
                "followed_by": [self._name(view, f) for f in shown.tolist()]}

    def _name(self, view, iid: int) -> dict:
        name = self.names.get(iid)
        if name is None:
            doc = view.doc("user", iid)
            name = self.names[iid] = {"id": str(doc["id"]), "username": doc["username"], "full_name": doc["full_name"]}
        return name


def _followees(view, viewer: int | None, visible_users: AbstractBitMap) -> FrozenBitMap:
    if viewer is None:
        return FrozenBitMap()
    return FrozenBitMap(view.posting("user", terms.following(viewer)) & visible_users)


class Circles:
    """The latest circle per viewer (renewed or rebuilt for newer snapshots), least recently used viewers out."""

    def __init__(self, size: int = 1024) -> None:
        self._circles: LRUCache = LRUCache(size)  # viewer -> (gen, circle)
        self.graph = FollowGraph()
        self._lock = threading.Lock()

    def get(self, view, viewer: int | None, visible_users: AbstractBitMap) -> Circle:
        """The viewer's circle as of `view`; `visible_users` is the viewer's visible users in `view`."""
        with self._lock:
            known = self._circles.get(viewer)
            if known is not None and known[0] == view.gen:
                return known[1]
        made = known[1].renewed(view, visible_users) if known is not None and known[0] < view.gen else None
        made = made or Circle(view, viewer, visible_users, self.graph)
        with self._lock:
            latest = self._circles.get(viewer)
            if latest is None or latest[0] <= view.gen:  # an older snapshot's circle never replaces a newer one
                self._circles[viewer] = (view.gen, made)
        return made
