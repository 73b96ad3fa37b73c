"""Social proximity for users: the typeahead order and the engine's `order: "social"` ranker.

For viewer V, with F the live followees of V that are not hidden from V (SPEC §5), a user c scores

    8 * (c's username equals the typed text)            -- typeahead only
  + 4 * (V follows c)
  + 3 * m / (1 + m)      m = how many of F follow c
  + popularity(followers_count)                         in [0, 1)
  - TYPO * (c was found only through a typo)            -- typeahead only

so an exact username beats everyone, a followee beats every non-followee, any mutual beats any
stranger, popularity orders the rest, and an exact match beats an otherwise equal typo match.
Ties break by the static order (followers desc, id asc).

A `Circle` holds F and the 2-hop counts of a viewer, counted over all of F in the in-memory follow
graph (unicorn.graph): one gather of F's rows and one count. A newer snapshot renews it when F
and the graph rows of F are unchanged, and rebuilds it otherwise, so a live indexer committing
many generations does not make every viewer pay a rebuild. Ranking touches only F & M, the 2-hop
set & M, the exact matches and the best strangers by static order (which the generation's
`popular` list usually supplies), never a whole large match set M.
"""

from __future__ import annotations

import copy
import math
import threading
from collections import OrderedDict

import numpy as np
from pyroaring import AbstractBitMap, FrozenBitMap

from unicorn.graph import FollowGraph, bitmap
from unicorn.query import privacy, rank

EXACT, FOLLOWED, MUTUAL = 8.0, 4.0, 3.0
TYPO = 0.0005  # below every social step (a followee scores >= 4, anyone else < 3 + CAP = 3.999)
POPULAR = 2048  # best users by static order, kept per generation
SHOWN = 3  # followees named in a result's social context
CAP = 0.999


def popularity(count: int) -> float:
    """log10(1 + count) / 7, capped below 1."""
    return min(math.log10(1.0 + count) / 7.0, CAP)


def _popularities(counts: np.ndarray) -> np.ndarray:
    return np.minimum(np.log10(1.0 + counts.astype(np.float64)) / 7.0, CAP)


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
        via = view.posting("user", f"follower:{ext}") & self.followees
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
    return FrozenBitMap(view.posting("user", f"following:{viewer}") & visible_users)


def _member(ids: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """Whether each of `ids` is in the sorted array `sorted_ids` (cheaper than np.isin on small arrays)."""
    if not len(sorted_ids):
        return np.zeros(len(ids), bool)
    at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return sorted_ids[at] == ids


class Social:
    """Circles per viewer (renewed or rebuilt for newer snapshots) and popular users per generation."""

    def __init__(self, size: int = 1024) -> None:
        self.privacy = privacy.Cache(size)
        self.graph = FollowGraph()
        self._size = size
        self._circles: OrderedDict[int | None, tuple[int, Circle]] = OrderedDict()  # viewer -> (gen, circle)
        self._popular: tuple[int, FrozenBitMap] = (-1, FrozenBitMap())
        self._lock = threading.Lock()

    def circle(self, view, viewer: int | None) -> Circle:
        """The viewer's circle as of `view`, least recently used viewers out."""
        with self._lock:
            known = self._circles.get(viewer)
            if known is not None and known[0] == view.gen:
                self._circles.move_to_end(viewer)
                return known[1]
        visible = self.privacy.get(view, viewer).visible["user"]
        made = known[1].renewed(view, visible) if known is not None and known[0] < view.gen else None
        made = made or Circle(view, viewer, visible, self.graph)
        with self._lock:
            latest = self._circles.get(viewer)
            if latest is None or latest[0] <= view.gen:  # an older snapshot's circle never replaces a newer one
                self._circles[viewer] = (view.gen, made)
                self._circles.move_to_end(viewer)
                while len(self._circles) > self._size:
                    self._circles.popitem(last=False)
        return made

    def popular(self, view) -> FrozenBitMap:
        gen, best = self._popular
        if gen != view.gen:
            best = FrozenBitMap(rank.top_k(view, "user", view.posting("user", "_live"), POPULAR))
            self._popular = (view.gen, best)
        return best

    def rank(self, view, circle: Circle, matches: AbstractBitMap, limit: int,
             exact: AbstractBitMap = FrozenBitMap(), typo: AbstractBitMap = FrozenBitMap()) -> list[tuple[int, float]]:
        """The best `limit` of `matches` (visible users) by social score, best first."""
        close = (matches & circle.followees) | (matches & circle.hop) | (matches & exact)
        rest = matches - close
        strangers = (np.union1d(self._strangers(view, rest - typo, limit), self._strangers(view, rest & typo, limit))
                     if typo else self._strangers(view, rest, limit))
        ids = np.union1d(rank.as_array(close), strangers)
        if not len(ids):
            return []
        cols = view.rank("user")
        followers = cols.count[ids]
        mutual = circle.mutuals(ids)
        score = (EXACT * _member(ids, rank.as_array(exact)) + FOLLOWED * _member(ids, circle.followee_ids)
                 + MUTUAL * mutual / (1.0 + mutual) + _popularities(followers))
        if typo:
            score = score - TYPO * _member(ids, rank.as_array(typo))
        order = np.lexsort((cols.ext_id[ids], -followers, -score))[:limit]
        return [(int(i), round(float(s), 4)) for i, s in zip(ids[order], score[order])]

    def _strangers(self, view, rest: AbstractBitMap, k: int) -> np.ndarray:
        """Ids holding the best `k` of `rest` by static order: its popular ones when there are k of them."""
        popular = rest & self.popular(view)
        if len(popular) == len(rest) or k <= len(popular) <= 8 * k:
            return rank.as_array(popular)
        return rank.top_k(view, "user", popular if len(popular) >= k else rest, k)

    def ranker(self, view, vertical: str, ids: AbstractBitMap, limit: int, viewer: int | None) -> list[tuple[int, float]]:
        """The engine's `order: "social"` (see unicorn.engine.Ranker); other verticals keep the static order."""
        if vertical != "user":
            return rank.scored_top_k(view, vertical, ids, limit)
        return self.rank(view, self.circle(view, viewer), ids, limit)

