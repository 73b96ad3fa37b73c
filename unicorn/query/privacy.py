"""docs/privacy.md per viewer, by ARCHITECTURE.md's formulas over the index's own postings.

For viewer V: F = `following:V` (whom V follows), P = `is:private`, H = `_blocks:V | _blockedby:V`.
Visible users are `_live - H`; visible media are `_live - (_private - owner:X for X in F&P | {V})
- owner:X for X in H`; places are all live ones. The edge terms `following:X`, `follower:X`,
`liker:X` are visible iff `(X not in P or X == V or X in F) and X not in H`.

Visible hashtags are those some visible media carries, without scanning the visible media. A
visible media is public (not `_private`) or private and owned by someone in `F&P | {V}`, and
not owned by someone in H. A hashtag has a visible public carrier iff its `media_count` (its
public carriers, docs/events.md) exceeds the number of its public carriers owned in H; the hashtags
with a positive count are slipstream's `_public` posting. So visible hashtags are `_public`,
minus those whose every public carrier is owned in H (counted over H's media only, when V has
blocks), plus the hashtags of the private media of `F&P | {V}` outside H. When nothing left
`_public`, private media add only hashtags outside it, so only the owners of private carriers of
`_live - _public` count (found once per generation, `_private_carriers`). Most viewers see
exactly `_public` (no hashtag only hidden owners carry, none only private media carry), and
share it. Visible media are built from `_live - _private`, also made once per generation.

`Cache` keeps these sets per (generation, viewer); each vertical's visible set is computed on
first use (a people search never pays for media privacy) with the snapshot at hand, which has
that same generation.

On an index shard, which holds only its own documents, the same sets come from the viewer's context
(unicorn.context) in external ids: F, its privacy flags and H as the aggregator resolved them over all
shards, and the hashtag facts gathered from every shard's media. The shard's own postings give the rest:
`owner:X` (media are on their own shard), `_public`, `_private`. Edge terms are the aggregator's to
decide (it asks X's shard whether X is private); a shard empties only those of X in H.
"""

from __future__ import annotations

import threading
from functools import cached_property

import numpy as np
from cachetools import LRUCache
from pyroaring import BitMap, FrozenBitMap

from unicorn.context import Hashtags, ViewerContext
from unicorn.query import rank
from vocabulary import terms


class _Sets:
    """A viewer's visible documents per vertical, from what a subclass knows of them: `viewer`, `hidden` (the
    user iids of H), `owners_seen_private(view)` (owners whose private media the viewer sees) and
    `hidden_owners(view)` (H), both as external ids, `_hashtags(view, live)`, and `generation` (the sets
    the viewers of one generation share)."""

    def compute(self, view, vertical: str) -> FrozenBitMap:
        live = view.posting(vertical, terms.LIVE)
        if self.viewer is None or vertical == "place":
            return live
        if vertical == "user":
            return live - self.hidden if self.hidden else live
        if vertical == "hashtag":
            return self._hashtags(view, live)
        private = view.posting("media", terms.PRIVATE_MEDIA)
        visible = self.generation.get(view, "unprivate media", lambda view: live - private)
        seen_private = _media_of(view, self.owners_seen_private(view)) & private & live
        if seen_private:
            visible = visible | seen_private
        hidden = _media_of(view, self.hidden_owners(view))
        return visible - hidden if hidden else visible


