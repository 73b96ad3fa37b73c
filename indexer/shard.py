"""A shard indexer: the changes partitions one shard owns -> that shard's index, exactly once.

Replica r of shard s consumes `vocabulary.shards.owned(s, N, P)` of the changes stream
(indexer.changes) into `paths.index(paths.shard(data, s, r))`, applying each record with
slipstream.changes.apply_changes and committing the stream's offsets (source "changes") in the
same transaction (indexer.batches); one process writes a shard index (indexer.lock). Replicas
of a shard read the same partitions, each from its own offsets.
"""

from __future__ import annotations

import threading
from pathlib import Path

from firehose.endpoint import DEFAULT_TOPIC, Endpoint
from indexer.batches import BatchLoop, stop_on_signals
from indexer.changes import SOURCE, ChangesStream
from indexer.lock import writer_lock
from indexer.stats import Stats
from indexer.store import Index
from indexer.store.writes import WriteBatch
from slipstream.changes import apply_changes
from vocabulary.shards import Layout


class ShardIndexer(BatchLoop):
    refusal = "changes"

    def _begin(self, batch: WriteBatch) -> None:
        self._batch = batch

    def _record(self, payload: bytes) -> None:
        apply_changes(self._batch, payload)


def run_shard(data: str | Path, layout: Layout, shard: int, replica: int = 0, *, once: bool = False,
              bootstrap: str | None = None, topic: str = DEFAULT_TOPIC, batch_size: int = 100,
              batch_seconds: float = 0.05, stop: threading.Event | None = None,
              finish: threading.Event | None = None) -> Stats:
    """Index one replica of one shard until `stop` is set or SIGTERM/SIGINT arrives; once `finish`
    is set (or with `once` at once), drain what is there and return."""
    data = Path(data)
    stop = stop or threading.Event()
    finish = finish or threading.Event()
    if once:
        finish.set()
    firehose = Endpoint(data, bootstrap, topic)
    with writer_lock(layout.index(data, shard, replica)):
        consumer = ChangesStream(data, layout.partitions, bootstrap, topic).consumer()
        dead_letters = index = None
        try:
            dead_letters = firehose.dead_letters()
            index = Index(layout.index(data, shard, replica))
            indexer = ShardIndexer(index, consumer, dead_letters, SOURCE, batch_size, batch_seconds,
                                   partitions=layout.owned(shard))
            with stop_on_signals(stop):
                while not (stop.is_set() or finish.is_set()):
                    indexer.step()
                indexer.drain(stop)
            return indexer.stats
        finally:
            consumer.close()
            if dead_letters is not None:
                dead_letters.close()
            if index is not None:
                index.close()
