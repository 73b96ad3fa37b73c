"""A viewer's circle: their visible followees F, the 2-hop counts |follower:c & F| and the mutual weights
(the sum of the shares of the users of F who follow c, unicorn.graph), as of one snapshot, and the
docs/http-api.md `social` context of a user result (who of F follow it).

The 2-hop counts and weights are counted over all of F in the in-memory follow graph (unicorn.graph): one
gather of F's rows and one count; unless F follow more than FOLLOWERS_MAX users in all, the circle also
keeps who of F follow each 2-hop user, which names them in a result's context without an index read. A newer snapshot renews a circle when F and the graph rows of F
are unchanged, and rebuilds it otherwise, so a live indexer committing many generations does not make
every viewer pay a rebuild. `Circles` keeps the latest circle per viewer, least recently used out.

On an index shard the followees are the viewer's context's (unicorn.context), most on other shards.
The posting `following:f` of a followee f holds, on each shard, the local users f follows, so a
`ShardCircle` counts the 2-hop counts of its local users from F's postings alone, weighs them with
F's followee counts from the context, and names who of F follow a result from the context.
"""

from __future__ import annotations

import copy
import threading

import numpy as np
from cachetools import LRUCache
from pyroaring import AbstractBitMap, BitMap, FrozenBitMap

from unicorn.context import ViewerContext
from unicorn.graph import EMPTY, FollowGraph, bitmap, shares
from unicorn.query import rank
from vocabulary import terms

SHOWN = 3  # followees named in a result's social context
FOLLOWERS_MAX = 32_768  # follows by F (4 bytes each) up to which a circle keeps who of F follow each 2-hop user


class Circle:
    """Viewer V's visible followees F, the 2-hop counts |follower:c & F| and mutual weights, as of one snapshot."""

    def __init__(self, view, viewer: int | None, visible_users: AbstractBitMap, graph: FollowGraph) -> None:
        self.viewer = viewer
        self.names: dict[int, dict] = {}  # followee iid -> {"id", "username", "full_name"}
        self.followees = _followees(view, viewer, visible_users)
        self.followee_ids = rank.as_array(self.followees)
        self._graph = graph
        snapshot = graph.at(view)
        self.hop_ids, self.hop_counts, weights, self._followers = snapshot.hop(view, self.followees, FOLLOWERS_MAX)
        self.hop_weights = _narrowed(weights)
        self._starts = np.cumsum(self.hop_counts, dtype=np.int64) - self.hop_counts  # of each id's in _followers
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
        return self._of_hop(ids, self.hop_counts)

    def mutual_weights(self, ids: np.ndarray) -> np.ndarray:
        """The mutual weight of each id, int64 (0 outside the 2-hop set)."""
        return self._of_hop(ids, self.hop_weights)

    def _of_hop(self, ids: np.ndarray, values: np.ndarray) -> np.ndarray:
        if not len(self.hop_ids):
            return np.zeros(len(ids), np.int64)
        at = np.minimum(np.searchsorted(self.hop_ids, ids), len(self.hop_ids) - 1)
        return np.where(self.hop_ids[at] == ids, values[at], 0).astype(np.int64)

    def contexts(self, view, users: list[tuple[int, int]]) -> list[dict]:
        """docs/http-api.md `social` of user results, each given as (internal id, external id): whether V follows it, how
        many of F follow it, and the first SHOWN of those by static order (followers desc, id asc). Only
        visible followees are counted or named."""
        via = self._followed_by(view, [(iid, ext) for iid, ext in users if iid in self.hop])
        cols = view.rank("user")
        found = []
        for iid, _ in users:
            who = via.get(iid, EMPTY)
            shown = who[np.lexsort((cols.ext_id[who], -cols.count[who]))[:SHOWN]] if len(who) > 1 else who
            found.append({"following": iid in self.followees, "followed_by_count": len(who),
                          "followed_by": [self._name(view, f) for f in shown.tolist()]})
        return found

    def _followed_by(self, view, users: list[tuple[int, int]]) -> dict[int, np.ndarray]:
        """Internal id -> who of F follow it, for `users` (internal id, external id) in the 2-hop set: from the
        followers of each kept with the 2-hop counts (c is in f's graph row iff f follows c, both live), or,
        for a circle whose F follow too many to keep them, from the users' `follower:` postings."""
        if self._followers is None:
            return {iid: rank.as_array(view.posting("user", terms.follower(ext)) & self.followees) for iid, ext in users}
        iids = [iid for iid, _ in users]
        at = np.searchsorted(self.hop_ids, iids)
        return {iid: self._followers[start:start + count]
                for iid, start, count in zip(iids, self._starts[at].tolist(), self.hop_counts[at].tolist())}

    def _name(self, view, iid: int) -> dict:
        name = self.names.get(iid)
        if name is None:
            doc = view.doc("user", iid)
            name = self.names[iid] = {"id": str(doc["id"]), "username": doc["username"], "full_name": doc["full_name"]}
        return name


