"""The documents stage: firehose -> Slipstream (and the trending pipeline) -> DATA/index, exactly
once (indexer.batches). Sharded, it also records each batch's per-document changes and publishes
them to the changes stream through the outbox (indexer.changes), for the shard indexers
(indexer.shard). One process at a time writes an index (indexer.lock).
"""

from __future__ import annotations

import threading
from pathlib import Path

from firehose.deadletter import DeadLetters
from firehose.endpoint import DEFAULT_TOPIC, Endpoint
from firehose.events import EventError, from_msgpack
from firehose.transport import Consumer, Producer
from indexer.batches import BatchLoop, Malformed, StorageFailure, stop_on_signals
from indexer.changes import ChangesStream, Outbox
from indexer.lock import writer_lock
from indexer.stats import Stats
from indexer.store import Index
from indexer.store.writes import WriteBatch
from slipstream import Slipstream
from slipstream.changes import Recorder
from trending import Pipeline
from vocabulary import paths

__all__ = ["Indexer", "StorageFailure", "run"]


class Indexer(BatchLoop):
    """Slipstream and the trending pipeline over the firehose; with `changes` (a producer of the
    changes stream) both write through a slipstream.changes.Recorder whose records go out through
    the outbox."""

    refusal = "slipstream"

    def __init__(self, index: Index, consumer: Consumer, dead_letters: DeadLetters, source: str,
                 batch_size: int = 5000, batch_seconds: float = 0.05, changes: Producer | None = None):
        super().__init__(index, consumer, dead_letters, source, batch_size, batch_seconds)
        self.trending = Pipeline.from_env()  # trending state commits with each batch (trending/)
        self.outbox = Outbox(index, changes) if changes is not None else None
        if self.outbox is not None:
            self.outbox.send()  # what a stopped run committed and did not send

    def _begin(self, batch: WriteBatch) -> None:
        self._recorder = Recorder(batch) if self.outbox is not None else None
        target = batch if self._recorder is None else self._recorder
        self._slipstream = Slipstream(target)
        self._trending = self.trending.begin(target)

    def _record(self, payload: bytes) -> None:
        try:
            event = from_msgpack(payload)
        except EventError as exc:
            raise Malformed(str(exc)) from None
        self._slipstream.apply(event)
        self._trending.observe(event)

    def _finish(self, batch: WriteBatch) -> None:
        self._trending.finish()
        if self.outbox is not None:
            self.outbox.stage(batch, self._recorder)  # the real batch: the outbox itself is no change

    def _committed(self) -> None:
        if self.outbox is not None:
            self.outbox.committed()

    def _published(self) -> None:
        if self.outbox is not None:
            self.outbox.send()

    def close(self) -> None:
        """After the last batch: the outbox keeps nothing already sent."""
        if self.outbox is not None:
            self.outbox.tidy()


def run(data: str | Path, *, once: bool = False, bootstrap: str | None = None, topic: str = DEFAULT_TOPIC,
        batch_size: int = 5000, batch_seconds: float = 0.05, stop: threading.Event | None = None,
        progress: bool | None = None, partitions: int | None = None) -> Stats:
    """`unicorn index`: consume the embedded firehose (or Kafka at `bootstrap`) into DATA/index.

    With `partitions`, the documents stage of a sharded deployment: each batch's changes are
    published to the changes stream of that many partitions (indexer.changes).

    Runs until `stop` is set or SIGTERM/SIGINT arrives, or with `once` until the firehose is drained.
    A progress display is shown for `once` when stderr is a terminal (or `progress` is True).
    """
    from indexer.progress import drain_progress

    data = Path(data)
    stop = stop or threading.Event()
    firehose = Endpoint(data, bootstrap, topic)
    with writer_lock(paths.index(data)):
        consumer = firehose.consumer()
        dead_letters = firehose.dead_letters()
        index = Index(paths.index(data))
        changes = None
        try:
            if partitions:
                changes = ChangesStream(data, partitions, bootstrap, topic).producer()
            indexer = Indexer(index, consumer, dead_letters, firehose.source, batch_size, batch_seconds, changes)
            with stop_on_signals(stop):
                if once:
                    with drain_progress(consumer, progress) as on_batch:
                        indexer.drain(stop, on_batch)
                else:
                    indexer.follow(stop)
            indexer.close()
            return indexer.stats
        finally:
            if changes is not None:
                changes.close()
            consumer.close()
            dead_letters.close()
            index.close()
