"""The follow graph in memory: each user's live followees as a sorted uint32 row of compressed sparse rows.

    graph = FollowGraph()
    snapshot = graph.at(view)                # the graph as of view.gen
    snapshot.followees(iid)                  # internal ids, ascending
    ids, counts = snapshot.hop_counts(F)     # how many of the users F follow each user

Rows hold live followees only: for every live user u, `followees(u)` is exactly the posting
`following:u` & `_live` of the snapshot; a user who does not exist has none. That is what the
circle of a viewer needs (its followees are visible users, so live ones), and it can be kept
exact from `user.rankdirty` alone, because slipstream rewrites a user's document whenever the
user's live followees change: a follow or unfollow between two live users counts it in both
documents, a user's creation or deletion recounts its followers' `following_count`, and a user's
own creation or deletion writes its document. (A follow of a user who does not exist changes no
document and no row: the followee is not live.)

A `Snapshot` is an immutable `Base` (indptr + indices, built once from the postings) and the
live rows of the users whose followees changed since the base's generation, read from the index
when a newer generation is first asked for and merged at read time. When there are more than
`live_max` live rows, they are compacted into a new base (numpy copies, no index reads).

Memory: the base holds 8 bytes per user id (indptr) and 4 bytes per follow between live users
(indices); live rows 4 bytes per followee plus about 150 bytes per row, at most `live_max` rows
(default: one in 32 users, at least 1,024) in each of the `keep` snapshots kept (rows unchanged
between snapshots are shared). A compaction holds the old and the new base at once for a moment.
"""

from __future__ import annotations

import array
import threading
from collections import OrderedDict

import numpy as np
from pyroaring import AbstractBitMap, FrozenBitMap

from vocabulary import terms

EMPTY = np.zeros(0, np.uint32)
COUNTS = np.zeros(0, np.uint32)
LIVE_MIN = 1024  # live rows always allowed before a compaction
LIVE_SHARE = 32  # and one per this many users
UNIQUE_SHARE = 2  # counting by sorting (np.unique) below one gathered entry per this many users, else np.bincount


def bitmap(ids: np.ndarray) -> FrozenBitMap:
    """A FrozenBitMap of uint32 ids (through array.array: pyroaring reads it as a buffer)."""
    return FrozenBitMap(array.array("I", np.ascontiguousarray(ids, np.uint32).tobytes()))


def as_array(ids: AbstractBitMap) -> np.ndarray:
    return np.frombuffer(ids.to_array(), dtype=np.uint32)


class Base:
    """Immutable rows: user u's followees are `indices[indptr[u]:indptr[u + 1]]`, ascending."""

    __slots__ = ("gen", "indptr", "indices")

    def __init__(self, gen: int, indptr: np.ndarray, indices: np.ndarray) -> None:
        self.gen, self.indptr, self.indices = gen, indptr, indices
        indptr.flags.writeable = indices.flags.writeable = False

    @property
    def users(self) -> int:
        """Rows held: user ids from 0 to users - 1 (any other user has none)."""
        return len(self.indptr) - 1

    @property
    def nbytes(self) -> int:
        return self.indptr.nbytes + self.indices.nbytes

    def row(self, user: int) -> np.ndarray:
        if user >= self.users:
            return EMPTY
        return self.indices[self.indptr[user]:self.indptr[user + 1]]

    @classmethod
    def of_rows(cls, gen: int, rows: dict[int, np.ndarray]) -> Base:
        users = sorted(rows)
        lengths = np.zeros(users[-1] + 1 if users else 0, np.int64)
        lengths[users] = [len(rows[u]) for u in users]
        indices = np.concatenate([rows[u] for u in users]) if users else EMPTY
        return cls(gen, _indptr(lengths), indices.astype(np.uint32, copy=False))

    def merged(self, gen: int, live: dict[int, np.ndarray]) -> Base:
        """This base with the `live` rows in place of its own: unchanged stretches are copied whole."""
        changed = sorted(live)
        lengths = np.zeros(max(self.users, changed[-1] + 1 if changed else 0), np.int64)
        lengths[:self.users] = np.diff(self.indptr)
        lengths[changed] = [len(live[u]) for u in changed]
        indptr = _indptr(lengths)
        indices = np.empty(int(indptr[-1]), np.uint32)
        done = 0  # users before this one are in place
        for user in changed + [len(lengths)]:
            upto = min(user, self.users)
            if done < upto:
                indices[indptr[done]:indptr[upto]] = self.indices[self.indptr[done]:self.indptr[upto]]
            if user < len(lengths):
                indices[indptr[user]:indptr[user + 1]] = live[user]
            done = user + 1
        return Base(gen, indptr, indices)


def _indptr(lengths: np.ndarray) -> np.ndarray:
    indptr = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=indptr[1:])
    return indptr