class ShardCircle:
    """A circle on an index shard, from the viewer's context: F's local members, and for each local user
    which of F follow it (read from F's `following:f` postings here) and its mutual weight (from the
    followee counts of those of F, in the context)."""

    def __init__(self, view, context: ViewerContext, visible_users: AbstractBitMap) -> None:
        self.viewer = context.viewer
        self._by_id = {f.id: f for f in context.followees}
        local = (view.iid("user", f) for f in self._by_id)
        self.followees = FrozenBitMap(BitMap(i for i in local if i is not None) & visible_users)
        self.followee_ids = rank.as_array(self.followees)
        self._via: dict[int, list[int]] = {}  # local user -> the followees following them
        for f in self._by_id:
            for c in view.posting("user", terms.following(f)) & visible_users:
                self._via.setdefault(c, []).append(f)
        self.hop_ids = np.fromiter(sorted(self._via), np.uint32, len(self._via))
        self.hop_counts = np.array([len(self._via[c]) for c in self.hop_ids.tolist()], np.uint32)
        share = dict(zip(self._by_id, shares([f.following_count for f in self._by_id.values()]).tolist()))
        self.hop_weights = _narrowed(np.array([sum(share[f] for f in self._via[c]) for c in self.hop_ids.tolist()],
                                               np.int64))
        self.hop = bitmap(self.hop_ids)

    mutuals, mutual_weights, _of_hop = Circle.mutuals, Circle.mutual_weights, Circle._of_hop

    def contexts(self, view, users: list[tuple[int, int]]) -> list[dict]:
        """Circle.contexts, from the viewer's context."""
        found = []
        for iid, _ in users:
            via = sorted((self._by_id[f] for f in self._via.get(iid, ())), key=lambda f: (-f.followers, f.id))
            found.append({"following": iid in self.followees, "followed_by_count": len(via),
                          "followed_by": [{"id": str(f.id), "username": f.username, "full_name": f.full_name}
                                          for f in via[:SHOWN]]})
        return found


def _narrowed(weights: np.ndarray) -> np.ndarray:
    """Mutual weights as uint32 when they all fit (they do unless shares of thousands of followees add up)."""
    return weights.astype(np.uint32) if not len(weights) or int(weights.max()) <= np.iinfo(np.uint32).max else weights


def _followees(view, viewer: int | None, visible_users: AbstractBitMap) -> FrozenBitMap:
    if viewer is None:
        return FrozenBitMap()
    return FrozenBitMap(view.posting("user", terms.following(viewer)) & visible_users)


class Circles:
    """The latest circle per viewer (renewed or rebuilt for newer snapshots), least recently used viewers out."""

    def __init__(self, size: int = 1024) -> None:
        self._circles: LRUCache = LRUCache(size)  # viewer -> (gen, circle)
        self._shard_circles: LRUCache = LRUCache(size)  # (gen, context key) -> circle, on a shard
        self.graph = FollowGraph()
        self._lock = threading.Lock()

    def get(self, view, viewer: int | None, visible_users: AbstractBitMap,
            context: ViewerContext | None = None) -> Circle | ShardCircle:
        """The viewer's circle as of `view`; `visible_users` is the viewer's visible users in `view`; on a shard,
        from the viewer's `context`."""
        if context is not None:
            return self._shard(view, context, visible_users)
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

    def _shard(self, view, context: ViewerContext, visible_users: AbstractBitMap) -> ShardCircle:
        key = (view.gen, context.key)
        with self._lock:
            made = self._shard_circles.get(key)
        if made is None:
            made = ShardCircle(view, context, visible_users)
            with self._lock:
                self._shard_circles[key] = made
        return made
