"""Stage 3, the scorer: per item, the distinct accounts that used it, in time buckets.

Contract: `Scorer.begin(batch)`, then `advance(ts)` for every event and `add(use)` for every
parser `Use` of that event, in stream order, then `flush() -> Flushed`. Buckets are `BUCKET_MS` of event time
(the event's `ts`, not the wall clock). For each (kind, item, bucket) the scorer keeps the set of
accounts (a roaring BitMap of internal user ids), so each account counts once per item per bucket,
and the union over the recent window counts it once per window.

`as_of` is the highest event time seen. The recent window is the `RECENT` buckets ending at
`as_of`'s bucket; its buckets are open. A use older than the window is too late to count and is
dropped. A bucket that leaves the window closes: its bitmaps become one number per item (distinct
accounts), kept as baseline history for `HORIZON` buckets and then dropped, with a running sum per
item; that bounds the state by the items active over the horizon.

State lives in the index's `aux` db, written in the batch's own transaction (so with the firehose
offsets); it is also kept in memory between batches, valid while the batch generations follow
each other (an aborted batch, or any other writer, makes the next `begin` reload it):

| aux name | key | value |
|---|---|---|
| `trending.open` | kind, bucket, iid | `BitMap.serialize()` of the accounts |
| `trending.hist` | kind, bucket, iid | distinct accounts of a closed bucket, 4-byte BE |
| `trending.sum` | kind, iid | the sum of that item's `trending.hist`, 8-byte BE |
| `trending.clock` | empty | msgpack `{"as_of", "first"}` (`first`: the first event's bucket) |

kind is one byte (`h`, `p`), bucket 8 bytes BE (offset by 2^63 so that any int64 time sorts), iid
4 bytes BE.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import msgpack
from pyroaring import BitMap

from trending.parser import KINDS, Kind, Use

BUCKET_MS = 60_000  # one minute of event time
RECENT = 30  # buckets in the recent window: 30 minutes
HORIZON = 24 * 60  # buckets of baseline history before the window: one day
ITEM_CACHE_MAX = 1_000_000  # item -> internal id entries kept in memory

OPEN, HIST, SUM, CLOCK = "trending.open", "trending.hist", "trending.sum", "trending.clock"
KIND_BYTE: dict[str, bytes] = {"hashtag": b"h", "place": b"p"}
_BUCKET = struct.Struct(">Q")
_IID = struct.Struct(">I")
_COUNT = struct.Struct(">I")
_SUM = struct.Struct(">Q")
_OFFSET = 1 << 63


def bucket_of(ts: int) -> int:
    return ts // BUCKET_MS


def _row_key(kind: Kind, bucket: int, iid: int) -> bytes:
    return KIND_BYTE[kind] + _BUCKET.pack(bucket + _OFFSET) + _IID.pack(iid)


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
        self._dirty_sums: set[tuple[Kind, int]] = set()

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
        self.sums: dict[tuple[Kind, int], int] = {}
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
        for kind, iid in self._dirty_sums:
            key = KIND_BYTE[kind] + _IID.pack(iid)
            if self.sums[kind, iid]:
                batch.put_aux(SUM, key, _SUM.pack(self.sums[kind, iid]))
            else:
                batch.delete_aux(SUM, key)
                del self.sums[kind, iid]
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
            for kind, iid in sorted(self.bucket_items.pop(bucket)):
                accounts = self.open[kind, iid].pop(bucket)
                key = _row_key(kind, bucket, iid)
                batch.put_aux(HIST, key, _COUNT.pack(len(accounts)))
                batch.delete_aux(OPEN, key)
                self._dirty_open.discard((kind, bucket, iid))
                self._add_sum(kind, iid, len(accounts))
                affected.add((kind, iid))
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
            start = KIND_BYTE[kind]
            for key, value in batch.aux_items(HIST, start, start + _BUCKET.pack(self._window_start - HORIZON + _OFFSET)):
                _, _, iid = _parse_row_key(key)
                self._add_sum(kind, iid, -_COUNT.unpack(value)[0])
                batch.delete_aux(HIST, key)
                pruned = True
        return pruned

    def _add_sum(self, kind: Kind, iid: int, delta: int) -> None:
        self.sums[kind, iid] = self.sum(kind, iid) + delta
        self._dirty_sums.add((kind, iid))

    # -- what the ranker reads -------------------------------------------------------------

    def sum(self, kind: Kind, iid: int) -> int:
        """Distinct accounts summed over the item's closed buckets within the horizon."""
        total = self.sums.get((kind, iid))
        if total is None:
            raw = self._batch.get_aux(SUM, KIND_BYTE[kind] + _IID.pack(iid))
            total = self.sums[kind, iid] = _SUM.unpack(raw)[0] if raw is not None else 0
        return total

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