def read_row(view, user: int, live: AbstractBitMap) -> np.ndarray:
    """User `user`'s live followees as of `view`, from the index."""
    if user not in live:
        return EMPTY
    return as_array(view.posting("user", terms.following(view.ext("user", user))) & live)


def build(view) -> Base:
    """The base of `view`'s generation: one posting read per live user."""
    live = view.posting("user", terms.LIVE)
    ext_ids = view.rank("user").ext_id
    rows = {}
    for user in as_array(live).tolist():
        row = view.posting("user", terms.following(int(ext_ids[user])))
        if row:
            rows[user] = as_array(row & live)
    return Base.of_rows(view.gen, rows)


class Snapshot:
    """The follow graph as of generation `gen`: `base`, with the rows of `live` in place of its own."""

    def __init__(self, gen: int, base: Base, live: dict[int, np.ndarray]) -> None:
        self.gen, self.base, self.live = gen, base, live
        self.changed = bitmap(np.fromiter(live, np.uint32, len(live)))  # the users whose row is in `live`

    def followees(self, user: int) -> np.ndarray:
        row = self.live.get(user)
        return row if row is not None else self.base.row(user)

    def gather(self, users: AbstractBitMap) -> np.ndarray:
        """The rows of `users`, one after the other: each user's followees once per user in `users` who follows them."""
        base = self.base
        ids = as_array(users - self.changed if self.live else users).astype(np.int64)
        ids = ids[ids < base.users]
        starts = base.indptr[ids]
        lengths = base.indptr[ids + 1] - starts
        total = int(lengths.sum())
        at = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)  # indices of the rows
        parts = [base.indices[at]]
        if self.live:
            parts.extend(self.live[u] for u in users & self.changed)
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def hop_counts(self, users: AbstractBitMap) -> tuple[np.ndarray, np.ndarray]:
        """(ids, counts): every user followed by some of `users`, ascending, and by how many of them."""
        gathered = self.gather(users)
        if not len(gathered):
            return EMPTY, COUNTS
        if len(gathered) * UNIQUE_SHARE < self.base.users:
            ids, counts = np.unique(gathered, return_counts=True)
            return ids, counts.astype(np.uint32)
        counts = np.bincount(gathered)
        ids = np.flatnonzero(counts)
        return ids.astype(np.uint32), counts[ids].astype(np.uint32)

    def same_rows(self, other: Snapshot, users: AbstractBitMap) -> bool:
        """Whether `users` have the same rows here as in `other` (rows are shared while unchanged)."""
        if other.base is not self.base:
            return False
        return all(self.live.get(u) is other.live.get(u) for u in users & (self.changed | other.changed))

    @property
    def nbytes(self) -> int:
        """The live rows' arrays (the base is shared between snapshots)."""
        return sum(row.nbytes for row in self.live.values())


class FollowGraph:
    """Snapshots of one index's follow graph, one per generation asked for (the `keep` latest kept)."""

    def __init__(self, live_max: int | None = None, keep: int = 8) -> None:
        self.live_max = live_max
        self.keep = keep
        self.builds = 0  # bases built from the index
        self.compactions = 0  # bases made by merging live rows
        self._latest: Snapshot | None = None
        self._recent: OrderedDict[int, Snapshot] = OrderedDict()
        self._lock = threading.Lock()

    def at(self, view) -> Snapshot:
        """The graph as of `view.gen`: the newest snapshot carried forward by the users changed since, or
        derived from its base for an older view; built from the index first, or when the changes are unknown."""
        with self._lock:
            made = self._recent.get(view.gen)
            if made is not None:
                return made
            latest = self._latest
            if latest is not None and view.gen > latest.gen:
                made = self._advanced(view, latest)
            elif latest is not None and view.gen >= latest.base.gen:
                made = self._advanced(view, Snapshot(latest.base.gen, latest.base, {}))
            if made is None:
                made = Snapshot(view.gen, build(view), {})
                self.builds += 1
            if latest is None or made.gen > latest.gen:
                self._latest = made
            self._recent[made.gen] = made
            while len(self._recent) > self.keep:
                self._recent.popitem(last=False)
            return made

    def _advanced(self, view, start: Snapshot) -> Snapshot | None:
        """`start` carried to `view.gen`; None when `view` no longer records the users changed since."""
        changed = view.changed_since("user", start.gen)
        if changed is None:
            return None
        base, live = start.base, dict(start.live)
        alive = view.posting("user", terms.LIVE)
        for user in changed:
            row = read_row(view, user, alive)
            kept = live.get(user)
            if np.array_equal(row, base.row(user)):
                live.pop(user, None)
            elif kept is None or not np.array_equal(row, kept):
                live[user] = row
        limit = self.live_max if self.live_max is not None else max(LIVE_MIN, base.users // LIVE_SHARE)
        if len(live) > limit:
            self.compactions += 1
            return Snapshot(view.gen, base.merged(view.gen, live), {})
        return Snapshot(view.gen, base, live)