class _Viewer(_Sets):
    """The per-(generation, viewer) sets, shared by every request of that viewer at that generation."""

    def __init__(self, view, viewer: int | None, generation: _Generation) -> None:
        self.viewer = viewer
        self.generation = generation
        self.visible: dict[str, FrozenBitMap] = {}
        self.lock = threading.Lock()
        self.public_hashtags_only = False  # whether the visible hashtags are exactly `_public`
        if viewer is None:
            return
        self.following = view.posting("user", terms.following(viewer))
        self.private = view.posting("user", terms.PRIVATE_USER)
        self.hidden = BitMap(view.posting("user", terms.blocks(viewer))) | view.posting("user", terms.blocked_by(viewer))
        self.me = view.iid("user", viewer)

    @cached_property
    def hidden_edges(self) -> FrozenBitMap:
        """User iids X whose edge terms the viewer may not see: private unless followed, or hidden; not the viewer
        unless hidden."""
        if self.viewer is None:
            return FrozenBitMap()
        hidden_edges = (BitMap(self.private) - self.following) | self.hidden
        if self.me is not None and self.me not in self.hidden:
            hidden_edges.discard(self.me)
        return FrozenBitMap(hidden_edges)

    def edge_term_visible(self, view, x: int) -> bool:
        iid = view.iid("user", x)
        if iid is None or self.viewer is None:
            return iid is not None
        return iid not in self.hidden and (iid == self.me or iid not in self.private or iid in self.following)

    def owners_seen_private(self, view) -> list[int]:
        return [view.ext("user", x) for x in self._allowed()]

    def hidden_owners(self, view) -> list[int]:
        return [view.ext("user", x) for x in self.hidden]

    def _allowed(self) -> BitMap:
        """Owners whose private media the viewer sees, unless hidden: private followees and the viewer."""
        allowed = BitMap(self.following & self.private)
        if self.me is not None:
            allowed.add(self.me)
        return allowed

    def _hashtags(self, view, live) -> FrozenBitMap:
        """The hashtags carried by some media visible to the viewer (see the module's docstring)."""
        public = visible = view.posting("hashtag", terms.PUBLIC_MEDIA)
        private = view.posting("media", terms.PRIVATE_MEDIA)
        if self.hidden:
            tags, hidden_carriers = view.link_columns().target_counts("hashtag", _owners_media(view, self.hidden) - private)
            only_hidden = tags[view.rank("hashtag").count[tags] == hidden_carriers]
            if len(only_hidden):
                visible = visible - BitMap(only_hidden.tolist())
        if visible is public:  # private media can only add hashtags outside `_public`: their owners' media
            carriers = self.generation.get(view, "private carriers", _private_carriers)
            owners = BitMap(carriers & self.following & self.private) - self.hidden
            if self.me is not None and self.me in carriers and self.me not in self.hidden:
                owners.add(self.me)
        else:
            owners = self._allowed() - self.hidden
        seen_private = _owners_media(view, owners) & private
        if seen_private:
            extra = view.link_columns().target_set("hashtag", seen_private) - visible
            if extra:
                visible = visible | extra
        self.public_hashtags_only = visible is public
        return visible


