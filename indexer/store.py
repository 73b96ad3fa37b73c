"""The index store: roaring-bitmap posting lists, id maps and documents in one LMDB environment.

Writers apply a whole batch in one `WriteBatch` (one LMDB write transaction) together with the
firehose offsets it consumed; readers take `ReadView` snapshots and never see half a batch.
Layout: ARCHITECTURE.md.
"""

from __future__ import annotations

import struct
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lmdb
import msgpack
import numpy as np
from pyroaring import AbstractBitMap, BitMap, FrozenBitMap

from indexer.keys import (
    ext_bytes,
    ext_from_bytes,
    ext_key,
    head_bytes,
    is_digest_key,
    text_bytes,
    text_from_bytes,
    text_key,
)
from vocabulary.schema import RANK_COUNT, VERTICALS
from vocabulary.terms import LIVE

SCHEMA_VERSION = 1
EMPTY = FrozenBitMap()
_IID = struct.Struct(">I")
_GEN = struct.Struct(">Q")
_RANK = struct.Struct("<qqQ")  # count, taken_at, external id
_LEN = struct.Struct(">I")
_TIME = struct.Struct(">q")  # an event's ts
RANKDIRTY_KEEP = 4096  # generations of document changes kept for incremental reader refresh
ID_CACHE_MAX = 4_000_000  # id map entries a writer keeps in memory


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def _unpack(raw: bytes | memoryview) -> Any:
    return msgpack.unpackb(raw, raw=False, strict_map_key=False)


def _posting_value(key: bytes, term: str, stamp: bytes, bitmap: BitMap) -> bytes:
    """Stamp, then (under a digest key) the whole term's length and utf-8, then the bitmap."""
    if is_digest_key(key):
        whole = text_bytes(term)
        return stamp + _LEN.pack(len(whole)) + whole + bitmap.serialize()
    return stamp + bitmap.serialize()


def _posting_bitmap(key: bytes, raw: bytes | memoryview) -> bytes | memoryview:
    """The serialized bitmap of a stored posting value."""
    if is_digest_key(key):
        return raw[8 + _LEN.size + _LEN.unpack_from(raw, 8)[0]:]
    return raw[8:]


def _posting_term(key: bytes, raw: bytes | memoryview) -> str:
    """The whole term of a stored posting."""
    if is_digest_key(key):
        size = _LEN.unpack_from(raw, 8)[0]
        return text_from_bytes(raw[8 + _LEN.size:8 + _LEN.size + size])
    return text_from_bytes(key)


def _aux_key(name: str, key: bytes) -> bytes:
    return name.encode() + b"\0" + key


def _aux_scan(txn, db, name: str, prefix: bytes, below: bytes | None) -> Iterator[tuple[bytes, bytes]]:
    start = _aux_key(name, prefix)
    stop = None if below is None else _aux_key(name, below)
    skip = len(name) + 1
    cursor = txn.cursor(db=db)
    if not cursor.set_range(start):
        return
    for key, value in cursor.iternext():
        key = bytes(key)
        if not key.startswith(start) or (stop is not None and key >= stop):
            return
        yield key[skip:], bytes(value)


