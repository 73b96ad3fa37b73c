"""The follow graph in memory: each user's live followees as a sorted uint32 row of compressed sparse rows.

    graph = FollowGraph()
    snapshot = graph.at(view)                    # the graph as of view.gen
    snapshot.followees(view, iid)                # internal ids, ascending
    ids, counts = snapshot.hop_counts(view, F)   # how many of the users F follow each user
    ids, counts, weights, followers = snapshot.hop(view, F, followers_max)  # their weight, who of F follow each

The weight of a user c followed by some of F is the sum, over the users f of F who follow c, of
f's share `share(|followees(f)|)` = ceil(SHARE_UNIT / |followees(f)|), an integer (resource allocation,
docs/http-api.md: a user who follows few people says more about each of them). |followees(f)| is
the length of f's row, f's live followees: its document's `following_count` (docs/http-api.md). The shares
are whole numbers at most 2^20 and a sum has at most 2^32 of them, so every sum is exact (below
2^53) in float64 as in int64.

Rows hold live followees only: for every live user u, `followees(u)` is exactly the posting
`following:u` & `_live` of the snapshot; a user who does not exist has none. That is what the
circle of a viewer needs (its followees are visible users, so live ones), and it can be kept
exact from `user.rankdirty` alone, because slipstream rewrites a user's document whenever the
user's live followees change: a follow or unfollow between two live users counts it in both
documents, a user's creation or deletion recounts its followers' `following_count`, and a user's
own creation or deletion writes its document. (A follow of a user who does not exist changes no
document and no row: the followee is not live.)

A `Snapshot` is an immutable `Base` (indptr + indices, built once from the postings) and the
users whose followees may have changed since the base's generation (from `user.rankdirty`); their
rows are read from the index when first needed and merged at read time. Moving to a newer
generation adds the users changed since, hands on the rows read for the others and reads a few
more (`read_ahead`). When more than `rows_max` rows are handed on, they are merged into a new base (numpy copies,
no index read; changed users whose rows were never needed stay marked stale in it).

Memory: a base holds 8 bytes per user id (indptr) and 4 bytes per follow between live users
(indices); two bases are kept (views of an older generation use the older one), and a compaction
holds a third for a moment. Each of the `keep` snapshots kept holds a bitmap of the changed users
and the rows read for them, 4 bytes per followee plus about 150 bytes per row; at most `rows_max`
(default: one in 16 users, at least 1,024) are handed on, and rows are shared by the snapshots
they did not change in.
"""

from __future__ import annotations

import array
import itertools
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
from pyroaring import AbstractBitMap, FrozenBitMap

from unicorn.query.rank import as_array
from vocabulary import terms

EMPTY = np.zeros(0, np.uint32)
COUNTS = np.zeros(0, np.uint32)
NOBODY = FrozenBitMap()
Seen = tuple[int, dict[int, np.ndarray]]
ROWS_MIN = 1024  # rows read for changed users, handed from snapshot to snapshot, before a compaction
ROWS_SHARE = 16  # or one per this many users when more
READ_AHEAD = 64  # rows of changed users read when a newer generation is first asked for
UNIQUE_SHARE = 2  # counting by sorting below one gathered entry per this many users, else np.bincount
SHARE_UNIT = 1 << 20  # a followee's share of a weight is ceil(SHARE_UNIT / its followee count)
WEIGHTS = np.zeros(0, np.int64)


class Hop(NamedTuple):
    """The users followed by some of a set of users: ids ascending, by how many of them (counts), their
    weights (the sum of those followers' shares), and when kept, who of them follow each id:
    ids[j]'s are followers[o:o + counts[j]], o = counts[:j].sum() (else None)."""

    ids: np.ndarray
    counts: np.ndarray
    weights: np.ndarray
    followers: np.ndarray | None


