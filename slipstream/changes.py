"""Slipstream's output for index shards: each batch's per-document changes, in external ids, keyed by
the document's partition of the changes stream (vocabulary.shards, ARCHITECTURE.md "Shards").

    recorder = Recorder(batch)               # a Batch: forwards to `batch` and records
    Slipstream(recorder).apply(event) ...
    for partition, payload in recorder.encode(partitions): ...   # before the batch commits
    apply_changes(shard_batch, payload)      # on a shard: the same documents and postings

A record holds one kind of change: `{"docs": [[vertical, id, doc or None, relinked]]}`,
`{"postings": [[vertical, term, [ids added], [ids removed]]]}` (a term once per record, its ids
together, so a shard makes one add_many per term), `{"aux": [[name, key, value or None]]}`.

Every change is the final state of one key in the batch (a posting holds a document or not; a
document's value or its absence; an auxiliary value), so applying a batch's changes twice, or an
older batch's again before a newer one, leaves a shard as the newer one does: delivery may repeat.
Auxiliary state (trending) goes to every partition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
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
    """A Batch that forwards every call to `batch` and records its changes by document.

    Changes are kept by internal id, as the batch's calls name them; their external ids and
    partitions are looked up once per document, at `encode`.
    """

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self._add, self._remove, self._add_many = batch.add, batch.remove, batch.add_many
        self._remove_many, self._add_terms = batch.remove_many, batch.add_terms
        self._put_doc, self._delete_doc, self._set_links = batch.put_doc, batch.delete_doc, batch.set_links
        self._put_aux, self._delete_aux = batch.put_aux, batch.delete_aux
        self._postings: dict[tuple[str, str, int], bool] = {}  # present after the batch
        self._docs: dict[tuple[str, int], dict | None] = {}
        self._relinked: set[int] = set()  # media whose links were set
        self._aux: dict[tuple[str, bytes], bytes | None] = {}

    def __getattr__(self, name: str) -> Any:
        """Reads (iid, intern, ext, posting, doc, time, get_aux, meta, ...) go to the batch; its
        methods are bound here on first use, so later calls make no hop."""
        value = getattr(self.batch, name)
        if callable(value):
            setattr(self, name, value)
        return value

    # recorded writes

    def add(self, vertical: str, term: str, iid: int) -> None:
        self._add(vertical, term, iid)
        self._postings[vertical, term, iid] = True

    def add_terms(self, vertical: str, terms: Iterable[str], iid: int) -> None:
        terms = list(terms)
        self._add_terms(vertical, terms, iid)
        self._postings.update(dict.fromkeys([(vertical, term, iid) for term in terms], True))

    def remove(self, vertical: str, term: str, iid: int) -> None:
        self._remove(vertical, term, iid)
        self._postings[vertical, term, iid] = False

    def add_many(self, vertical: str, term: str, iids: BitMap) -> None:
        self._add_many(vertical, term, iids)
        self._postings.update(dict.fromkeys([(vertical, term, iid) for iid in iids], True))

    def remove_many(self, vertical: str, term: str, iids: list[int]) -> None:
        if not iids:
            return
        self._remove_many(vertical, term, iids)
        self._postings.update(dict.fromkeys([(vertical, term, iid) for iid in iids], False))

    def put_doc(self, vertical: str, iid: int, doc: dict) -> None:
        self._put_doc(vertical, iid, doc)
        self._docs[vertical, iid] = doc  # the batch's own object: its final value is written

    def delete_doc(self, vertical: str, iid: int) -> None:
        self._delete_doc(vertical, iid)
        self._docs[vertical, iid] = None

    def set_links(self, iid: int, links) -> None:
        self._set_links(iid, links)
        self._relinked.add(iid)

    def put_aux(self, name: str, key: bytes, value: bytes) -> None:
        self._put_aux(name, key, value)
        self._aux[name, key] = value

    def delete_aux(self, name: str, key: bytes) -> None:
        self._delete_aux(name, key)
        self._aux[name, key] = None

    # output

    def __len__(self) -> int:
        return len(self._postings) + len(self._docs) + len(self._aux)

    def encode(self, partitions: int) -> Iterator[tuple[int, bytes]]:
        """(partition, payload) records of this batch's changes, in partition order; none for a
        partition without changes."""
        ext = self.batch.ext
        documents = {(vertical, iid) for vertical, _, iid in self._postings}
        documents.update(self._docs)
        where = {}  # (vertical, iid) -> (external id, partition)
        for vertical, iid in documents:
            external = ext(vertical, iid)
            where[vertical, iid] = external, partition_of(vertical, external, partitions)
        postings: list[dict[tuple[str, str], tuple[list, list]]] = [{} for _ in range(partitions)]
        docs: list[list] = [[] for _ in range(partitions)]
        relinked = self._relinked
        for (vertical, iid), doc in self._docs.items():
            external, partition = where[vertical, iid]
            docs[partition].append((vertical, external, doc, vertical == "media" and iid in relinked))
        for (vertical, term, iid), present in self._postings.items():
            external, partition = where[vertical, iid]
            terms = postings[partition]
            lists = terms.get((vertical, term))
            if lists is None:
                lists = terms[vertical, term] = ([], [])
            lists[not present].append(external)
        aux = [(name, key, value) for (name, key), value in self._aux.items()]
        for partition in range(partitions):
            yield from ((partition, payload) for payload in _records(postings[partition], docs[partition], aux))


def _records(postings: dict[tuple[str, str], tuple[list, list]], docs: list, aux: list) -> Iterator[bytes]:
    """Records of at most CHUNK changes and RECORD_BYTES each (a single larger change alone): documents
    first, so a posting never names a document a record before it was created."""
    for kind, changes, weight in (("docs", docs, _one), ("postings", _posting_pieces(postings), _ids),
                                  ("aux", aux, _one)):
        for chunk in _chunks(changes, weight):
            yield from _bounded(kind, chunk)


def _posting_pieces(postings: dict[tuple[str, str], tuple[list, list]]) -> Iterator[tuple]:
    """[vertical, term, added, removed] entries of at most CHUNK ids each."""
    for (vertical, term), (added, removed) in postings.items():
        if len(added) + len(removed) <= CHUNK:
            yield vertical, term, added, removed
            continue
        for start in range(0, len(added), CHUNK):
            yield vertical, term, added[start:start + CHUNK], []
        for start in range(0, len(removed), CHUNK):
            yield vertical, term, [], removed[start:start + CHUNK]


def _one(change: tuple) -> int:
    return 1


def _ids(change: tuple) -> int:
    """The changes a postings entry holds: one per id."""
    return len(change[2]) + len(change[3])


def _chunks(changes: Iterable[tuple], weight: Callable[[tuple], int]) -> Iterator[list]:
    """`changes` cut into lists of at most CHUNK changes (an entry holding `weight(entry)` of them)."""
    chunk: list = []
    size = 0
    for change in changes:
        changed = weight(change)
        if chunk and size + changed > CHUNK:
            yield chunk
            chunk, size = [], 0
        chunk.append(change)
        size += changed
    if chunk:
        yield chunk


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
    intern, iid_of = batch.intern, batch.iid
    for vertical, term, added, removed in postings:
        if added:
            batch.add_many(vertical, term, BitMap([intern(vertical, ext) for ext in added]))
        for ext in removed:
            iid = iid_of(vertical, ext)
            if iid is not None:
                batch.remove(vertical, term, iid)
    for name, key, value in aux:
        if value is None:
            batch.delete_aux(name, key)
        else:
            batch.put_aux(name, key, value)
    return len(docs) + sum(len(added) + len(removed) for _, _, added, removed in postings) + len(aux)
