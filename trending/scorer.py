"""Stage 3, the scorer: per item, the distinct accounts that used it, in time buckets.

Contract: `Scorer.begin(batch)`, then once per batch `flush(clock, uses)` with the pre-processor's
clock and the parser's uses; the ranker then reads `counts(kind)` and `history_buckets()`. Buckets
are `BUCKET_MS` of event time (the event's `ts`, not the wall clock).

The recent window is the `RECENT` buckets ending at the clock's bucket; its buckets are open. A
use older than the window at its own event's clock (`Uses.as_of`) is too late to count and is
dropped. A bucket that leaves the window closes: it becomes one number per item (distinct
accounts), kept as baseline history for `HORIZON` buckets and then dropped; the running sum per
item over that history is kept in memory and rebuilt from it on load. That bounds the state by
the uses in the window and the items active over the horizon.

A batch is counted at once, with numpy; a use is a key `iid << 32 | account`:

- an open bucket is its distinct keys, ascending: each account counts once per item per bucket;
- the window is every key held by some open bucket, ascending, with how many open buckets hold
  it; an item's `recent` (distinct accounts in the window) is its number of keys there, updated
  as buckets gain keys and close, so each account counts once per item per window.

State lives in the index's `aux` db, written in the batch's own transaction (so with the firehose
offsets), one row per changed bucket; it is also kept in memory between batches, valid while the
batch generations follow each other (an aborted batch, or any other writer, makes the next
`begin` reload it):

| aux name | key | value |
|---|---|---|
| `trending.window` | kind, bucket | an open bucket's keys, ascending (uint64 LE: iid << 32 | account) |
| `trending.history` | kind, bucket | a closed bucket: its items' iids, ascending, then their distinct accounts (uint32 LE arrays) |

kind is one byte (`h`, `p`), bucket 8 bytes BE (offset by 2^63 so that any int64 time sorts).
"""

from __future__ import annotations

import struct
from itertools import compress

import numpy as np

from trending.parser import KINDS, Kind, Uses
from trending.preprocess import Clock

BUCKET_MS = 60_000  # one minute of event time
RECENT = 30  # buckets in the recent window: 30 minutes
HORIZON = 24 * 60  # buckets of baseline history before the window: one day
ITEM_CACHE_MAX = 1_000_000  # item -> internal id entries kept in memory

OPEN, HIST = "trending.window", "trending.history"
KIND_BYTE: dict[str, bytes] = {"hashtag": b"h", "place": b"p"}
_BUCKET = struct.Struct(">Q")
_U32 = np.dtype("<u4")
_KEY = np.dtype("<u8")
_OFFSET = 1 << 63


def bucket_of(ts: int) -> int:
    return ts // BUCKET_MS


def _bucket_key(kind: Kind, bucket: int) -> bytes:
    return KIND_BYTE[kind] + _BUCKET.pack(bucket + _OFFSET)


def _hist_arrays(value: bytes) -> tuple[np.ndarray, np.ndarray]:
    both = np.frombuffer(value, dtype=_U32)
    return both[: len(both) // 2], both[len(both) // 2:]


def _iids(keys: np.ndarray) -> np.ndarray:
    return (keys >> 32).astype(np.intp)


def _per_iid(array: np.ndarray, size: int) -> np.ndarray:
    """`array` (indexed by iid) extended with zeros to at least `size`."""
    if size <= len(array):
        return array
    grown = np.zeros(max(size, 2 * len(array)), dtype=array.dtype)
    grown[: len(array)] = array
    return grown


class _Counters:
    """One kind's state."""

    def __init__(self) -> None:
        self.open: dict[int, np.ndarray] = {}  # bucket -> its distinct keys, ascending
        self.window = np.zeros(0, dtype=_KEY)  # keys held by some open bucket, ascending
        self.spread = np.zeros(0, dtype=np.int64)  # per window key: the open buckets holding it
        self.recent = np.zeros(0, dtype=np.int64)  # per iid: its keys in the window
        self.sums = np.zeros(0, dtype=np.int64)  # per iid: distinct accounts over its closed buckets
        self.dirty: set[int] = set()  # open buckets changed in the batch

    def load_window(self) -> None:
        if self.open:
            self.window, self.spread = np.unique(np.concatenate(list(self.open.values())), return_counts=True)
            self.recent = np.bincount(_iids(self.window))

    def count(self, keys: np.ndarray, buckets: np.ndarray) -> None:
        """Add uses (keys, and the buckets they fall in) to their buckets and to the window."""
        order = np.lexsort((keys, buckets))
        keys, buckets = keys[order], buckets[order]
        first = np.ones(len(keys), dtype=bool)
        first[1:] = (keys[1:] != keys[:-1]) | (buckets[1:] != buckets[:-1])
        keys, buckets = keys[first], buckets[first]
        starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]]).tolist()
        entering = []
        for lo, hi in zip(starts, [*starts[1:], len(keys)]):
            bucket, fresh = int(buckets[lo]), keys[lo:hi]
            held = self.open.get(bucket)
            if held is None:
                self.open[bucket] = fresh
            else:
                fresh = np.setdiff1d(fresh, held, assume_unique=True)
                if not len(fresh):
                    continue
                self.open[bucket] = np.insert(held, np.searchsorted(held, fresh), fresh)
            self.dirty.add(bucket)
            entering.append(fresh)
        if entering:
            self._enter(np.concatenate(entering))

    def _enter(self, keys: np.ndarray) -> None:
        """Keys that joined open buckets (once per bucket) join the window."""
        keys, joined = np.unique(keys, return_counts=True)
        at = np.searchsorted(self.window, keys)
        held = at < len(self.window)
        held[held] = self.window[at[held]] == keys[held]
        self.spread[at[held]] += joined[held]
        new = ~held
        self.window = np.insert(self.window, at[new], keys[new])
        self.spread = np.insert(self.spread, at[new], joined[new])
        iids, accounts = np.unique(_iids(keys[new]), return_counts=True)
        if len(iids):
            self.recent = _per_iid(self.recent, int(iids[-1]) + 1)
            self.recent[iids] += accounts

    def close(self, buckets: list[int]) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """Take the buckets out of the window; returns each one's items' iids and distinct accounts."""
        closed, leaving = [], []
        for bucket in buckets:
            keys = self.open.pop(bucket)
            self.dirty.discard(bucket)
            leaving.append(keys)
            iids, counts = np.unique(keys >> 32, return_counts=True)
            closed.append((bucket, iids.astype(_U32), counts.astype(_U32)))
        keys, left = np.unique(np.concatenate(leaving), return_counts=True)
        at = np.searchsorted(self.window, keys)
        self.spread[at] -= left
        gone = at[self.spread[at] == 0]
        iids, accounts = np.unique(_iids(self.window[gone]), return_counts=True)
        self.recent[iids] -= accounts
        self.window = np.delete(self.window, gone)
        self.spread = np.delete(self.spread, gone)
        return closed

    def add_sums(self, iids: np.ndarray, counts: np.ndarray) -> None:
        """Add to the sums; `iids` distinct."""
        if len(iids):
            self.sums = _per_iid(self.sums, int(iids.max()) + 1)
            self.sums[iids.astype(np.intp)] += counts