class _Generation:
    """What the viewers' sets share in one generation, the newest asked for, each made on first use: `get(view,
    name, make)` is `make(view)`, kept for the other views of that generation (a view of an older one makes its
    own). Held: the live media of no private owner, and `_private_carriers`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at: tuple[int, dict] = (-1, {})

    def get(self, view, name: str, make):
        gen, facts = self._at
        if gen != view.gen:
            if gen > view.gen:
                return make(view)
            with self._lock:
                if self._at[0] < view.gen:
                    self._at = (view.gen, {})
                gen, facts = self._at
        hit = facts.get(name)
        if hit is None:
            with self._lock:
                hit = facts.get(name)
                if hit is None:
                    hit = facts[name] = make(view)
        return hit


def _private_carriers(view) -> FrozenBitMap:
    """A hashtag outside `_public` that live media carry is live (slipstream keeps a hashtag exactly while
    live media carry it): so the owners of the private carriers of `_live - _public`, read per such hashtag."""
    private = view.posting("media", terms.PRIVATE_MEDIA)
    unpublic = view.posting("hashtag", terms.LIVE) - view.posting("hashtag", terms.PUBLIC_MEDIA)
    carriers = BitMap.union(BitMap(), *(view.posting("media", terms.hashtag(view.ext("hashtag", t))) for t in unpublic))
    owners = view.link_columns().owner[rank.as_array(carriers & private)]
    return FrozenBitMap(np.unique(owners[owners >= 0]).tolist())


def _owners_media(view, user_iids) -> BitMap:
    """Media owned by the given users: the union of their `owner:X` postings."""
    return _media_of(view, (view.ext("user", x) for x in user_iids))


def hashtag_part(view, context: ViewerContext) -> Hashtags:
    """One shard's share of the viewer context's hashtag facts (unicorn.context.Hashtags), from its media."""
    return _Shard(view, context, _Generation()).hashtag_part(view)


def _media_of(view, owners) -> BitMap:
    """Media owned by the given users (external ids)."""
    return BitMap.union(BitMap(), *(view.posting("media", terms.owner(x)) for x in owners))


def local_ids(view, vertical: str, exts) -> BitMap:
    """The internal ids this index has for the given external ids."""
    return BitMap(i for i in (view.iid(vertical, e) for e in exts) if i is not None)


class _Shard(_Sets):
    """The per-(generation, context) sets of a shard, from the viewer's context (see the module's docstring)."""

    def __init__(self, view, context: ViewerContext, generation: _Generation) -> None:
        self.viewer = context.viewer
        self.generation = generation
        self.context = context
        self.visible: dict[str, FrozenBitMap] = {}
        self.lock = threading.Lock()
        self.hidden_exts = frozenset(context.hidden)
        self.hidden = FrozenBitMap(local_ids(view, "user", context.hidden))
        self.hidden_edges = FrozenBitMap()  # the aggregator empties invisible edge terms before a shard sees them
        allowed = {f.id for f in context.followees if f.private} | {context.viewer}
        self.allowed = allowed - self.hidden_exts - {None}
        hashtags = context.hashtags
        self.public_hashtags_only = hashtags is not None and not hashtags.hidden_carriers and not hashtags.private_carried

    def edge_term_visible(self, view, x: int) -> bool:
        return x not in self.hidden_exts

    def owners_seen_private(self, view) -> set[int]:
        return self.allowed

    def hidden_owners(self, view) -> frozenset[int]:
        return self.hidden_exts

    def _hashtags(self, view, live) -> FrozenBitMap:
        hashtags = self.context.hashtags
        if hashtags is None:
            raise ValueError("a shard needs the context's hashtag facts to decide hashtag visibility")
        visible = BitMap(view.posting("hashtag", terms.PUBLIC_MEDIA))
        if hashtags.hidden_carriers:
            counts = view.rank("hashtag").count
            for iid in local_ids(view, "hashtag", hashtags.hidden_carriers):
                if iid in visible and counts[iid] == hashtags.hidden_carriers[view.ext("hashtag", iid)]:
                    visible.discard(iid)
        visible |= local_ids(view, "hashtag", hashtags.private_carried) & live
        return FrozenBitMap(visible)

    def hashtag_part(self, view) -> Hashtags:
        """This shard's share of the context's hashtag facts: the counts of public carriers owned in H and the
        hashtags of visible private media, by name."""
        columns = view.link_columns()
        private = view.posting("media", terms.PRIVATE_MEDIA)
        hidden_media = _media_of(view, self.hidden_exts) - private
        tags, counts = columns.target_counts("hashtag", hidden_media) if hidden_media else ([], [])
        seen_private = _media_of(view, self.allowed) & private
        carried = columns.targets("hashtag", seen_private) if seen_private else []
        return Hashtags({view.ext("hashtag", int(t)): int(n) for t, n in zip(tags, counts)},
                        [view.ext("hashtag", t) for t in carried])


class _Visible:
    """vertical -> the viewer's visible documents, computed on first lookup with this request's snapshot."""

    def __init__(self, shared: _Viewer, view) -> None:
        self._shared, self._view = shared, view

    def __getitem__(self, vertical: str) -> FrozenBitMap:
        shared = self._shared
        hit = shared.visible.get(vertical)
        if hit is None:
            with shared.lock:
                hit = shared.visible.get(vertical)
                if hit is None:
                    hit = shared.visible[vertical] = shared.compute(self._view, vertical)
        return hit


class Visibility:
    """What one viewer may see in one snapshot; `viewer is None` is the admin, who sees all that is live."""

    def __init__(self, shared: _Viewer | _Shard, view) -> None:
        self.viewer = shared.viewer
        self._shared = shared
        self.visible = _Visible(shared, view)

    @property
    def hidden_edges(self) -> FrozenBitMap:
        """User iids X whose edge terms are empty."""
        return self._shared.hidden_edges

    def edge_term_visible(self, view, x: int) -> bool:
        """Whether the edge terms of user `x` (an external id) are visible to the viewer."""
        return self._shared.edge_term_visible(view, x)

    def hashtag_scope(self) -> int | None | str:
        """Who shares this viewer's visible hashtags: "public" when they are exactly `_public`
        (the same for every such viewer), else the viewer (None: the admin), on a shard with its context."""
        self.visible["hashtag"]  # sets public_hashtags_only
        if self._shared.public_hashtags_only:
            return "public"
        return self.viewer if isinstance(self._shared, _Viewer) else (self.viewer, self._shared.context.key)


class Cache:
    """Per-viewer sets per (index generation, viewer), least recently used first out."""

    def __init__(self, size: int = 1024) -> None:
        self._entries: LRUCache = LRUCache(size)  # (gen, viewer) -> _Viewer
        self._generation = _Generation()
        self._lock = threading.Lock()

    def get(self, view, viewer: int | None, context: ViewerContext | None = None) -> Visibility:
        """The viewer's sets in `view`; on a shard, from the viewer's `context` (then `viewer` is its viewer)."""
        key = (view.gen, viewer) if context is None else (view.gen, viewer, context.key)
        with self._lock:
            shared = self._entries.get(key)
        if shared is None:
            shared = (_Viewer(view, viewer, self._generation) if context is None
                      else _Shard(view, context, self._generation))
            with self._lock:
                self._entries[key] = shared
        return Visibility(shared, view)
