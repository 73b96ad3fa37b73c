"""SPEC §5 per viewer, by ARCHITECTURE.md's formulas over the index's own postings.

For viewer V: F = `following:V` (whom V follows), P = `is:private`, H = `_blocks:V | _blockedby:V`.
Visible users are `_live - H`; visible media are `_live - (_private - owner:X for X in F&P | {V})
- owner:X for X in H`; hashtags and places are all live ones. The edge terms `following:X`,
`follower:X`, `liker:X` are visible iff `(X not in P or X == V or X in F) and X not in H`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from pyroaring import BitMap, FrozenBitMap

EDGE_PREFIXES = frozenset({"following", "follower", "liker"})
VERTICALS = ("user", "media", "hashtag", "place")


@dataclass(frozen=True)
class Visibility:
    """What one viewer may see in one index generation; `viewer is None` is the admin, who sees all that is live."""

    viewer: int | None
    visible: dict[str, FrozenBitMap]
    hidden_edges: FrozenBitMap  # user iids X whose edge terms are empty for this viewer

    def edge_visible(self, x_iid: int) -> bool:
        return x_iid not in self.hidden_edges


def _owners_media(view, user_iids) -> BitMap:
    """Media owned by the given users: the union of their `owner:X` postings."""
    return BitMap.union(BitMap(), *(view.posting("media", f"owner:{view.ext('user', x)}") for x in user_iids))


def compute(view, viewer: int | None) -> Visibility:
    live = {v: view.posting(v, "_live") for v in VERTICALS}
    if viewer is None:
        return Visibility(None, live, FrozenBitMap())
    following = view.posting("user", f"following:{viewer}")
    private = view.posting("user", "is:private")
    hidden = BitMap(view.posting("user", f"_blocks:{viewer}")) | view.posting("user", f"_blockedby:{viewer}")
    allowed = BitMap(following & private)
    me = view.iid("user", viewer)
    if me is not None:
        allowed.add(me)
    private_unseen = BitMap(view.posting("media", "_private")) - _owners_media(view, allowed)
    media = BitMap(live["media"]) - private_unseen - _owners_media(view, hidden)
    hidden_edges = (BitMap(private) - following) | hidden
    if me is not None:
        hidden_edges.discard(me)
        if me in hidden:
            hidden_edges.add(me)
    visible = {"user": FrozenBitMap(BitMap(live["user"]) - hidden), "media": FrozenBitMap(media),
               "hashtag": live["hashtag"], "place": live["place"]}
    return Visibility(viewer, visible, FrozenBitMap(hidden_edges))


class Cache:
    """Visibility per (index generation, viewer), least recently used first out."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[int, int | None], Visibility] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, view, viewer: int | None) -> Visibility:
        key = (view.gen, viewer)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
                return hit
        computed = compute(view, viewer)
        with self._lock:
            self._entries[key] = computed
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return computed