class _Ids(dict):
    """Hashtag name | place id -> internal id; one not seen yet is interned in `batch` (so in the
    order of first use: the ids an index allocates are the same every run)."""

    def __init__(self, kind: Kind) -> None:
        super().__init__()
        self.kind = kind
        self.batch = None

    def __missing__(self, item: str | int) -> int:
        iid = self[item] = self.batch.intern(self.kind, item)
        return iid


class Scorer:
    def __init__(self) -> None:
        self._gen: int | None = None
        self._batch = None
        self._window_start: int | None = None
        self._first: int | None = None

    def begin(self, batch) -> None:
        self._batch = batch
        if self._gen != batch.gen - 1:
            self._load(batch)
        self._gen = batch.gen

    def _load(self, batch) -> None:
        self._counters = {kind: _Counters() for kind in KINDS}
        for kind, counters in self._counters.items():
            for key, value in batch.aux_items(OPEN, KIND_BYTE[kind]):
                counters.open[_BUCKET.unpack_from(key, 1)[0] - _OFFSET] = np.frombuffer(value, dtype=_KEY)
            counters.load_window()
            for _, value in batch.aux_items(HIST, KIND_BYTE[kind]):
                counters.add_sums(*_hist_arrays(value))
        self._ids = {kind: _Ids(kind) for kind in KINDS}

    def flush(self, clock: Clock, uses: dict[Kind, Uses]) -> None:
        """Count the batch's uses, close the buckets that left the window, drop history past the
        horizon, and write the changed state into the batch."""
        if clock.as_of is None:
            return
        batch = self._batch
        self._first = bucket_of(clock.first)
        self._window_start = window_start = bucket_of(clock.as_of) - RECENT + 1
        for kind, counters in self._counters.items():
            keys, buckets = self._keys(kind, uses[kind])
            if len(keys):
                counters.count(keys, buckets)
            closing = sorted(b for b in counters.open if b < window_start)
            if closing:
                for bucket, iids, counts in counters.close(closing):
                    batch.delete_aux(OPEN, _bucket_key(kind, bucket))
                    batch.put_aux(HIST, _bucket_key(kind, bucket), iids.tobytes() + counts.tobytes())
                    counters.add_sums(iids, counts)
            for key, value in batch.aux_items(HIST, KIND_BYTE[kind], _bucket_key(kind, window_start - HORIZON)):
                iids, counts = _hist_arrays(value)
                counters.add_sums(iids, -counts.astype(np.int64))
                batch.delete_aux(HIST, key)
            for bucket in sorted(counters.dirty):
                batch.put_aux(OPEN, _bucket_key(kind, bucket), counters.open[bucket].tobytes())
            counters.dirty.clear()

    def _keys(self, kind: Kind, uses: Uses) -> tuple[np.ndarray, np.ndarray]:
        """The keys and buckets of the uses that are not too late."""
        buckets = uses.ts // BUCKET_MS
        timely = buckets >= uses.as_of // BUCKET_MS - RECENT + 1
        items, accounts = uses.items, uses.accounts
        if not timely.all():
            items, accounts, buckets = list(compress(items, timely.tolist())), accounts[timely], buckets[timely]
        ids = self._ids[kind]
        if len(ids) > ITEM_CACHE_MAX:
            ids.clear()
        ids.batch = self._batch
        iids = np.fromiter(map(ids.__getitem__, items), dtype=_KEY, count=len(items))
        return iids << 32 | accounts.astype(_KEY), buckets

    # -- what the ranker reads -------------------------------------------------------------

    def counts(self, kind: Kind) -> tuple[np.ndarray, np.ndarray]:
        """Per iid: distinct accounts in the recent window, and summed over the closed buckets
        within the horizon (each array as long as its highest iid needs, or longer)."""
        counters = self._counters[kind]
        return counters.recent, counters.sums

    def sum(self, kind: Kind, iid: int) -> int:
        """Distinct accounts summed over the item's closed buckets within the horizon."""
        sums = self._counters[kind].sums
        return int(sums[iid]) if iid < len(sums) else 0

    def history_buckets(self) -> int:
        """How many closed buckets the baseline spans: from the first event, at most `HORIZON`."""
        if self._first is None:
            return 0
        return max(0, min(HORIZON, self._window_start - self._first))