class RankColumns:
    """Static-order fields per internal id, as numpy columns (docs/query-language.md static order).

    `count` leads the order of every vertical; `taken_at` breaks media ties; `ext_id` is the
    external id (0 for hashtags, whose ties break by name via `ReadView.ext`).
    """

    def __init__(self) -> None:
        self.gen = -1
        self.count = np.zeros(0, dtype=np.int64)
        self.taken_at = np.zeros(0, dtype=np.int64)
        self.ext_id = np.zeros(0, dtype=np.uint64)

    def _reserve(self, size: int) -> None:
        if size <= len(self.count):
            return
        capacity = max(size, 2 * len(self.count), 1024)
        for name in ("count", "taken_at", "ext_id"):
            old = getattr(self, name)
            new = np.zeros(capacity, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def _set(self, iid: int, rank: tuple[int, int, int] | None) -> None:
        count, taken_at, ext = rank if rank is not None else (0, 0, 0)
        self.count[iid] = count
        self.taken_at[iid] = taken_at
        self.ext_id[iid] = ext


class LinkColumns:
    """Media links per internal media id, as numpy columns (`extract` reads these, not msgpack).

    `owner` and `place` hold one internal id or -1. `hashtag` and `mention` are int32 rows of up to
    `WIDTH[field]` ids padded with -1; a media with more, or with an id past int32, keeps its whole
    list in `overflow[field]` instead.
    """

    WIDTH = {"hashtag": 8, "mention": 2}
    ROW_MAX = 2**31 - 1

    def __init__(self) -> None:
        self.gen = -1
        self.owner = np.full(0, -1, dtype=np.int64)
        self.place = np.full(0, -1, dtype=np.int64)
        self.hashtag = np.full((0, self.WIDTH["hashtag"]), -1, dtype=np.int32)
        self.mention = np.full((0, self.WIDTH["mention"]), -1, dtype=np.int32)
        self.overflow: dict[str, dict[int, list[int]]] = {"hashtag": {}, "mention": {}}
        self.overflowing: dict[str, BitMap] = {"hashtag": BitMap(), "mention": BitMap()}

    def _reserve(self, size: int) -> None:
        if size <= len(self.owner):
            return
        capacity = max(size, 2 * len(self.owner), 1024)
        for name in ("owner", "place", "hashtag", "mention"):
            old = getattr(self, name)
            new = np.full((capacity, *old.shape[1:]), -1, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def _set(self, iid: int, links: list | None) -> None:
        owner, place, hashtags, mentions = links if links is not None else (-1, -1, [], [])
        self.owner[iid] = owner
        self.place[iid] = place
        for name, ids in (("hashtag", hashtags), ("mention", mentions)):
            row = getattr(self, name)[iid]
            row[:] = -1
            if len(ids) <= self.WIDTH[name] and all(i <= self.ROW_MAX for i in ids):
                row[: len(ids)] = ids
                if iid in self.overflowing[name]:
                    del self.overflow[name][iid]
                    self.overflowing[name].discard(iid)
            else:
                self.overflow[name][iid] = list(ids)
                self.overflowing[name].add(iid)

    def targets(self, field: str, media: AbstractBitMap) -> list[int]:
        """The distinct internal ids that field `field` of the given media points to, ascending."""
        return self.target_counts(field, media)[0].tolist()

    def target_counts(self, field: str, media: AbstractBitMap) -> tuple[np.ndarray, np.ndarray]:
        """The distinct internal ids that field `field` of the given media points to, ascending,
        and for each how many of the media point to it."""
        ids = np.frombuffer(media.to_array(), dtype=np.uint32)
        column = getattr(self, field)[ids[ids < len(self.owner)]]
        found = column[column >= 0].astype(np.int64, copy=False)
        if column.ndim == 2 and self.overflowing[field]:
            extra = [i for m in media & self.overflowing[field] for i in self.overflow[field][m]]
            found = np.concatenate([found, np.asarray(extra, dtype=np.int64)])
        if not len(found):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        counts = np.bincount(found)
        present = np.flatnonzero(counts)
        return present, counts[present]

    def pointing(self, field: str, media: AbstractBitMap, targets: AbstractBitMap) -> BitMap:
        """Those of `media` whose field `field` points to one of `targets`, ascending."""
        ids = np.frombuffer(media.to_array(), dtype=np.uint32)
        ids = ids[ids < len(self.owner)]
        wanted = np.zeros(targets.max() + 1 if targets else 1, dtype=bool)
        wanted[np.frombuffer(targets.to_array(), dtype=np.uint32)] = bool(targets)
        column = getattr(self, field)[ids]
        known = (column >= 0) & (column < len(wanted))
        hit = np.zeros(column.shape, dtype=bool)
        hit[known] = wanted[column[known]]
        found = BitMap(ids[hit.reshape(len(ids), -1).any(axis=1)].tolist())
        if column.ndim == 2 and self.overflowing[field]:
            for m in media & self.overflowing[field]:
                if any(t in targets for t in self.overflow[field][m]):
                    found.add(m)
        return found

    def of(self, field: str, media: int) -> list[int]:
        """What field `field` of one media points to."""
        if media >= len(self.owner):
            return []
        if field in self.overflow and media in self.overflowing[field]:
            return self.overflow[field][media]
        column = getattr(self, field)[media]
        return [int(i) for i in np.atleast_1d(column) if i >= 0]


class Index:
    """One LMDB environment holding every vertical's postings, id maps, documents and ranks."""

    def __init__(
        self,
        path: str | Path,
        *,
        readonly: bool = False,
        map_size: int = 1 << 38,
        cache_bytes: int = 256 << 20,
    ) -> None:
        self.path = Path(path)
        if not readonly:
            self.path.mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(
            str(self.path),
            map_size=map_size,
            max_dbs=8 * len(VERTICALS) + 3,
            max_readers=1024,
            readonly=readonly,
            readahead=False,
            metasync=False,
        )
        create = not readonly
        try:  # created before `meta`, so that a reader that finds `meta` finds `aux`
            self._aux = self.env.open_db(b"aux", create=create)
        except lmdb.NotFoundError:  # a read-only open of an index written before `aux` existed
            self._aux = None
        self._meta = self.env.open_db(b"meta", create=create)
        self._times = self.env.open_db(b"times", create=create)
        self._dbs: dict[tuple[str, str], Any] = {}
        for vertical in VERTICALS:
            for kind in ("ids", "ext", "docs", "post", "rank", "links", "rankdirty"):
                name = f"{vertical}.{kind}".encode()
                self._dbs[vertical, kind] = self.env.open_db(name, create=create)
        if create:
            with self.env.begin(write=True) as txn:
                schema = txn.get(b"schema", db=self._meta)
                if schema is None:
                    txn.put(b"schema", _pack(SCHEMA_VERSION), db=self._meta)
                    txn.put(b"gen", _pack(0), db=self._meta)
                elif _unpack(schema) != SCHEMA_VERSION:
                    raise RuntimeError(f"index at {self.path} has schema {_unpack(schema)}, expected {SCHEMA_VERSION}")
        self._cache = _PostingCache(cache_bytes)
        self._ids: dict[tuple[str, int | str], int] = {}  # committed id map entries (never change)
        self._ranks = {vertical: RankColumns() for vertical in VERTICALS}
        self._links = LinkColumns()
        self._rank_lock = threading.Lock()

    @property
    def gen(self) -> int:
        with self.env.begin() as txn:
            raw = txn.get(b"gen", db=self._meta)
        return _unpack(raw) if raw is not None else 0

    def offsets(self, source: str) -> dict[int, int]:
        """Committed next offset per partition of a firehose source."""
        with self.env.begin() as txn:
            raw = txn.get(f"offsets:{source}".encode(), db=self._meta)
        return _unpack(raw) if raw is not None else {}

    def reader(self) -> ReadView:
        return ReadView(self)

    def writer(self) -> WriteBatch:
        return WriteBatch(self)

    def backup(self, dest: str | Path) -> None:
        """Copy the index, compacted, to the empty or new directory `dest`: one consistent snapshot
        (whole batches with their firehose offsets), taken while readers and the writer go on."""
        Path(dest).mkdir(parents=True, exist_ok=True)
        self.env.copy(str(dest), compact=True)

    def size_bytes(self) -> int:
        info = self.env.info()
        return info["last_pgno"] * self.env.stat()["psize"]

    def close(self) -> None:
        self.env.close()


class _PostingCache:
    """Decoded posting lists, keyed by term and validated by the generation stored with each."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.entries: OrderedDict[tuple[str, bytes], tuple[bytes, FrozenBitMap, int]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[str, bytes], stamp: bytes, payload: memoryview) -> FrozenBitMap:
        with self.lock:
            hit = self.entries.get(key)
            if hit is not None and hit[0] == stamp:
                self.entries.move_to_end(key)
                return hit[1]
        bitmap = FrozenBitMap.deserialize(payload)
        size = len(payload)
        with self.lock:
            old = self.entries.pop(key, None)
            if old is not None:
                self.bytes -= old[2]
            self.entries[key] = (stamp, bitmap, size)
            self.bytes += size
            while self.bytes > self.max_bytes and self.entries:
                _, (_, _, evicted) = self.entries.popitem(last=False)
                self.bytes -= evicted
        return bitmap


class ReadView:
    """A consistent snapshot of the index (one LMDB read transaction)."""

    def __init__(self, index: Index) -> None:
        self._index = index
        self._txn = index.env.begin(buffers=True)
        self._dbs = index._dbs
        raw = self._txn.get(b"gen", db=index._meta)
        self.gen: int = _unpack(raw) if raw is not None else 0

    def __enter__(self) -> ReadView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._txn.abort()

    def posting(self, vertical: str, term: str) -> FrozenBitMap:
        key = text_key(term)
        raw = self._txn.get(key, db=self._dbs[vertical, "post"])
        if raw is None:
            return EMPTY
        return self._index._cache.get((vertical, key), bytes(raw[:8]), _posting_bitmap(key, raw))

    def terms(self, vertical: str, prefix: str) -> Iterator[str]:
        """Stored terms of a vertical that start with `prefix`, in key order (byte order up to
        schema.KEY_MAX bytes)."""
        start = head_bytes(prefix)
        cursor = self._txn.cursor(db=self._dbs[vertical, "post"])
        if not cursor.set_range(start):
            return
        for key, raw in cursor.iternext(keys=True, values=True):
            key = bytes(key)
            if not key.startswith(start):
                return
            term = _posting_term(key, raw)
            if term.startswith(prefix):
                yield term

    def postings(self, vertical: str, prefix: str) -> Iterator[tuple[str, FrozenBitMap]]:
        """(term, posting) of the stored terms of a vertical that start with `prefix`, in key order,
        decoded but not put in the posting cache: a read of many postings evicts none of the hot ones."""
        start = head_bytes(prefix)
        cursor = self._txn.cursor(db=self._dbs[vertical, "post"])
        if not cursor.set_range(start):
            return
        for key, raw in cursor.iternext(keys=True, values=True):
            key = bytes(key)
            if not key.startswith(start):
                return
            term = _posting_term(key, raw)
            if term.startswith(prefix):
                yield term, FrozenBitMap.deserialize(_posting_bitmap(key, raw))

    def iid(self, vertical: str, ext: int | str) -> int | None:
        raw = self._txn.get(ext_key(vertical, ext), db=self._dbs[vertical, "ids"])
        return _IID.unpack(raw)[0] if raw is not None else None

    def ext(self, vertical: str, iid: int) -> int | str:
        raw = self._txn.get(_IID.pack(iid), db=self._dbs[vertical, "ext"])
        if raw is None:
            raise KeyError(f"no {vertical} with internal id {iid}")
        return ext_from_bytes(vertical, raw)

    def doc(self, vertical: str, iid: int) -> dict | None:
        raw = self._txn.get(_IID.pack(iid), db=self._dbs[vertical, "docs"])
        return _unpack(raw) if raw is not None else None

    def links(self, iid: int) -> tuple[int, int, list[int], list[int]] | None:
        raw = self._txn.get(_IID.pack(iid), db=self._dbs["media", "links"])
        return tuple(_unpack(raw)) if raw is not None else None

    def meta(self, key: str, default: Any = None) -> Any:
        raw = self._txn.get(key.encode(), db=self._index._meta)
        return _unpack(raw) if raw is not None else default

    def times(self) -> Iterator[tuple[bytes, int]]:
        """Every stored event time (`times` db), in key order."""
        for key, raw in self._txn.cursor(db=self._index._times):
            yield bytes(key), _TIME.unpack(raw)[0]

    def aux(self, name: str, key: bytes) -> bytes | None:
        """The value stored under (`name`, `key`) by `WriteBatch.put_aux`, or None."""
        if self._index._aux is None:
            return None
        raw = self._txn.get(_aux_key(name, key), db=self._index._aux)
        return bytes(raw) if raw is not None else None

    def aux_items(self, name: str, prefix: bytes = b"", below: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) pairs of `name` whose key starts with `prefix` (and is below `below`), in
        byte order of the key."""
        if self._index._aux is None:
            return iter(())
        return _aux_scan(self._txn, self._index._aux, name, prefix, below)

    def rank(self, vertical: str) -> RankColumns:
        """Static-order columns, refreshed to this view's generation when they are older."""
        columns = self._index._ranks[vertical]
        if columns.gen < self.gen:
            self._refresh(vertical, "rank", columns)
        return columns

    def link_columns(self) -> LinkColumns:
        """Media link columns, refreshed to this view's generation when they are older."""
        columns = self._index._links
        if columns.gen < self.gen:
            self._refresh("media", "links", columns)
        return columns

    def _refresh(self, vertical: str, kind: str, columns: RankColumns | LinkColumns) -> None:
        """Apply the changes after `columns.gen` recorded in `{vertical}.rankdirty` (documents
        changed, and with a media document its links), or reload all when they were pruned."""
        with self._index._rank_lock:
            if columns.gen >= self.gen:
                return
            dirty = self._dirty_since(vertical, columns.gen)
            db = self._dbs[vertical, kind]
            decode = _RANK.unpack if kind == "rank" else _unpack
            if dirty is None:  # load into fresh columns, then swap them in whole
                fresh = type(columns)()
                cursor = self._txn.cursor(db=db)
                if cursor.last():
                    fresh._reserve(_IID.unpack(cursor.key())[0] + 1)
                for key, value in self._txn.cursor(db=db).iternext():
                    fresh._set(_IID.unpack(key)[0], decode(value))
                vars(columns).update(vars(fresh))
            else:
                for iid in dirty:
                    columns._reserve(iid + 1)
                    raw = self._txn.get(_IID.pack(iid), db=db)
                    columns._set(iid, decode(raw) if raw is not None else None)
            columns.gen = self.gen

    def changed_since(self, vertical: str, gen: int) -> BitMap | None:
        """Internal ids whose documents changed after `gen` up to this view; None when unknown."""
        return self._dirty_since(vertical, gen)

    def _dirty_since(self, vertical: str, gen: int) -> BitMap | None:
        """Internal ids whose documents changed after `gen` up to this view; None when unknown."""
        if gen < 0 or gen < self.gen - RANKDIRTY_KEEP:
            return None
        dirty = BitMap()
        cursor = self._txn.cursor(db=self._dbs[vertical, "rankdirty"])
        if cursor.set_range(_GEN.pack(gen + 1)):
            for key, value in cursor.iternext():
                if _GEN.unpack(key)[0] > self.gen:
                    break
                dirty |= BitMap.deserialize(value)
        return dirty


class WriteBatch:
    """One atomic batch of changes: postings, id maps, documents, ranks, links and offsets."""

    def __init__(self, index: Index) -> None:
        self._index = index
        self._dbs = index._dbs
        self._meta = index._meta
        self._txn = index.env.begin(write=True)
        self.gen: int = _unpack(self._txn.get(b"gen", db=self._meta)) + 1
        self._stamp = _GEN.pack(self.gen)
        self._postings: dict[tuple[str, str], BitMap] = {}
        self._dirty_postings: set[tuple[str, str]] = set()
        self._docs: dict[tuple[str, int], dict | None] = {}
        self._dirty_docs: set[tuple[str, int]] = set()
        self._next_id = {v: self._get_meta(f"next_id:{v}", 0) for v in VERTICALS}
        self._new_ids: dict[tuple[str, int | str], int] = {}
        self._relinked: set[int] = set()  # media whose links changed, recorded in media.rankdirty
        self._done = False

    def __enter__(self) -> WriteBatch:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def _get_meta(self, key: str, default: Any = None) -> Any:
        raw = self._txn.get(key.encode(), db=self._meta)
        return _unpack(raw) if raw is not None else default

    # ids

    def iid(self, vertical: str, ext: int | str) -> int | None:
        key = (vertical, ext)
        iid = self._index._ids.get(key)
        if iid is None:
            iid = self._new_ids.get(key)
        if iid is not None:
            return iid
        raw = self._txn.get(ext_key(vertical, ext), db=self._dbs[vertical, "ids"])
        if raw is None:
            return None
        iid = self._index._ids[key] = _IID.unpack(raw)[0]
        return iid

    def intern(self, vertical: str, ext: int | str) -> int:
        """The internal id of an external one, allocated on first reference."""
        iid = self.iid(vertical, ext)
        if iid is not None:
            return iid
        iid = self._next_id[vertical]
        if iid >= 2**32:
            raise OverflowError(f"{vertical}: internal id space exhausted")
        self._next_id[vertical] = iid + 1
        self._new_ids[vertical, ext] = iid
        self._txn.put(ext_key(vertical, ext), _IID.pack(iid), db=self._dbs[vertical, "ids"])
        self._txn.put(_IID.pack(iid), ext_bytes(vertical, ext), db=self._dbs[vertical, "ext"])
        return iid

    def ext(self, vertical: str, iid: int) -> int | str:
        return ext_from_bytes(vertical, self._txn.get(_IID.pack(iid), db=self._dbs[vertical, "ext"]))

    # postings

    def posting(self, vertical: str, term: str) -> BitMap:
        """The batch's current posting list; read it, change it only through add/remove."""
        key = (vertical, term)
        bitmap = self._postings.get(key)
        if bitmap is None:
            stored = text_key(term)
            raw = self._txn.get(stored, db=self._dbs[vertical, "post"])
            bitmap = BitMap.deserialize(_posting_bitmap(stored, raw)) if raw is not None else BitMap()
            self._postings[key] = bitmap
        return bitmap

    def add(self, vertical: str, term: str, iid: int) -> None:
        key = (vertical, term)
        bitmap = self._postings.get(key)
        (bitmap if bitmap is not None else self.posting(vertical, term)).add(iid)
        self._dirty_postings.add(key)

    def remove(self, vertical: str, term: str, iid: int) -> None:
        key = (vertical, term)
        bitmap = self._postings.get(key)
        (bitmap if bitmap is not None else self.posting(vertical, term)).discard(iid)
        self._dirty_postings.add(key)

    def add_many(self, vertical: str, term: str, iids: BitMap) -> None:
        self.posting(vertical, term).update(iids)
        self._dirty_postings.add((vertical, term))

    def is_live(self, vertical: str, iid: int) -> bool:
        return iid in self.posting(vertical, LIVE)

    # documents

    def doc(self, vertical: str, iid: int) -> dict | None:
        """The batch's current document; after changing it in place, call `put_doc`."""
        key = (vertical, iid)
        if key not in self._docs:
            raw = self._txn.get(_IID.pack(iid), db=self._dbs[vertical, "docs"])
            self._docs[key] = _unpack(raw) if raw is not None else None
        return self._docs[key]

    def put_doc(self, vertical: str, iid: int, doc: dict) -> None:
        self._docs[vertical, iid] = doc
        self._dirty_docs.add((vertical, iid))

    def delete_doc(self, vertical: str, iid: int) -> None:
        self._docs[vertical, iid] = None
        self._dirty_docs.add((vertical, iid))

    def set_links(self, iid: int, links: tuple[int, int, list[int], list[int]] | None) -> None:
        db = self._dbs["media", "links"]
        self._relinked.add(iid)
        if links is None:
            self._txn.delete(_IID.pack(iid), db=db)
        else:
            self._txn.put(_IID.pack(iid), _pack(list(links)), db=db)

    # metadata

    def set_offsets(self, source: str, offsets: dict[int, int]) -> None:
        """Record the next offset per partition; committed atomically with the batch."""
        merged = self._get_meta(f"offsets:{source}", {})
        merged.update(offsets)
        self.set_meta(f"offsets:{source}", merged)

    def set_meta(self, key: str, value: Any) -> None:
        self._txn.put(key.encode(), _pack(value), db=self._meta)

    def meta(self, key: str, default: Any = None) -> Any:
        return self._get_meta(key, default)

    def time(self, key: bytes) -> int | None:
        """The event time stored under `key` (slipstream's edge times and tombstones)."""
        raw = self._txn.get(key, db=self._index._times)
        return _TIME.unpack(raw)[0] if raw is not None else None

    def set_time(self, key: bytes, ts: int | None) -> None:
        if ts is None:
            self._txn.delete(key, db=self._index._times)
        else:
            self._txn.put(key, _TIME.pack(ts), db=self._index._times)

    # auxiliary key-value state of other components (e.g. trending), committed with the batch

    def put_aux(self, name: str, key: bytes, value: bytes) -> None:
        self._txn.put(_aux_key(name, key), value, db=self._index._aux)

    def get_aux(self, name: str, key: bytes) -> bytes | None:
        raw = self._txn.get(_aux_key(name, key), db=self._index._aux)
        return bytes(raw) if raw is not None else None

    def delete_aux(self, name: str, key: bytes) -> None:
        self._txn.delete(_aux_key(name, key), db=self._index._aux)

    def aux_items(self, name: str, prefix: bytes = b"", below: bytes | None = None) -> list[tuple[bytes, bytes]]:
        """(key, value) pairs of `name` whose key starts with `prefix` (and is below `below`), in
        byte order; a list, so the caller may put or delete while going through it."""
        return list(_aux_scan(self._txn, self._index._aux, name, prefix, below))

    # completion

    def commit(self) -> None:
        if self._done:
            return
        txn = self._txn
        for vertical, term in self._dirty_postings:
            bitmap = self._postings[vertical, term]
            db = self._dbs[vertical, "post"]
            key = text_key(term)
            if bitmap:
                bitmap.run_optimize()
                txn.put(key, _posting_value(key, term, self._stamp, bitmap), db=db)
            else:
                txn.delete(key, db=db)
        rank_changed: dict[str, BitMap] = {}
        for vertical, iid in self._dirty_docs:
            doc = self._docs[vertical, iid]
            key = _IID.pack(iid)
            if doc is None:
                txn.delete(key, db=self._dbs[vertical, "docs"])
                txn.delete(key, db=self._dbs[vertical, "rank"])
            else:
                txn.put(key, _pack(doc), db=self._dbs[vertical, "docs"])
                ext = 0 if vertical == "hashtag" else doc["id"]
                rank = _RANK.pack(doc[RANK_COUNT[vertical]], doc.get("taken_at", 0), ext)
                txn.put(key, rank, db=self._dbs[vertical, "rank"])
            rank_changed.setdefault(vertical, BitMap()).add(iid)
        if self._relinked:
            rank_changed.setdefault("media", BitMap()).update(self._relinked)
        for vertical, iids in rank_changed.items():
            db = self._dbs[vertical, "rankdirty"]
            txn.put(self._stamp, iids.serialize(), db=db)
            if self.gen > RANKDIRTY_KEEP:
                cursor = txn.cursor(db=db)
                while cursor.first() and _GEN.unpack(cursor.key())[0] <= self.gen - RANKDIRTY_KEEP:
                    cursor.delete()
        for vertical, next_id in self._next_id.items():
            self.set_meta(f"next_id:{vertical}", next_id)
        self.set_meta("gen", self.gen)
        txn.commit()
        if len(self._index._ids) > ID_CACHE_MAX:
            self._index._ids.clear()
        self._index._ids.update(self._new_ids)
        self._done = True

    def abort(self) -> None:
        if not self._done:
            self._txn.abort()
            self._done = True
