"""The index store's own contract: it raises StoreError and its kinds, never LMDB's errors; it
answers whether an index is there; its posting cache decodes once per generation within its bytes;
the console turns its errors into one line."""

from __future__ import annotations

import lmdb
import pytest
from pyroaring import BitMap

from indexer.store import (
    Index,
    IndexIncompatible,
    IndexNotFound,
    StorageFull,
    StoreError,
    Unstorable,
)
from firehose.events import to_json_line
from indexer.lock import writer_lock
from indexer.store.caches import PostingCache
from tests.test_ingest_hostile import small_filesystem, unicorn, user
from vocabulary import paths


def test_a_read_only_open_where_there_is_no_index_is_index_not_found(tmp_path):
    path = tmp_path / "index"
    assert not Index.exists(path)
    with pytest.raises(IndexNotFound):
        Index(path, readonly=True)
    Index(path).close()
    assert Index.exists(path)
    Index(path, readonly=True).close()


def test_an_index_of_another_schema_is_incompatible(tmp_path):
    index = Index(tmp_path)
    with index.writer() as batch:
        batch.set_meta("schema", 99)
    index.close()
    with pytest.raises(IndexIncompatible, match="schema 99"):
        Index(tmp_path)


def test_a_full_map_is_storage_full_and_leaves_the_last_batch_whole(tmp_path):
    index = Index(tmp_path, map_size=1 << 20)
    try:
        with index.writer() as batch:
            batch.add("user", "word:kept", 7)
        kept = index.gen
        with pytest.raises(StorageFull, match="map size") as raised:
            for n in range(1000):
                with index.writer() as batch:
                    batch.add_many("user", f"word:w{n}", BitMap(range(n * 100_000, n * 100_000 + 50_000, 3)))
        assert not isinstance(raised.value.__cause__, StoreError)  # translated from LMDB's error, once
        assert isinstance(raised.value.__cause__, lmdb.MapFullError)
        with index.reader() as view:
            assert view.posting("user", "word:kept") == BitMap([7])
            assert view.gen >= kept
        with index.writer() as batch:  # the writer is free again
            batch.add("user", "word:kept", 8)
    finally:
        index.close()


def test_a_key_the_store_cannot_hold_is_unstorable(tmp_path):
    index = Index(tmp_path)
    try:
        with pytest.raises(Unstorable), index.writer() as batch:
            batch.put_aux("component", b"k" * 600, b"value")
        with index.reader() as view:
            assert list(view.aux_items("component")) == []
    finally:
        index.close()


def test_the_posting_cache_decodes_once_per_stamp_and_keeps_within_its_bytes():
    small, large = BitMap(range(10)), BitMap(range(0, 200_000, 7))
    cache = PostingCache(max_bytes=len(small.serialize()) * 3)
    first = cache.get(("user", b"a"), b"gen-1", small.serialize())
    assert first == small and cache.get(("user", b"a"), b"gen-1", small.serialize()) is first
    again = cache.get(("user", b"a"), b"gen-2", small.serialize())  # a newer generation decodes anew
    assert again == small and again is not first
    assert cache.get(("user", b"big"), b"gen-1", large.serialize()) == large  # larger than the cache: not kept
    assert cache.get(("user", b"a"), b"gen-2", small.serialize()) is again  # and nothing else was evicted for it


def test_a_backup_onto_a_full_disk_names_it_in_one_line(tmp_path):
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"".join(to_json_line(user(i, 2000)) for i in range(1000)))
    assert unicorn(tmp_path, "ingest", str(source)).returncode == 0
    assert unicorn(tmp_path, "index", "--once").returncode == 0
    with small_filesystem(tmp_path / "backup", "256k"):
        failed = unicorn(tmp_path, "backup", str(tmp_path / "backup"))
    assert failed.returncode == 1
    assert "no space left on device" in failed.stderr and "Traceback" not in failed.stderr


def test_query_and_backup_where_only_the_writer_lock_is_say_there_is_no_index(tmp_path):
    with writer_lock(paths.index(tmp_path)):  # as `unicorn serve --with-indexer` leaves it before indexing
        pass
    for args in (("query", "(term name:jo)"), ("backup", str(tmp_path / "backup"))):
        refused = unicorn(tmp_path, *args)
        assert refused.returncode == 1 and "no index under" in refused.stderr and "Traceback" not in refused.stderr
    assert not Index.exists(paths.index(tmp_path))


def test_edge_times_are_stamped_newest_first_and_cut_only_when_older(tmp_path):
    edge = b"f" + (1).to_bytes(4, "big")  # a follow group: kind and source
    index = Index(tmp_path / "index")
    try:
        with index.writer() as batch:
            assert batch.cut_time(edge + (2).to_bytes(4, "big"), 5)  # none stored: older than any delete
            batch.stamp_time(edge + (2).to_bytes(4, "big"), 10)
            batch.stamp_time(edge + (2).to_bytes(4, "big"), 7)  # older than the stored: kept as 10
            batch.stamp_time(edge + (3).to_bytes(4, "big"), 20)
        with index.writer() as batch:
            assert batch.time(edge + (2).to_bytes(4, "big")) == 10
            assert not batch.cut_time(edge + (2).to_bytes(4, "big"), 10)  # a tie survives
            assert batch.cut_time(edge + (2).to_bytes(4, "big"), 11)
            assert batch.time(edge + (2).to_bytes(4, "big")) is None
        with index.writer() as batch:
            assert batch.time(edge + (2).to_bytes(4, "big")) is None
            assert batch.time(edge + (3).to_bytes(4, "big")) == 20
            assert batch.time(b"b" + (1).to_bytes(4, "big") + (3).to_bytes(4, "big")) is None  # a kind never stored
    finally:
        index.close()


def test_a_batch_that_changes_no_rank_keeps_the_stored_rank_and_marks_the_document(tmp_path):
    index = Index(tmp_path / "index")
    user = {"id": 7, "username": "u", "full_name": "", "is_private": False, "is_verified": False,
            "followers_count": 3, "following_count": 1, "media_count": 0}
    try:
        with index.writer() as batch:
            batch.put_doc("user", batch.intern("user", 7), dict(user))
        with index.reader() as view:
            iid = view.iid("user", 7)
            rank = view.rank("user").count[iid]
        with index.writer() as batch:
            doc = batch.doc("user", iid)
            doc["following_count"] += 1  # not a field of the rank
            batch.put_doc("user", iid, doc)
            gen = batch.gen
        with index.reader() as view:
            assert view.doc("user", iid)["following_count"] == 2
            assert view.rank("user").count[iid] == rank == 3
        with index._env.lmdb.begin() as txn:
            dirty = txn.get(gen.to_bytes(8, "big"), db=index._env.dbs["user", "rankdirty"])
        assert iid in BitMap.deserialize(dirty)
    finally:
        index.close()
