"""The batch loop pauses the cyclic garbage collector while it applies a batch (indexer.batches):
collection is paused during the batch and restored after, even when the batch fails, and left
off when it was off."""

from __future__ import annotations

import gc
import threading

import pytest

from indexer.batches import collector_paused


def test_the_collector_is_paused_within_and_restored_after():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_is_restored_when_the_batch_fails():
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("batch failed")
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled():
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_collector_resumes_only_once_no_thread_applies_a_batch():
    inside, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        with collector_paused():
            inside.set()
            release.wait(30)

    thread = threading.Thread(target=other_writer)
    thread.start()
    try:
        assert inside.wait(30)
        with collector_paused():
            pass
        assert not gc.isenabled()  # the other thread's batch is still being applied
    finally:
        release.set()
        thread.join(30)
    assert gc.isenabled()


def test_cycles_frozen_by_batches_are_collected_at_the_next_full_collection(monkeypatch):
    import weakref

    import indexer.batches

    class Node:
        pass

    monkeypatch.setattr(indexer.batches, "_full_collection_at", float("inf"))
    with collector_paused():
        node = Node()
        node.self = node  # a cycle that outlives the batch
    gone = weakref.ref(node)
    del node
    assert gone() is not None  # frozen with what outlived the batch
    monkeypatch.setattr(indexer.batches, "_full_collection_at", 0.0)
    with collector_paused():
        pass
    assert gone() is None
    assert indexer.batches._full_collection_at < float("inf")
