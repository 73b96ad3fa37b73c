"""The store's compact layout (ARCHITECTURE.md, the index store): edge times grouped per (kind,
source), short postings as plain id arrays, documents without field names, and an index of an older
schema refused with a way out, by the writer and by readers."""

from __future__ import annotations

import struct

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pyroaring import BitMap

from indexer.store import SCHEMA_VERSION, Index, IndexIncompatible
from indexer.store.codec import (
    decode_posting,
    doc_value,
    document,
    edge_time,
    edge_times,
    edge_times_value,
    edge_times_without,
    posting_payload,
)

EDGE = struct.Struct(">cII")
TOMBSTONE = struct.Struct(">cI")

iids = st.integers(0, 2**32 - 1)
stamps = st.integers(-(2**63) + 1, 2**63 - 1)


@settings(max_examples=200)
@given(times=st.dictionaries(iids, stamps | st.integers(0, 2**33), min_size=1))
def test_an_edge_times_value_holds_its_group_exactly(times):
    assert edge_times(edge_times_value(times)) == times
    assert edge_times(memoryview(edge_times_value(times))) == times  # as a reader's buffer


@settings(max_examples=200)
@given(times=st.dictionaries(iids, stamps | st.integers(0, 2**33), min_size=1), probe=iids)
def test_an_edge_times_value_is_read_and_cut_in_place(times, probe):
    raw = edge_times_value(times)
    for target in [*times, probe]:
        assert edge_time(raw, target) == times.get(target)
        rest = edge_times_without(raw, target)
        if target not in times:
            assert rest is raw
        elif len(times) == 1:
            assert rest is None
        else:
            assert edge_times(rest) == {t: ts for t, ts in times.items() if t != target}


def test_a_group_of_near_times_costs_eight_bytes_an_edge():
    times = {i: 1_700_000_000_000 + i * 1000 for i in range(100)}
    assert len(edge_times_value(times)) == 1 + 8 + 100 * 8


def stored_times(index: Index) -> dict[bytes, int]:
    with index.reader() as view:
        return dict(view.times())


@settings(max_examples=30, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(b"fl"), st.integers(0, 3), st.integers(0, 5),
                                st.none() | stamps), max_size=40),
       cut=st.integers(1, 10))
def test_edge_times_read_back_as_set_across_batches(steps, cut, tmp_path_factory):
    """Whatever the batches, every set time reads back under its key, a None removes it, and a
    group emptied leaves nothing stored."""
    index = Index(tmp_path_factory.mktemp("times"))
    expected: dict[bytes, int] = {}
    for start in range(0, len(steps), cut):
        with index.writer() as batch:
            for kind, source, target, ts in steps[start:start + cut]:
                key = EDGE.pack(bytes([kind]), source, target)
                batch.set_time(key, ts)
                if ts is None:
                    expected.pop(key, None)
                else:
                    expected[key] = ts
                assert batch.time(key) == ts
        assert stored_times(index) == expected
    with index.writer() as batch:
        for key in expected:
            batch.set_time(key, None)
    assert stored_times(index) == {}
    with index._env.lmdb.begin() as txn:
        assert txn.stat(index._env.edge_times)["entries"] == 0
    index.close()


def test_tombstones_and_edges_keep_their_own_keys(tmp_path):
    index = Index(tmp_path)
    with index.writer() as batch:
        batch.set_time(TOMBSTONE.pack(b"u", 7), 50)
        batch.set_time(EDGE.pack(b"f", 7, 9), 40)
        batch.set_time(EDGE.pack(b"f", 7, 8), 2**62)
    with index.writer() as batch:
        assert batch.time(TOMBSTONE.pack(b"u", 7)) == 50
        assert batch.time(EDGE.pack(b"f", 7, 9)) == 40
        assert batch.time(EDGE.pack(b"f", 7, 8)) == 2**62
        assert batch.time(EDGE.pack(b"f", 9, 7)) is None
        assert batch.time(TOMBSTONE.pack(b"m", 7)) is None
    assert stored_times(index) == {TOMBSTONE.pack(b"u", 7): 50, EDGE.pack(b"f", 7, 9): 40, EDGE.pack(b"f", 7, 8): 2**62}
    index.close()


@pytest.mark.parametrize("readonly", [False, True])
def test_an_index_of_an_older_schema_is_refused_with_how_to_rebuild(tmp_path, readonly):
    index = Index(tmp_path)
    with index.writer() as batch:
        batch.set_meta("schema", SCHEMA_VERSION - 1)
    index.close()
    with pytest.raises(IndexIncompatible, match=f"schema {SCHEMA_VERSION - 1}, expected {SCHEMA_VERSION}.*rebuild"):
        Index(tmp_path, readonly=readonly)


postings = st.one_of(
    st.sets(iids, max_size=50),
    st.sets(st.integers(0, 70_000), min_size=1, max_size=3000),
    st.integers(0, 2**32 - 5000).map(lambda start: set(range(start, start + 4096))),
).map(BitMap)


@settings(max_examples=200)
@given(bitmap=postings)
@example(bitmap=BitMap(range(10, 17)))  # one run: its serialization is the shorter
@example(bitmap=BitMap([5, 9, 11]))
def test_a_posting_payload_holds_its_list_in_the_shorter_form(bitmap):
    bitmap.run_optimize()
    payload = posting_payload(bitmap)
    assert decode_posting(payload) == bitmap
    assert decode_posting(payload, BitMap) == bitmap
    assert decode_posting(memoryview(payload)) == bitmap  # as a reader's buffer
    assert len(payload) == min(len(bitmap.serialize()), 1 + 4 * len(bitmap))


def test_a_short_posting_costs_four_bytes_an_id_and_reads_back_through_the_store(tmp_path):
    short = BitMap([3, 70_000, 2**31])
    assert len(posting_payload(short)) == 1 + 12
    index = Index(tmp_path)
    with index.writer() as batch:
        batch.add_many("user", "following:1", short)
    with index.reader() as view:
        assert view.posting("user", "following:1") == short
        assert dict(view.postings("user", "following:")) == {"following:1": short}
    with index.writer() as batch:
        assert batch.posting("user", "following:1") == short
    index.close()


documents = {
    "user": {"id": 1, "username": "ann", "full_name": "Ann", "is_private": False, "is_verified": True,
             "followers_count": 2, "following_count": 0, "media_count": 1},
    "media": {"id": 100, "owner": 1, "owner_username": "ann", "caption": "hi #x", "hashtags": ["x"],
              "mentions": [], "place": None, "taken_at": 5, "like_count": 0},
    "hashtag": {"id": "x", "name": "x", "media_count": 1},
    "place": {"id": 200, "name": "P", "city": "C", "country": "D", "lat": 1.5, "lng": -2.0, "media_count": 0},
}


@pytest.mark.parametrize("vertical", sorted(documents))
def test_documents_are_stored_without_their_field_names_and_read_back_whole(vertical, tmp_path):
    doc = documents[vertical]
    assert not any(field.encode() in doc_value(vertical, doc) for field in ("id", "name", "count"))
    odd = {**doc, "extra": 1}  # another shape is kept as it is
    assert document(vertical, doc_value(vertical, odd)) == odd
    index = Index(tmp_path)
    with index.writer() as batch:
        iid = batch.intern(vertical, doc["id"])
        batch.put_doc(vertical, iid, doc)
    with index.reader() as view:
        assert view.doc(vertical, iid) == doc
        assert list(view.doc(vertical, iid)) == list(doc)
    with index.writer() as batch:
        assert batch.doc(vertical, iid) == doc
    index.close()
