"""Writing an index: `WriteBatch`, one atomic batch (one LMDB write transaction)."""

from __future__ import annotations

from collections.abc import Iterable
from operator import itemgetter
from typing import Any

import lmdb
from pyroaring import BitMap

from indexer.keys import ext_bytes, ext_from_bytes, ext_key, text_key
from indexer.store import columns
from indexer.store.codec import (
    EDGE_GROUP,
    GEN,
    IID,
    TIME,
    aux_key,
    aux_scan,
    decode_posting,
    doc_value,
    document,
    edge_time,
    edge_times,
    edge_times_value,
    edge_times_without,
    next_id_key,
    offsets_key,
    pack,
    posting_bitmap,
    posting_value,
    rank_value,
    unpack,
)
from indexer.store.environment import Environment
from indexer.store.errors import raises_store_errors, translated
from vocabulary.schema import VERTICALS
from vocabulary.terms import LIVE

ID_CACHE_MAX = 4_000_000  # id map entries a writer keeps in memory


class WriteBatch:
    """One atomic batch of changes: postings, id maps, documents, ranks, links and offsets.

    Postings and documents are changed in memory and written at `commit`, with the generation
    incremented; everything commits together or not at all.
    """

    @raises_store_errors
    def __init__(self, env: Environment) -> None:
        self._env = env
        self._dbs = env.dbs
        self._txn = env.lmdb.begin(write=True)
        self.gen: int = unpack(self._txn.get(b"gen", db=env.meta)) + 1
        self._stamp = GEN.pack(self.gen)
        self._postings: dict[tuple[str, str], BitMap] = {}
        self._dirty_postings: set[tuple[str, str]] = set()
        self._docs: dict[tuple[str, int], dict | None] = {}
        self._dirty_docs: set[tuple[str, int]] = set()
        self._stored_ranks: dict[tuple[str, int], bytes] = {}  # rank values of the documents read from the store
        self._next_id = {v: self.meta(next_id_key(v), 0) for v in VERTICALS}
        self._stored_ids = dict(self._next_id)  # internal ids from here on have nothing stored yet
        self._stored_postings = {v for v in VERTICALS if self._txn.stat(self._dbs[v, "post"])["entries"]}
        self._new_ids: dict[tuple[str, int | str], int] = {}
        self._relinked: set[int] = set()  # media whose links changed, recorded in media.rankdirty
        self._time_kinds = self._stored_time_kinds()
        self._times: dict[bytes, int | None] = {}
        self._edge_groups: dict[bytes, bytes | dict[int, int]] = {}  # edge times by group, as of this batch
        self._dirty_edge_groups: set[bytes] = set()
        self._done = False

    def __enter__(self) -> WriteBatch:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    # ids

    def iid(self, vertical: str, ext: int | str) -> int | None:
        key = (vertical, ext)
        iid = self._env.ids.get(key)
        if iid is None:
            iid = self._new_ids.get(key)
            if iid is None and self._stored_ids[vertical]:
                return self._stored_iid(vertical, ext)
        return iid

    def _stored_iid(self, vertical: str, ext: int | str) -> int | None:
        raw = self._get(ext_key(vertical, ext), self._dbs[vertical, "ids"])
        if raw is None:
            return None
        iid = self._env.ids[vertical, ext] = IID.unpack(raw)[0]
        return iid

    def intern(self, vertical: str, ext: int | str) -> int:
        """The internal id of an external one, allocated on first reference."""
        iid = self.iid(vertical, ext)
        return iid if iid is not None else self._allocate(vertical, ext)

    @raises_store_errors
    def _allocate(self, vertical: str, ext: int | str) -> int:
        iid = self._next_id[vertical]
        if iid >= 2**32:
            raise OverflowError(f"{vertical}: internal id space exhausted")
        self._next_id[vertical] = iid + 1
        self._new_ids[vertical, ext] = iid
        self._txn.put(ext_key(vertical, ext), IID.pack(iid), db=self._dbs[vertical, "ids"])
        self._txn.put(IID.pack(iid), ext_bytes(vertical, ext), db=self._dbs[vertical, "ext"])
        return iid

    def ext(self, vertical: str, iid: int) -> int | str:
        return ext_from_bytes(vertical, self._get(IID.pack(iid), self._dbs[vertical, "ext"]))

    def _get(self, key: bytes, db: Any) -> bytes | None:
        """The value under `key` in `db`, None when there is none; StoreError when LMDB fails."""
        try:
            return self._txn.get(key, db=db)
        except lmdb.Error as exc:
            raise translated(exc, self._env.path) from exc

    # postings

    def posting(self, vertical: str, term: str) -> BitMap:
        """The batch's current posting list; read it, change it only through add/remove."""
        key = (vertical, term)
        bitmap = self._postings.get(key)
        if bitmap is None:
            stored = vertical in self._stored_postings
            bitmap = self._postings[key] = self._stored_posting(vertical, term) if stored else BitMap()
        return bitmap

    def _stored_posting(self, vertical: str, term: str) -> BitMap:
        key = text_key(term)
        raw = self._get(key, self._dbs[vertical, "post"])
        return decode_posting(posting_bitmap(key, raw), BitMap) if raw is not None else BitMap()

    def add(self, vertical: str, term: str, iid: int) -> None:
        key = (vertical, term)
        bitmap = self._postings.get(key)
        (bitmap if bitmap is not None else self.posting(vertical, term)).add(iid)
        self._dirty_postings.add(key)

    def add_terms(self, vertical: str, terms: Iterable[str], iid: int) -> None:
        """`add` of `iid` to each of `terms`."""
        postings, dirty = self._postings, self._dirty_postings
        for term in terms:
            key = (vertical, term)
            bitmap = postings.get(key)
            (bitmap if bitmap is not None else self.posting(vertical, term)).add(iid)
            dirty.add(key)

    def remove(self, vertical: str, term: str, iid: int) -> None:
        key = (vertical, term)
        bitmap = self._postings.get(key)
        (bitmap if bitmap is not None else self.posting(vertical, term)).discard(iid)
        self._dirty_postings.add(key)

    def add_many(self, vertical: str, term: str, iids: BitMap) -> None:
        self.posting(vertical, term).update(iids)
        self._dirty_postings.add((vertical, term))

    def remove_many(self, vertical: str, term: str, iids: list[int]) -> None:
        if not iids:
            return
        self.posting(vertical, term).difference_update(BitMap(iids))
        self._dirty_postings.add((vertical, term))

    def is_live(self, vertical: str, iid: int) -> bool:
        return iid in self.posting(vertical, LIVE)

    # documents

    def doc(self, vertical: str, iid: int) -> dict | None:
        """The batch's current document; after changing it in place, call `put_doc`."""
        key = (vertical, iid)
        try:
            return self._docs[key]
        except KeyError:
            doc = self._docs[key] = self._stored_doc(vertical, iid) if iid < self._stored_ids[vertical] else None
            return doc

    def _stored_doc(self, vertical: str, iid: int) -> dict | None:
        raw = self._get(IID.pack(iid), self._dbs[vertical, "docs"])
        if raw is None:
            return None
        doc = document(vertical, raw)
        self._stored_ranks[vertical, iid] = rank_value(vertical, doc)
        return doc

    def put_doc(self, vertical: str, iid: int, doc: dict) -> None:
        self._docs[vertical, iid] = doc
        self._dirty_docs.add((vertical, iid))

    def delete_doc(self, vertical: str, iid: int) -> None:
        self._docs[vertical, iid] = None
        self._dirty_docs.add((vertical, iid))

    @raises_store_errors
    def set_links(self, iid: int, links: tuple[int, int, list[int], list[int]] | None) -> None:
        db = self._dbs["media", "links"]
        self._relinked.add(iid)
        if links is None:
            self._txn.delete(IID.pack(iid), db=db)
        else:
            self._txn.put(IID.pack(iid), pack(list(links)), db=db)

    # metadata

    def set_offsets(self, source: str, offsets: dict[int, int]) -> None:
        """Record the next offset per partition; committed atomically with the batch."""
        merged = self.meta(offsets_key(source), {})
        merged.update(offsets)
        self.set_meta(offsets_key(source), merged)

    @raises_store_errors
    def set_meta(self, key: str, value: Any) -> None:
        self._txn.put(key.encode(), pack(value), db=self._env.meta)

    @raises_store_errors
    def meta(self, key: str, default: Any = None) -> Any:
        raw = self._txn.get(key.encode(), db=self._env.meta)
        return unpack(raw) if raw is not None else default

    def _stored_time_kinds(self) -> set[bytes]:
        """The first bytes of the keys in `times` and `edgetimes`: a key of another first byte holds no time."""
        kinds: set[bytes] = set()
        for db in (self._env.times, self._env.edge_times):
            cursor = self._txn.cursor(db=db)
            found = cursor.first()
            while found:
                first = cursor.key()[0]
                kinds.add(bytes([first]))
                found = first < 0xFF and cursor.set_range(bytes([first + 1]))
        return kinds

    def time(self, key: bytes) -> int | None:
        """The event time stored under `key` (slipstream's edge times and tombstones). A key of
        EDGE_GROUP + 4 bytes is an edge's (kind, source, target): kept with the other targets of
        its group in one `edgetimes` value."""
        if key[:1] not in self._time_kinds:  # no time of this kind is stored or set
            return None
        if len(key) == EDGE_GROUP + IID.size:
            times = self._edge_group(key[:EDGE_GROUP])
            target = IID.unpack_from(key, EDGE_GROUP)[0]
            return times.get(target) if isinstance(times, dict) else edge_time(times, target)
        try:
            return self._times[key]
        except KeyError:
            ts = self._times[key] = self._stored_time(key)
            return ts

    def _edge_group(self, group: bytes) -> bytes | dict[int, int]:
        """A group's edge times as of this batch: its stored value (read and cut in place) until a time is set in it."""
        try:
            return self._edge_groups[group]
        except KeyError:
            times = self._edge_groups[group] = self._stored_edge_group(group) if group[:1] in self._time_kinds else {}
            return times

    def _stored_edge_group(self, group: bytes) -> bytes | dict[int, int]:
        raw = self._get(group, self._env.edge_times)
        return raw if raw is not None else {}

    def _stored_time(self, key: bytes) -> int | None:
        raw = self._get(key, self._env.times)
        return TIME.unpack(raw)[0] if raw is not None else None

    def stamp_time(self, key: bytes, ts: int) -> None:
        """Set the time under an edge key unless a time as new or newer is stored."""
        if key[:1] in self._time_kinds:
            stored = self.time(key)
            if stored is not None and stored >= ts:
                return
        self.set_time(key, ts)

    def cut_time(self, key: bytes, ts: int) -> bool:
        """Remove the time under an edge key when it is older than `ts` (none stored counts as
        older than any `ts`); whether it was older."""
        if key[:1] not in self._time_kinds:
            return True
        group = key[:EDGE_GROUP]
        times = self._edge_group(group)
        target = IID.unpack_from(key, EDGE_GROUP)[0]
        if isinstance(times, dict):
            stored = times.get(target)
            if stored is None:
                return True
            if stored >= ts:
                return False
            del times[target]
        else:
            stored = edge_time(times, target)
            if stored is None:
                return True
            if stored >= ts:
                return False
            rest = edge_times_without(times, target)
            self._edge_groups[group] = rest if rest is not None else {}
        self._dirty_edge_groups.add(group)
        return True

    @raises_store_errors
    def set_time(self, key: bytes, ts: int | None) -> None:
        if len(key) == EDGE_GROUP + IID.size:
            group = key[:EDGE_GROUP]
            times = self._edge_group(group)
            target = IID.unpack_from(key, EDGE_GROUP)[0]
            if ts is not None:
                if not isinstance(times, dict):
                    times = self._edge_groups[group] = edge_times(times)
                times[target] = ts
            elif isinstance(times, dict):
                if times.pop(target, None) is None:
                    return
            else:
                rest = edge_times_without(times, target)
                if rest is times:
                    return
                self._edge_groups[group] = rest if rest is not None else {}
            self._dirty_edge_groups.add(group)
        else:
            self._times[key] = ts
            if ts is None:
                self._txn.delete(key, db=self._env.times)
            else:
                self._txn.put(key, TIME.pack(ts), db=self._env.times)
        if ts is not None:
            self._time_kinds.add(key[:1])

    # auxiliary key-value state of other components (e.g. trending), committed with the batch

    @raises_store_errors
    def put_aux(self, name: str, key: bytes, value: bytes) -> None:
        self._txn.put(aux_key(name, key), value, db=self._env.aux)

    @raises_store_errors
    def get_aux(self, name: str, key: bytes) -> bytes | None:
        raw = self._txn.get(aux_key(name, key), db=self._env.aux)
        return bytes(raw) if raw is not None else None

    @raises_store_errors
    def delete_aux(self, name: str, key: bytes) -> None:
        self._txn.delete(aux_key(name, key), db=self._env.aux)

    @raises_store_errors
    def aux_items(self, name: str, prefix: bytes = b"", below: bytes | None = None) -> list[tuple[bytes, bytes]]:
        """(key, value) pairs of `name` whose key starts with `prefix` (and is below `below`), in
        byte order; a list, so the caller may put or delete while going through it."""
        return list(aux_scan(self._txn, self._env.aux, name, prefix, below))

    # completion

    @raises_store_errors
    def commit(self) -> None:
        """Write the batch and commit it; when that fails, nothing of it is stored and the writer is free."""
        if self._done:
            return
        try:
            self._write()
        except BaseException:
            self.abort()
            raise
        if len(self._env.ids) > ID_CACHE_MAX:
            self._env.ids.clear()
        self._env.ids.update(self._new_ids)
        self._done = True

    def _write(self) -> None:
        """Every changed value, put in key order per database (LMDB touches each page once)."""
        txn = self._txn
        puts: dict[Any, list[tuple[bytes, bytes]]] = {}
        deletes: list[tuple[Any, bytes]] = []
        for vertical, term in self._dirty_postings:
            bitmap = self._postings[vertical, term]
            db = self._dbs[vertical, "post"]
            key = text_key(term)
            if bitmap:
                bitmap.run_optimize()
                puts.setdefault(db, []).append((key, posting_value(key, term, self._stamp, bitmap)))
            else:
                deletes.append((db, key))
        edge_times_db = self._env.edge_times
        for group in self._dirty_edge_groups:
            times = self._edge_groups[group]
            if times:
                value = times if isinstance(times, bytes) else edge_times_value(times)
                puts.setdefault(edge_times_db, []).append((group, value))
            else:
                deletes.append((edge_times_db, group))
        rank_changed: dict[str, BitMap] = {}
        stored_ranks = self._stored_ranks
        for vertical, iid in self._dirty_docs:
            doc = self._docs[vertical, iid]
            key = IID.pack(iid)
            if doc is None:
                deletes.append((self._dbs[vertical, "docs"], key))
                deletes.append((self._dbs[vertical, "rank"], key))
            else:
                puts.setdefault(self._dbs[vertical, "docs"], []).append((key, doc_value(vertical, doc)))
                rank = rank_value(vertical, doc)
                if stored_ranks.get((vertical, iid)) != rank:
                    puts.setdefault(self._dbs[vertical, "rank"], []).append((key, rank))
            rank_changed.setdefault(vertical, BitMap()).add(iid)
        for db, items in puts.items():
            items.sort(key=itemgetter(0))
            txn.cursor(db=db).putmulti(items)
        for db, key in deletes:
            txn.delete(key, db=db)
        if self._relinked:
            rank_changed.setdefault("media", BitMap()).update(self._relinked)
        keep = columns.RANKDIRTY_KEEP
        for vertical, iids in rank_changed.items():
            db = self._dbs[vertical, "rankdirty"]
            txn.put(self._stamp, iids.serialize(), db=db)
            if self.gen > keep:
                cursor = txn.cursor(db=db)
                while cursor.first() and GEN.unpack(cursor.key())[0] <= self.gen - keep:
                    cursor.delete()
        for vertical, next_id in self._next_id.items():
            self.set_meta(next_id_key(vertical), next_id)
        self.set_meta("gen", self.gen)
        txn.commit()

    @raises_store_errors
    def abort(self) -> None:
        if not self._done:
            self._txn.abort()
            self._done = True