def shares(followee_counts: np.ndarray) -> np.ndarray:
    """Each user's share of the weights of the users they follow, from their followee counts (int64):
    ceil(SHARE_UNIT / count), SHARE_UNIT for a count of 0 (whose user gives no share to anyone)."""
    return -(-SHARE_UNIT // np.maximum(np.asarray(followee_counts, np.int64), 1))


def bitmap(ids: np.ndarray) -> FrozenBitMap:
    """A FrozenBitMap of uint32 ids (through array.array: pyroaring reads it as a buffer)."""
    return FrozenBitMap(array.array("I", np.ascontiguousarray(ids, np.uint32).tobytes()))


class Base:
    """Immutable rows as of generation `gen`: user u's followees are `indices[indptr[u]:indptr[u + 1]]`,
    ascending, except for the users in `stale`, whose rows here may be older."""

    __slots__ = ("gen", "indices", "indptr", "stale")

    def __init__(self, gen: int, indptr: np.ndarray, indices: np.ndarray, stale: AbstractBitMap = NOBODY) -> None:
        self.gen, self.indptr, self.indices, self.stale = gen, indptr, indices, FrozenBitMap(stale)
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

    def merged(self, gen: int, rows: dict[int, np.ndarray], stale: AbstractBitMap) -> Base:
        """This base with `rows` in place of its own (the stretches between them copied whole), as of `gen`
        but for the users in `stale`."""
        changed = sorted(rows)
        lengths = np.zeros(max(self.users, changed[-1] + 1 if changed else 0), np.int64)
        lengths[:self.users] = np.diff(self.indptr)
        lengths[changed] = [len(rows[u]) for u in changed]
        indptr = _indptr(lengths)
        indices = np.empty(int(indptr[-1]), np.uint32)
        done = 0  # users before this one are in place
        for user in changed + [len(lengths)]:
            upto = min(user, self.users)
            if done < upto:
                indices[indptr[done]:indptr[upto]] = self.indices[self.indptr[done]:self.indptr[upto]]
            if user < len(lengths):
                indices[indptr[user]:indptr[user + 1]] = rows[user]
            done = user + 1
        return Base(gen, indptr, indices, stale)


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
    """The base of `view`'s generation, from one scan of the `following:` postings (not cached: the
    posting cache keeps its hot postings)."""
    live = view.posting("user", terms.LIVE)
    prefix = terms.term("following", "")
    rows = {}
    for term, posting in view.postings("user", prefix):
        user = view.iid("user", int(term[len(prefix):]))
        if user is not None and user in live:
            rows[user] = as_array(posting & live)
    return Base.of_rows(view.gen, rows)


class Snapshot:
    """The follow graph as of generation `gen`: the rows of `base`, except for the users in `changed`
    (stale in the base or changed since its generation), whose rows are read from the index when first
    needed, with a view of this generation, and kept in `rows`."""

    def __init__(self, gen: int, base: Base, changed: AbstractBitMap = NOBODY,
                 rows: dict[int, np.ndarray] | None = None) -> None:
        self.gen, self.base, self.changed = gen, base, FrozenBitMap(changed)
        self.rows = rows if rows is not None else {}

    def followees(self, view, user: int) -> np.ndarray:
        """User `user`'s live followees, ascending."""
        if user in self.changed:
            return self._read(view, (user,))[0]
        return self.base.row(user)

    def gather(self, view, users: AbstractBitMap) -> np.ndarray:
        """The rows of `users`, one after the other: each user's followees once per user in `users` who follows them."""
        _, _, gathered = self._base_rows(users)
        parts = [gathered, *self._read(view, users & self.changed)] if self.changed else [gathered]
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def hop_counts(self, view, users: AbstractBitMap) -> tuple[np.ndarray, np.ndarray]:
        """(ids, counts): every user followed by some of `users`, ascending, and by how many of them."""
        found = self.hop(view, users)
        return found.ids, found.counts

    def hop(self, view, users: AbstractBitMap, followers_max: int = 0) -> Hop:
        """Every user followed by some of `users` (Hop), with who of them follow each when `users` follow at
        most `followers_max` users in all (counted once per follower)."""
        owners, lengths, gathered = self._base_rows(users)
        if self.changed:
            changed = users & self.changed
            rows = self._read(view, changed)
            owners = np.concatenate([owners, as_array(changed).astype(np.int64)])
            lengths = np.concatenate([lengths, [len(row) for row in rows]]).astype(np.int64)
            gathered = np.concatenate([gathered, *rows]) if rows else gathered
        if not len(gathered):
            return Hop(EMPTY, COUNTS, WEIGHTS, EMPTY)
        share = shares(lengths)
        if len(gathered) <= followers_max or len(gathered) * UNIQUE_SHARE < self.base.users:
            # sort (followed, follower's place in owners) pairs packed in one uint64
            places = np.repeat(np.arange(len(owners), dtype=np.uint64), lengths)
            pairs = np.sort((gathered.astype(np.uint64) << np.uint64(32)) | places)
            followed = (pairs >> np.uint64(32)).astype(np.uint32)
            first = np.flatnonzero(np.concatenate(([True], followed[1:] != followed[:-1])))
            counts = np.diff(np.append(first, len(followed))).astype(np.uint32)
            by = pairs.astype(np.uint32)  # the low half: each pair's follower, as its place in owners
            weights = np.add.reduceat(share[by], first)
            followers = owners.astype(np.uint32)[by] if len(gathered) <= followers_max else None
            return Hop(followed[first], counts, weights, followers)
        counts = np.bincount(gathered)
        ids = np.flatnonzero(counts)
        weights = np.bincount(gathered, weights=np.repeat(share.astype(np.float64), lengths))[ids]
        return Hop(ids.astype(np.uint32), counts[ids].astype(np.uint32), weights.astype(np.int64), None)

    def _base_rows(self, users: AbstractBitMap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids, lengths, gathered): the users of `users` not in `changed`, ascending, their row lengths, and
        their rows one after the other."""
        base = self.base
        ids = as_array(users - self.changed if self.changed else users).astype(np.int64)
        ids = ids[ids < base.users]
        starts = base.indptr[ids]
        lengths = base.indptr[ids + 1] - starts
        total = int(lengths.sum())
        at = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)  # indices of the rows
        return ids, lengths, base.indices[at]

    def seen(self, view, users: AbstractBitMap) -> Seen:
        """What the rows of `users` are made of here: this base's generation (bases of one generation hold
        the same rows) and the row objects of the changed ones (a snapshot hands them on to the next)."""
        changed = users & self.changed
        return self.base.gen, dict(zip(changed, self._read(view, changed)))

    def unchanged(self, seen: Seen, users: AbstractBitMap) -> bool:
        """Whether `users` have the rows here that `seen` (this snapshot's or an older one's `seen(users)`) says."""
        gen, rows = seen
        if gen != self.base.gen or len(users & self.changed) != len(rows):
            return False
        return all(self.rows.get(user) is row for user, row in rows.items())

    def _read(self, view, users: Iterable[int]) -> list[np.ndarray]:
        """The rows of `users` (all in `changed`), read from the index the first time."""
        if view.gen != self.gen:
            raise ValueError(f"a view of generation {view.gen} cannot read rows of the graph at {self.gen}")
        found, live = [], None
        for user in users:
            row = self.rows.get(user)
            if row is None:
                live = live if live is not None else view.posting("user", terms.LIVE)
                row = self.rows.setdefault(user, read_row(view, user, live))  # a concurrent read keeps the first
            found.append(row)
        return found


class FollowGraph:
    """Snapshots of one index's follow graph, one per generation asked for (the `keep` latest kept).

    A newer generation's snapshot is the newest one with the users changed since (`user.rankdirty`)
    added to `changed`, and the rows read for the others handed on: no index read until a row is
    needed, but for `read_ahead` changed users whose rows no snapshot has read yet (so that they do
    not pile up while the indexer runs). An older generation's is made from the newest base not newer
    than it (the last two bases are kept). When a snapshot is handed more than `rows_max` rows, they are merged into a new base
    (no index read; the changed users whose rows were not read stay `stale` in it). A base is built
    from the index on first use, and when the users changed since a snapshot are no longer recorded.
    """

    def __init__(self, rows_max: int | None = None, keep: int = 8, read_ahead: int = READ_AHEAD) -> None:
        self.rows_max = rows_max
        self.read_ahead = read_ahead
        self.keep = keep
        self.builds = 0  # bases built from the index
        self.compactions = 0  # bases made by merging the rows read
        self._bases: list[Base] = []  # the last two, oldest first
        self._latest: Snapshot | None = None
        self._recent: OrderedDict[int, Snapshot] = OrderedDict()
        self._lock = threading.Lock()

    def at(self, view) -> Snapshot:
        """The graph as of `view.gen`."""
        with self._lock:
            made = self._recent.get(view.gen)
            if made is not None:
                return made
            latest = self._latest
            if latest is not None and view.gen > latest.gen:
                made = self._advanced(view, latest)
            else:
                base = next((b for b in reversed(self._bases) if b.gen <= view.gen), None)
                changed = view.changed_since("user", base.gen) if base is not None else None
                made = Snapshot(view.gen, base, base.stale | changed) if changed is not None else None
            if made is None:
                self.builds += 1
                made = Snapshot(view.gen, build(view))
            if latest is None or made.gen > latest.gen:
                self._latest = made
                if not any(base is made.base for base in self._bases):  # built or compacted now
                    self._bases = [*self._bases[-1:], made.base]
            self._recent[made.gen] = made
            while len(self._recent) > self.keep:
                self._recent.popitem(last=False)
            return made

    def _advanced(self, view, latest: Snapshot) -> Snapshot | None:
        """`latest` carried to `view.gen`; None when `view` no longer records the users changed since."""
        changed = view.changed_since("user", latest.gen)
        if changed is None:
            return None
        rows = dict(latest.rows)
        for user in changed & latest.changed:
            rows.pop(user, None)
        limit = self.rows_max if self.rows_max is not None else max(ROWS_MIN, latest.base.users // ROWS_SHARE)
        if len(rows) > limit:
            self.compactions += 1
            changed = latest.changed | changed
            base = latest.base.merged(view.gen, rows, changed - bitmap(np.fromiter(rows, np.uint32, len(rows))))
            return Snapshot(view.gen, base, base.stale)
        made = Snapshot(view.gen, latest.base, latest.changed | changed, rows)
        unread = made.changed - bitmap(np.fromiter(rows, np.uint32, len(rows)))
        made._read(view, itertools.islice(unread, self.read_ahead))
        return made
