"""Reading an index: `ReadView`, one consistent snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

import lmdb
from pyroaring import BitMap, FrozenBitMap

from indexer.keys import ext_from_bytes, ext_key, head_bytes, text_key
from indexer.store import columns
from indexer.store.codec import (
    GEN,
    IID,
    RANK,
    TIME,
    aux_key,
    aux_scan,
    decode_posting,
    document,
    edge_times,
    posting_bitmap,
    posting_stamp,
    posting_term,
    unpack,
)
from indexer.store.columns import LinkColumns, NameColumn, RankColumns
from indexer.store.environment import Environment
from indexer.store.errors import raises_store_errors, translated

EMPTY = FrozenBitMap()
LOAD_ROWS = 65_536  # stored rows decoded at a time when columns are loaded whole


class ReadView:
    """A consistent snapshot of the index (one LMDB read transaction): it never sees half a batch."""

    @raises_store_errors
    def __init__(self, env: Environment) -> None:
        self._env = env
        self._txn = env.lmdb.begin(buffers=True)
        self._dbs = env.dbs
        raw = self._txn.get(b"gen", db=env.meta)
        self.gen: int = unpack(raw) if raw is not None else 0

    def __enter__(self) -> ReadView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @raises_store_errors
    def close(self) -> None:
        self._txn.abort()

    # The hottest reads translate LMDB's errors in place: a decorator's call costs more than their look-up.

    def posting(self, vertical: str, term: str) -> FrozenBitMap:
        memo = self._env.memo
        hit = memo.get(self.gen, (vertical, term))
        if hit is not None:
            return hit
        key = text_key(term)
        try:
            raw = self._txn.get(key, db=self._dbs[vertical, "post"])
        except lmdb.Error as exc:
            raise translated(exc, self._env.path) from exc
        if raw is None:
            memo.put(self.gen, (vertical, term), EMPTY, 0)
            return EMPTY
        payload = posting_bitmap(key, raw)
        bitmap = self._env.postings.get((vertical, key), posting_stamp(raw), payload)
        memo.put(self.gen, (vertical, term), bitmap, len(payload))
        return bitmap

    @raises_store_errors
    def terms(self, vertical: str, prefix: str) -> Iterator[str]:
        """Stored terms of a vertical that start with `prefix`, in key order (byte order up to
        keys.KEY_MAX bytes)."""
        for term, _, _ in self._stored(vertical, prefix):
            yield term

    @raises_store_errors
    def postings(self, vertical: str, prefix: str) -> Iterator[tuple[str, FrozenBitMap]]:
        """(term, posting) of the stored terms of a vertical that start with `prefix`, in key order,
        decoded but not put in the posting cache: a read of many postings evicts none of the hot ones."""
        for term, key, raw in self._stored(vertical, prefix):
            yield term, decode_posting(posting_bitmap(key, raw))

    def _stored(self, vertical: str, prefix: str) -> Iterator[tuple[str, bytes, memoryview]]:
        """(term, key, stored value) of the vertical's postings whose term starts with `prefix`, in key order."""
        start = head_bytes(prefix)
        cursor = self._txn.cursor(db=self._dbs[vertical, "post"])
        if not cursor.set_range(start):
            return
        for key, raw in cursor.iternext(keys=True, values=True):
            key = bytes(key)
            if not key.startswith(start):
                return
            term = posting_term(key, raw)
            if term.startswith(prefix):
                yield term, key, raw

    def iid(self, vertical: str, ext: int | str) -> int | None:
        try:
            raw = self._txn.get(ext_key(vertical, ext), db=self._dbs[vertical, "ids"])
        except lmdb.Error as exc:
            raise translated(exc, self._env.path) from exc
        return IID.unpack(raw)[0] if raw is not None else None

    def ext(self, vertical: str, iid: int) -> int | str:
        try:
            raw = self._txn.get(IID.pack(iid), db=self._dbs[vertical, "ext"])
        except lmdb.Error as exc:
            raise translated(exc, self._env.path) from exc
        if raw is None:
            raise KeyError(f"no {vertical} with internal id {iid}")
        return ext_from_bytes(vertical, raw)

    def doc(self, vertical: str, iid: int) -> dict | None:
        try:
            raw = self._txn.get(IID.pack(iid), db=self._dbs[vertical, "docs"])
        except lmdb.Error as exc:
            raise translated(exc, self._env.path) from exc
        return document(vertical, raw) if raw is not None else None

    def links(self, iid: int) -> tuple[int, int, list[int], list[int]] | None:
        try:
            raw = self._txn.get(IID.pack(iid), db=self._dbs["media", "links"])
        except lmdb.Error as exc:
            raise translated(exc, self._env.path) from exc
        return tuple(unpack(raw)) if raw is not None else None

    @raises_store_errors
    def meta(self, key: str, default: Any = None) -> Any:
        raw = self._txn.get(key.encode(), db=self._env.meta)
        return unpack(raw) if raw is not None else default

    @raises_store_errors
    def times(self) -> Iterator[tuple[bytes, int]]:
        """Every stored event time under the key it was set with (`WriteBatch.set_time`): the
        tombstones, then the edges, each in key order."""
        for key, raw in self._txn.cursor(db=self._env.times):
            yield bytes(key), TIME.unpack(raw)[0]
        for group, raw in self._txn.cursor(db=self._env.edge_times):
            group = bytes(group)
            for target, ts in sorted(edge_times(raw).items()):
                yield group + IID.pack(target), ts

    @raises_store_errors
    def aux(self, name: str, key: bytes) -> bytes | None:
        """The value stored under (`name`, `key`) by `WriteBatch.put_aux`, or None."""
        if self._env.aux is None:
            return None
        raw = self._txn.get(aux_key(name, key), db=self._env.aux)
        return bytes(raw) if raw is not None else None

    @raises_store_errors
    def aux_items(self, name: str, prefix: bytes = b"", below: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) pairs of `name` whose key starts with `prefix` (and is below `below`), in
        byte order of the key."""
        if self._env.aux is not None:
            yield from aux_scan(self._txn, self._env.aux, name, prefix, below)

    def rank(self, vertical: str) -> RankColumns:
        """Static-order columns, refreshed to this view's generation when they are older."""
        current = self._env.ranks[vertical]
        if current.gen < self.gen:
            self._refresh(vertical, "rank", current)
        return current

    def hashtag_names(self) -> NameColumn:
        """Every hashtag's name and place in name order by internal id (at least every id this view knows)."""
        current = self._env.hashtag_names
        if current.gen < self.gen:
            self._read_names(current)
        return current

    @raises_store_errors
    def _read_names(self, current: NameColumn) -> None:
        """The names of the ids allocated since `current` was read: `hashtag.ext` from its length on."""
        with self._env.columns_lock:
            if current.gen >= self.gen:
                return
            cursor = self._txn.cursor(db=self._dbs["hashtag", "ext"])
            named = []
            if cursor.set_range(IID.pack(len(current.name))):
                named = [(IID.unpack(key)[0], ext_from_bytes("hashtag", raw)) for key, raw in cursor.iternext()]
            current.extend(named)
            current.gen = self.gen

    def link_columns(self) -> LinkColumns:
        """Media link columns, refreshed to this view's generation when they are older."""
        current = self._env.links
        if current.gen < self.gen:
            self._refresh("media", "links", current)
        return current

    @raises_store_errors
    def _refresh(self, vertical: str, kind: str, current: RankColumns | LinkColumns) -> None:
        """Apply the changes after `current.gen` recorded in `{vertical}.rankdirty` (documents
        changed, and with a media document its links), or reload all when they were pruned."""
        with self._env.columns_lock:
            if current.gen >= self.gen:
                return
            dirty = self._dirty_since(vertical, current.gen)
            db = self._dbs[vertical, kind]
            decode = RANK.unpack if kind == "rank" else unpack
            if dirty is None:  # load into fresh columns, then swap them in whole
                fresh = type(current)()
                rows = ((IID.unpack(key)[0], decode(value)) for key, value in self._txn.cursor(db=db).iternext())
                while chunk := list(islice(rows, LOAD_ROWS)):  # bounded: a list of every row took ~0.5 GB at M
                    fresh.load(chunk)
                vars(current).update(vars(fresh))
            else:
                for iid in dirty:
                    current.reserve(iid + 1)
                    raw = self._txn.get(IID.pack(iid), db=db)
                    current.set(iid, decode(raw) if raw is not None else None)
            current.gen = self.gen

    @raises_store_errors
    def changed_since(self, vertical: str, gen: int) -> BitMap | None:
        """Internal ids whose documents changed after `gen` up to this view; None when unknown."""
        return self._dirty_since(vertical, gen)

    def _dirty_since(self, vertical: str, gen: int) -> BitMap | None:
        if gen < 0 or gen < self.gen - columns.RANKDIRTY_KEEP:
            return None
        dirty = BitMap()
        cursor = self._txn.cursor(db=self._dbs[vertical, "rankdirty"])
        if cursor.set_range(GEN.pack(gen + 1)):
            for key, value in cursor.iternext():
                if GEN.unpack(key)[0] > self.gen:
                    break
                dirty |= BitMap.deserialize(value)
        return dirty
