"""Slipstream's output for index shards: each batch's per-document changes, in external ids, keyed by
the document's partition of the changes stream (vocabulary.shards, ARCHITECTURE.md "Shards").

    recorder = Recorder(batch)               # a Batch: forwards to `batch` and records
    Slipstream(recorder).apply(event) ...
    for partition, payload in recorder.encode(partitions): ...   # before the batch commits
    apply_changes(shard_batch, payload)      # on a shard: the same documents and postings

Every change is the final state of one key in the batch (a posting holds a document or not; a
document's value or its absence; an auxiliary value), so applying a batch's changes twice, or an
older batch's again before a newer one, leaves a shard as the newer one does: delivery may repeat.
Auxiliary state (trending) goes to every partition.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
from pyroaring import BitMap

from slipstream.batch import Batch
from vocabulary.shards import partition_of

CHUNK = 20_000  # changes per record at most
RECORD_BYTES = 900_000  # bytes per record at most: within Kafka's default 1,000,000-byte message limit

Ext = int | str


def links_of(batch: Batch, doc: dict) -> tuple[int, int, list[int], list[int]]:
    """A media document's links (owner, place or -1, hashtags, mentions) as the batch's internal ids."""
    return (
        batch.intern("user", doc["owner"]),
        batch.intern("place", doc["place"]) if doc["place"] is not None else -1,
        [batch.intern("hashtag", tag) for tag in doc["hashtags"]],
        [batch.intern("user", user) for user in doc["mentions"]],
    )


class Recorder:
    """A Batch that forwards every call to `batch` and records its changes by document."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self._exts: dict[tuple[str, int], Ext] = {}
        self._postings: dict[tuple[str, str, Ext], bool] = {}  # present after the batch
        self._docs: dict[tuple[str, Ext], dict | None] = {}
        self._relinked: set[Ext] = set()  # media whose links were set
        self._aux: dict[tuple[str, bytes], bytes | None] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.batch, name)  # reads: posting, doc, time, get_aux, aux_items, meta, ...

    # ids

    def _known(self, vertical: str, iid: int | None, ext: Ext) -> int | None:
        if iid is not None:
            self._exts[vertical, iid] = ext
        return iid

    def iid(self, vertical: str, ext: Ext) -> int | None:
        return self._known(vertical, self.batch.iid(vertical, ext), ext)

    def intern(self, vertical: str, ext: Ext) -> int:
        return self._known(vertical, self.batch.intern(vertical, ext), ext)

    def ext(self, vertical: str, iid: int) -> Ext:
        ext = self._exts.get((vertical, iid))
        if ext is None:
            ext = self._exts[vertical, iid] = self.batch.ext(vertical, iid)
        return ext

    # recorded writes

    def add(self, vertical: str, term: str, iid: int) -> None:
        self.batch.add(vertical, term, iid)
        self._postings[vertical, term, self.ext(vertical, iid)] = True

    def remove(self, vertical: str, term: str, iid: int) -> None:
        self.batch.remove(vertical, term, iid)
        self._postings[vertical, term, self.ext(vertical, iid)] = False

    def add_many(self, vertical: str, term: str, iids: BitMap) -> None:
        self.batch.add_many(vertical, term, iids)
        for iid in iids:
            self._postings[vertical, term, self.ext(vertical, iid)] = True

    def put_doc(self, vertical: str, iid: int, doc: dict) -> None:
        self.batch.put_doc(vertical, iid, doc)
        self._docs[vertical, self.ext(vertical, iid)] = doc  # the batch's own object: its final value is written

    def delete_doc(self, vertical: str, iid: int) -> None:
        self.batch.delete_doc(vertical, iid)
        self._docs[vertical, self.ext(vertical, iid)] = None

    def set_links(self, iid: int, links) -> None:
        self.batch.set_links(iid, links)
        self._relinked.add(self.ext("media", iid))

    def put_aux(self, name: str, key: bytes, value: bytes) -> None:
        self.batch.put_aux(name, key, value)
        self._aux[name, key] = value

    def delete_aux(self, name: str, key: bytes) -> None:
        self.batch.delete_aux(name, key)
        self._aux[name, key] = None

    # output

    def __len__(self) -> int:
        return len(self._postings) + len(self._docs) + len(self._aux)

    def encode(self, partitions: int) -> Iterator[tuple[int, bytes]]:
        """(partition, payload) records of this batch's changes, in partition order; none for a
        partition without changes."""
        postings: list[list] = [[] for _ in range(partitions)]
        docs: list[list] = [[] for _ in range(partitions)]
        for (vertical, term, ext), present in self._postings.items():
            postings[partition_of(vertical, ext, partitions)].append((vertical, term, ext, present))
        for (vertical, ext), doc in self._docs.items():
            docs[partition_of(vertical, ext, partitions)].append((vertical, ext, doc, ext in self._relinked))
        aux = [(name, key, value) for (name, key), value in self._aux.items()]
        for partition in range(partitions):
            yield from ((partition, payload) for payload in _records(postings[partition], docs[partition], aux))


def _records(postings: list, docs: list, aux: list) -> Iterator[bytes]:
    """Records of at most CHUNK changes and RECORD_BYTES each (a single larger change alone): documents
    first, so a posting never names a document a record before it was created."""
    for kind, changes in (("docs", docs), ("postings", postings), ("aux", aux)):
        for start in range(0, len(changes), CHUNK):
            yield from _bounded(kind, changes[start:start + CHUNK])


def _bounded(kind: str, changes: list) -> Iterator[bytes]:
    payload = msgspec.msgpack.encode({kind: changes})
    if len(payload) <= RECORD_BYTES or len(changes) == 1:
        yield payload
        return
    half = len(changes) // 2
    yield from _bounded(kind, changes[:half])
    yield from _bounded(kind, changes[half:])


def apply_changes(batch: Batch, payload: bytes) -> int:
    """Apply one changes record to a shard's write batch; the number of changes."""
    record = msgspec.msgpack.decode(payload)
    docs, postings, aux = record.get("docs", ()), record.get("postings", ()), record.get("aux", ())
    for vertical, ext, doc, relinked in docs:
        if doc is None:
            iid = batch.iid(vertical, ext)
            if iid is not None:
                batch.delete_doc(vertical, iid)
                if vertical == "media":
                    batch.set_links(iid, None)
            continue
        iid = batch.intern(vertical, ext)
        batch.put_doc(vertical, iid, doc)
        if relinked:
            batch.set_links(iid, links_of(batch, doc))
    for vertical, term, ext, present in postings:
        if present:
            batch.add(vertical, term, batch.intern(vertical, ext))
        else:
            iid = batch.iid(vertical, ext)
            if iid is not None:
                batch.remove(vertical, term, iid)
    for name, key, value in aux:
        if value is None:
            batch.delete_aux(name, key)
        else:
            batch.put_aux(name, key, value)
    return len(docs) + len(postings) + len(aux)
