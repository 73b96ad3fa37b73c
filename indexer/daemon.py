"""The indexing daemon: firehose -> Slipstream -> index, exactly once.

Each batch is applied in one index write transaction that also stores the next firehose offsets
(and the indexer's figures), so a crash at any instant leaves the index at a batch boundary
with the offsets that match it: nothing is lost or applied twice. A record that is not a valid
event, or that Slipstream refuses, is dead-lettered (flushed before the batch commits) and
skipped; ingestion goes on.
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path

import lmdb

from firehose.deadletter import DeadLetters
from firehose.events import EventError, from_msgpack
from firehose.transport import Consumer, Record
from indexer.stats import Stats, meta_key
from slipstream import Slipstream
from trending import Pipeline
from unicorn.store import Index

IDLE_POLL = 0.2  # seconds a poll waits for the first record of a batch


class _Refused(Exception):
    """Slipstream raised on the record at `position` of the batch."""

    def __init__(self, position: int, reason: str):
        self.position, self.reason = position, reason


class Indexer:
    def __init__(self, index: Index, consumer: Consumer, dead_letters: DeadLetters, source: str,
                 batch_size: int = 5000, batch_seconds: float = 0.05):
        self.index, self.consumer, self.dead_letters, self.source = index, consumer, dead_letters, source
        self.batch_size, self.batch_seconds = batch_size, batch_seconds
        self.trending = Pipeline.from_env()  # trending state commits with each batch (trending/)
        with index.reader() as view:
            self.stats = Stats.resume(source, view.meta(meta_key(source)))
        committed = index.offsets(source)
        consumer.assign({p: committed.get(p, 0) for p in range(consumer.partitions)})

    def step(self, idle: float = IDLE_POLL) -> int:
        """Collect one batch (up to `batch_size`, or what arrives within `batch_seconds`) and commit it."""
        records = self.consumer.poll(self.batch_size, idle)
        if not records:
            return 0
        deadline = time.monotonic() + self.batch_seconds
        while len(records) < self.batch_size and time.monotonic() < deadline:
            more = self.consumer.poll(self.batch_size - len(records), 0)
            if not more:
                break
            records += more
        self.commit(records)
        return len(records)

    def commit(self, records: list[Record]) -> None:
        started = time.perf_counter()
        refused: dict[int, str] = {}
        while True:
            try:
                applied, dead, lag = self._apply(records, refused)
                break
            except _Refused as exc:  # the batch was aborted: redo it without that record
                refused[exc.position] = exc.reason
        self.stats.committed(applied, dead, lag, time.perf_counter() - started)

    def _apply(self, records: list[Record], refused: dict[int, str]) -> tuple[int, int, dict[int, int]]:
        applied = 0
        dead: list[tuple[Record, str]] = []
        with self.index.writer() as batch:
            slipstream = Slipstream(batch)
            trending = self.trending.begin(batch)
            for position, record in enumerate(records):
                if position in refused:
                    dead.append((record, refused[position]))
                    continue
                try:
                    event = from_msgpack(record.payload)
                except EventError as exc:
                    dead.append((record, str(exc)))
                    continue
                try:
                    slipstream.apply(event)
                except (lmdb.Error, MemoryError):
                    raise
                except Exception as exc:  # noqa: BLE001 - any refusal of one event must not stop ingestion
                    raise _Refused(position, f"slipstream: {type(exc).__name__}: {exc}") from exc
                trending.observe(event)
                applied += 1
            for record, reason in dead:
                self.dead_letters.record(reason, record.payload, self.source, record.partition, record.offset)
            if dead:
                self.dead_letters.flush()  # durable before the offsets past them are
            trending.finish()
            nexts: dict[int, int] = {}
            for record in records:
                nexts[record.partition] = record.offset + 1
            positions = {**self.consumer.positions(), **nexts}
            ends = self.consumer.end_offsets()
            lag = {p: max(0, end - positions.get(p, 0)) for p, end in ends.items()}
            batch.set_offsets(self.source, nexts)
            batch.set_meta(meta_key(self.source), self.stats.meta_after(applied, len(dead), lag))
        return applied, len(dead), lag

    def drain(self, stop: threading.Event, on_batch=None) -> None:
        """Index everything there is now, then return (`--once`)."""
        while not stop.is_set():
            if not self.step(idle=0.05) and self.consumer.at_end():
                return
            if on_batch is not None:
                on_batch(self.stats)

    def follow(self, stop: threading.Event) -> None:
        """Index as the firehose grows, until `stop` is set."""
        while not stop.is_set():
            self.step()


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set `stop`: the current batch finishes and commits, then the daemon returns."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(data: str | Path, *, once: bool = False, bootstrap: str | None = None, topic: str = "unicorn.events",
        batch_size: int = 5000, batch_seconds: float = 0.05, stop: threading.Event | None = None,
        progress: bool | None = None) -> Stats:
    """`unicorn index`: consume the embedded firehose (or Kafka at `bootstrap`) into DATA/index.

    Runs until `stop` is set or SIGTERM/SIGINT arrives, or with `once` until the firehose is drained.
    A progress display is shown for `once` when stderr is a terminal (or `progress` is True).
    """
    from indexer.progress import drain_progress
    from unicorn import paths

    data = Path(data)
    stop = stop or threading.Event()
    consumer, dead_letters, source = _open_source(data, bootstrap, topic)
    index = Index(paths.index(data))
    try:
        indexer = Indexer(index, consumer, dead_letters, source, batch_size, batch_seconds)
        with _stop_on_signals(stop):
            if once:
                with drain_progress(consumer, progress) as on_batch:
                    indexer.drain(stop, on_batch)
            else:
                indexer.follow(stop)
        return indexer.stats
    finally:
        consumer.close()
        dead_letters.close()
        index.close()


def _open_source(data: Path, bootstrap: str | None, topic: str) -> tuple[Consumer, DeadLetters, str]:
    from firehose.deadletter import EmbeddedDeadLetters, KafkaDeadLetters
    from unicorn import paths

    if bootstrap is None:
        from firehose.log import EmbeddedLog

        return EmbeddedLog(paths.firehose(data)).consumer(), EmbeddedDeadLetters(data), "embedded"
    from firehose.kafka import KafkaConsumer

    return KafkaConsumer(bootstrap, topic), KafkaDeadLetters(bootstrap, topic), f"kafka:{topic}"
