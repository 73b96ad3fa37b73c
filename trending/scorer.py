"""Stage 3, the scorer: per item, the distinct accounts that used it, in time buckets.

Contract: `Scorer.begin(batch)`, then `advance(ts)` for every event and `add(use)` for every
parser `Use` of that event, in stream order, then `flush() -> Flushed`. Buckets are `BUCKET_MS` of event time
(the event's `ts`, not the wall clock). For each (kind, item, bucket) the scorer keeps the set of
accounts (a roaring BitMap of internal user ids), so each account counts once per item per bucket,
and the union over the recent window counts it once per window.

`as_of` is the highest event time seen. The recent window is the `RECENT` buckets ending at
`as_of`'s bucket; its buckets are open. A use older than the window is too late to count and is
dropped. A bucket that leaves the window closes: its bitmaps become one number per item (distinct
accounts), kept as baseline history for `HORIZON` buckets and then dropped; the running sum per
item over that history is kept in memory and rebuilt from it on load. That bounds the state by
the items active over the horizon.

State lives in the index's `aux` db, written in the batch's own transaction (so with the firehose
offsets); it is also kept in memory between batches, valid while the batch generations follow
each other (an aborted batch, or any other writer, makes the next `begin` reload it):

| aux name | key | value |
|---|---|---|
| `trending.open` | kind, bucket, iid | `BitMap.serialize()` of the accounts |
| `trending.hist` | kind, bucket | a closed bucket: its items' iids, ascending, then their distinct accounts (uint32 LE arrays) |
| `trending.clock` | empty | msgpack `{"as_of", "first"}` (`first`: the first event's bucket) |

kind is one byte (`h`, `p`), bucket 8 bytes BE (offset by 2^63 so that any int64 time sorts), iid
4 bytes BE.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import msgpack
import numpy as np
from pyroaring import BitMap

from trending.parser import KINDS, Kind, Use

BUCKET_MS = 60_000  # one minute of event time
RECENT = 30  # buckets in the recent window: 30 minutes
HORIZON = 24 * 60  # buckets of baseline history before the window: one day
ITEM_CACHE_MAX = 1_000_000  # item -> internal id entries kept in memory

OPEN, HIST, CLOCK = "trending.open", "trending.hist", "trending.clock"
KIND_BYTE: dict[str, bytes] = {"hashtag": b"h", "place": b"p"}
_BUCKET = struct.Struct(">Q")
_IID = struct.Struct(">I")
_U32 = np.dtype("<u4")
_OFFSET = 1 << 63


def bucket_of(ts: int) -> int:
    return ts // BUCKET_MS


def _row_key(kind: Kind, bucket: int, iid: int) -> bytes:
    return KIND_BYTE[kind] + _BUCKET.pack(bucket + _OFFSET) + _IID.pack(iid)


def _bucket_key(kind: Kind, bucket: int) -> bytes:
    return KIND_BYTE[kind] + _BUCKET.pack(bucket + _OFFSET)


def _hist_value(iids: list[int], counts: list[int]) -> bytes:
    order = np.argsort(np.asarray(iids, dtype=_U32), kind="stable")
    return np.asarray(iids, dtype=_U32)[order].tobytes() + np.asarray(counts, dtype=_U32)[order].tobytes()


def _hist_arrays(value: bytes) -> tuple[np.ndarray, np.ndarray]:
    both = np.frombuffer(value, dtype=_U32)
    return both[: len(both) // 2], both[len(both) // 2:]


def _parse_row_key(key: bytes) -> tuple[Kind, int, int]:
    kind = "hashtag" if key[:1] == b"h" else "place"
    return kind, _BUCKET.unpack_from(key, 1)[0] - _OFFSET, _IID.unpack_from(key, 9)[0]


class Flushed(NamedTuple):
    as_of: int | None
    window_start: int | None  # first bucket of the recent window
    changed: set[tuple[Kind, int]]  # candidates whose recent count grew in this batch
    reset: bool  # the state was reloaded, or the window moved: every candidate may have changed


class Scorer:
    """`candidate_min`: items with fewer distinct accounts in the window are not candidates (the
    ranker's floor of support), so that a window move rescores the candidates only."""

    def __init__(self, candidate_min: int = 1) -> None:
        self.candidate_min = candidate_min
        self._gen: int | None = None
        self._batch = None

    # -- batch lifecycle -----------------------------------------------------------------

    def begin(self, batch) -> None:
        self._batch = batch
        self._reset = self._gen != batch.gen - 1
        if self._reset:
            self._load(batch)
        self._gen = batch.gen
        self._begun_at = self._window_start
        self._changed: set[tuple[Kind, int]] = set()
        self._dirty_open: set[tuple[Kind, int, int]] = set()

    def _load(self, batch) -> None:
        raw = batch.get_aux(CLOCK, b"")
        clock = msgpack.unpackb(raw) if raw is not None else {"as_of": None, "first": None}
        self.as_of: int | None = clock["as_of"]
        self.first: int | None = clock["first"]
        self.open: dict[tuple[Kind, int], dict[int, BitMap]] = {}  # item -> bucket -> accounts
        self.bucket_items: dict[int, set[tuple[Kind, int]]] = {}  # bucket -> items with accounts in it
        for key, value in batch.aux_items(OPEN):
            kind, bucket, iid = _parse_row_key(key)
            self.open.setdefault((kind, iid), {})[bucket] = BitMap.deserialize(value)
            self.bucket_items.setdefault(bucket, set()).add((kind, iid))
        self.union = {item: BitMap.union(*buckets.values()) for item, buckets in self.open.items()}
        self.candidates = {item for item, accounts in self.union.items() if len(accounts) >= self.candidate_min}
        self.sums: dict[Kind, np.ndarray] = {kind: np.zeros(0, dtype=np.int64) for kind in KINDS}
        for kind in KINDS:
            for _, value in batch.aux_items(HIST, KIND_BYTE[kind]):
                self._add_sums(kind, *_hist_arrays(value))
        self.items: dict[tuple[Kind, str | int], tuple[Kind, int]] = {}  # (kind, hashtag name | place id) -> (kind, iid)
        self._window_start = None if self.as_of is None else bucket_of(self.as_of) - RECENT + 1

    # -- per event -----------------------------------------------------------------------

    def advance(self, ts: int) -> None:
        if self.as_of is None or ts > self.as_of:
            if self.as_of is None:
                self.first = bucket_of(ts)
            self.as_of = ts
            self._window_start = bucket_of(ts) - RECENT + 1

    def add(self, use: Use) -> None:
        """Count one use; `advance(use.ts)` has been called."""
        kind, name, account, ts = use
        bucket = ts // BUCKET_MS
        if bucket < self._window_start:
            return
        item = self.items.get((kind, name))
        if item is None:
            if len(self.items) >= ITEM_CACHE_MAX:
                self.items.clear()
            item = self.items[kind, name] = (kind, self._batch.intern(kind, name))
        buckets = self.open.get(item)
        if buckets is None:
            buckets = self.open[item] = {}
            self.union[item] = BitMap()
        accounts = buckets.get(bucket)
        if accounts is None:
            accounts = buckets[bucket] = BitMap()
            self.bucket_items.setdefault(bucket, set()).add(item)
        if account in accounts:
            return
        accounts.add(account)
        self._dirty_open.add((kind, bucket, item[1]))
        union = self.union[item]
        if account not in union:
            union.add(account)
            self._changed.add(item)
            if len(union) == self.candidate_min:
                self.candidates.add(item)

    # -- per batch -----------------------------------------------------------------------

    def flush(self) -> Flushed:
        """Close the buckets that left the window, drop history past the horizon, and write the
        changed state into the batch."""
        batch = self._batch
        moved = self._close() | self._prune() | (self._window_start != self._begun_at)
        for kind, bucket, iid in self._dirty_open:
            batch.put_aux(OPEN, _row_key(kind, bucket, iid), self.open[kind, iid][bucket].serialize())
        if self.as_of is not None:
            batch.put_aux(CLOCK, b"", msgpack.packb({"as_of": self.as_of, "first": self.first}))
        return Flushed(self.as_of, self._window_start, self._changed & self.candidates, self._reset or moved)

    def _close(self) -> bool:
        closing = sorted(bucket for bucket in self.bucket_items if bucket < self._window_start)
        if not closing:
            return False
        batch = self._batch
        affected: set[tuple[Kind, int]] = set()
        for bucket in closing:
            closed: dict[Kind, tuple[list[int], list[int]]] = {kind: ([], []) for kind in KINDS}
            for item in self.bucket_items.pop(bucket):
                kind, iid = item
                accounts = self.open[item].pop(bucket)
                closed[kind][0].append(iid)
                closed[kind][1].append(len(accounts))
                self._dirty_open.discard((kind, bucket, iid))
                affected.add(item)
            for kind, (iids, counts) in closed.items():
                for key, _ in batch.aux_items(OPEN, _bucket_key(kind, bucket)):
                    batch.delete_aux(OPEN, key)
                if iids:
                    value = _hist_value(iids, counts)
                    batch.put_aux(HIST, _bucket_key(kind, bucket), value)
                    self._add_sums(kind, *_hist_arrays(value))
        for item in affected:
            buckets = self.open[item]
            if buckets:
                self.union[item] = BitMap.union(*buckets.values())
                if len(self.union[item]) < self.candidate_min:
                    self.candidates.discard(item)
            else:
                del self.open[item], self.union[item]
                self.candidates.discard(item)
        return True

    def _prune(self) -> bool:
        """Drop history rows of buckets before the horizon, and their part of the sums."""
        if self._window_start is None:
            return False
        batch, pruned = self._batch, False
        for kind in KINDS:
            for key, value in batch.aux_items(HIST, KIND_BYTE[kind], _bucket_key(kind, self._window_start - HORIZON)):
                iids, counts = _hist_arrays(value)
                self._add_sums(kind, iids, -counts.astype(np.int64))
                batch.delete_aux(HIST, key)
                pruned = True
        return pruned

    def _add_sums(self, kind: Kind, iids: np.ndarray, counts: np.ndarray) -> None:
        if not len(iids):
            return
        sums = self.sums[kind]
        if int(iids.max()) >= len(sums):
            grown = np.zeros(max(int(iids.max()) + 1, 2 * len(sums)), dtype=np.int64)
            grown[: len(sums)] = sums
            sums = self.sums[kind] = grown
        np.add.at(sums, iids.astype(np.int64), counts.astype(np.int64))

    # -- what the ranker reads -------------------------------------------------------------

    def sum(self, kind: Kind, iid: int) -> int:
        """Distinct accounts summed over the item's closed buckets within the horizon."""
        sums = self.sums[kind]
        return int(sums[iid]) if iid < len(sums) else 0

    def history_buckets(self) -> int:
        """How many closed buckets the baseline spans: from the first event, at most `HORIZON`."""
        if self.first is None:
            return 0
        return max(0, min(HORIZON, self._window_start - self.first))

    def recent(self, kind: Kind, iid: int) -> int:
        """Distinct accounts that used the item within the recent window."""
        union = self.union.get((kind, iid))
        return len(union) if union is not None else 0

    def candidate_items(self) -> list[tuple[Kind, int]]:
        """Items with at least `candidate_min` distinct accounts in the recent window."""
        return sorted(self.candidates)
