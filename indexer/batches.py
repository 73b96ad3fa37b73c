"""The loop every index writer shares: records of a partitioned stream -> one index, exactly once.

Each batch is applied in one index write transaction that also stores the next offsets of the
stream (and the writer's figures), so a crash at any instant leaves the index at a batch boundary
with the offsets that match it: nothing is lost or applied twice. A record the stage cannot take
(malformed, or refused when applied) is dead-lettered (flushed before the batch commits) and
skipped; ingestion goes on. A failure of the machine rather than of one record (a full disk, an
I/O error, the LMDB map full, memory) stops the writer with StorageFailure naming the cause; the
index stays at its last batch boundary and a restart continues from it.

A stage subclasses BatchLoop: `_begin` opens the stage on a batch, `_record` applies one payload
(raising Malformed for a record that is not one it can read), `_finish` completes the batch
before it commits, `_committed` runs once it has, and `_published` after each `commit`.
"""

from __future__ import annotations

import gc
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from firehose.deadletter import DeadLetters
from firehose.log import MAX_RECORD, cause
from firehose.transport import Consumer, Record
from indexer.stats import Stats, meta_key
from indexer.store import Index, StoreError, Unstorable
from indexer.store.writes import WriteBatch

IDLE_POLL = 0.2  # seconds a poll waits for the first record of a batch


_collector_lock = threading.Lock()
_collector_paused = 0  # batches being applied, in any thread
_collector_was_enabled = False
FULL_COLLECTION_EVERY = 600.0  # seconds between full collections of what the batches froze
_full_collection_at = time.monotonic() + FULL_COLLECTION_EVERY


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch is applied: a batch makes few cycles, and the
    collector's passes over the batch's young objects cost 10-15% of the documents stage's CPU.
    The collector resumes once no thread applies a batch, with what outlived the batch (the writer's
    caches) frozen: the next young-generation pass would otherwise scan all of it (5% of the CPU at
    scale M). Every FULL_COLLECTION_EVERY seconds a full collection takes what was frozen instead,
    so cycles that became garbage are not kept for good."""
    global _collector_paused, _collector_was_enabled, _full_collection_at
    with _collector_lock:
        if _collector_paused == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _collector_paused += 1
    try:
        yield
    finally:
        with _collector_lock:
            _collector_paused -= 1
            if _collector_paused == 0 and _collector_was_enabled:
                if time.monotonic() < _full_collection_at:
                    gc.freeze()
                else:
                    gc.unfreeze()
                    gc.collect()
                    _full_collection_at = time.monotonic() + FULL_COLLECTION_EVERY
                gc.enable()


class StorageFailure(RuntimeError):
    """The machine, not an event, failed: indexing stopped at a batch boundary, nothing lost."""


class Malformed(Exception):
    """A record the stage cannot read: dead-lettered with this reason, the batch goes on."""


def environmental(exc: BaseException) -> bool:
    """True for errors no event can cause: they stop the daemon instead of dead-lettering."""
    if isinstance(exc, StoreError):
        return not isinstance(exc, Unstorable)
    return isinstance(exc, (OSError, MemoryError))


def describe(exc: BaseException) -> str:
    """An error in words, a full disk named as such."""
    if isinstance(exc, OSError):
        return cause(exc)
    if isinstance(exc, StoreError):  # it names its cause
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class _Refused(Exception):
    """The stage raised on the record at `position` of the batch."""

    def __init__(self, position: int, reason: str):
        self.position, self.reason = position, reason


class BatchLoop:
    """Consume `partitions` of `consumer` (all by default) into `index` from its committed offsets of `source`."""

    refusal = "stage"  # names the stage in the reason of a record it refused

    def __init__(self, index: Index, consumer: Consumer, dead_letters: DeadLetters, source: str,
                 batch_size: int = 5000, batch_seconds: float = 0.05, partitions: Iterable[int] | None = None):
        self.index, self.consumer, self.dead_letters, self.source = index, consumer, dead_letters, source
        self.batch_size, self.batch_seconds = batch_size, batch_seconds
        with index.reader() as view:
            self.stats = Stats.resume(source, view.meta(meta_key(source)))
        committed = index.offsets(source)
        assigned = range(consumer.partitions) if partitions is None else partitions
        consumer.assign({p: committed.get(p, 0) for p in assigned})

    # the stage

    def _begin(self, batch: WriteBatch) -> None:
        raise NotImplementedError

    def _record(self, payload: bytes) -> None:
        raise NotImplementedError

    def _finish(self, batch: WriteBatch) -> None:
        """Complete the batch before it commits (in its transaction)."""

    def _committed(self) -> None:
        """The batch's transaction has committed."""

    def _published(self) -> None:
        """A `commit` has returned: every batch of it is durable."""

    # the loop

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
        """Apply `records` and commit them with their offsets, dead-lettering each record that fails.

        Raises StorageFailure, with nothing of the batch committed, when the machine fails.
        """
        lettered: set[tuple[int, int]] = set()
        try:
            self._commit(records, lettered)
        except Exception as exc:
            if environmental(exc):
                raise StorageFailure(f"indexing stopped: {describe(exc)}; nothing is lost, "
                                     "the index is at its last committed batch: restart once the cause is fixed") from exc
            raise
        self._published()

    def _commit(self, records: list[Record], lettered: set[tuple[int, int]]) -> None:
        """Commit `records`; when the store fails at commit without naming the record, halve and retry."""
        started = time.perf_counter()
        refused: dict[int, str] = {}
        while True:
            try:
                applied, dead, lag = self._apply(records, refused, lettered)
                break
            except _Refused as exc:  # the batch was aborted: redo it without that record
                refused[exc.position] = exc.reason
            except Exception as exc:  # noqa: BLE001 - one record's storage error must not stop ingestion
                if environmental(exc) or 0 in refused:
                    raise
                if len(records) == 1:
                    refused[0] = f"storage: {describe(exc)}"
                    continue
                half = len(records) // 2  # each half commits on its own, in order: exactly once
                self._commit(records[:half], lettered)
                self._commit(records[half:], lettered)
                return
        self.stats.committed(applied, dead, lag, time.perf_counter() - started)

    def _apply(self, records: list[Record], refused: dict[int, str],
               lettered: set[tuple[int, int]]) -> tuple[int, int, dict[int, int]]:
        with collector_paused():
            return self._apply_batch(records, refused, lettered)

    def _apply_batch(self, records: list[Record], refused: dict[int, str],
                     lettered: set[tuple[int, int]]) -> tuple[int, int, dict[int, int]]:
        applied = 0
        dead: list[tuple[Record, str]] = []
        batch = self.index.writer()
        try:
            self._begin(batch)
            for position, record in enumerate(records):
                if position in refused:
                    dead.append((record, refused[position]))
                    continue
                if len(record.payload) > MAX_RECORD:  # docs/events.md: malformed, whatever it holds
                    dead.append((record, f"record of {len(record.payload):,} bytes is over the "
                                         f"{MAX_RECORD:,}-byte limit"))
                    continue
                try:
                    self._record(record.payload)
                except Malformed as exc:
                    dead.append((record, str(exc)))
                    continue
                except Exception as exc:  # noqa: BLE001 - any refusal of one record must not stop ingestion
                    if environmental(exc):
                        raise
                    raise _Refused(position, f"{self.refusal}: {describe(exc)}") from exc
                applied += 1
            fresh = [(record, reason) for record, reason in dead if (record.partition, record.offset) not in lettered]
            for record, reason in fresh:
                self.dead_letters.record(reason, record.payload, self.source, record.partition, record.offset)
                lettered.add((record.partition, record.offset))  # a retry of this batch must not repeat it
            if fresh:
                self.dead_letters.flush()  # durable before the offsets past them are
            self._finish(batch)
            nexts: dict[int, int] = {}
            for record in records:
                nexts[record.partition] = record.offset + 1
            positions = {**self.consumer.positions(), **nexts}
            ends = self.consumer.end_offsets()
            lag = {p: max(0, end - positions.get(p, 0)) for p, end in ends.items()}
            batch.set_offsets(self.source, nexts)
            batch.set_meta(meta_key(self.source), self.stats.meta_after(applied, len(dead), lag))
            batch.commit()
        except BaseException:
            batch.abort()  # the next attempt needs the write lock
            raise
        self._committed()
        return applied, len(dead), lag

    def drain(self, stop: threading.Event, on_batch=None) -> None:
        """Index everything there is now, then return (`--once`)."""
        while not stop.is_set():
            if not self.step(idle=0.05) and self.consumer.at_end():
                return
            if on_batch is not None:
                on_batch(self.stats)

    def follow(self, stop: threading.Event) -> None:
        """Index as the stream grows, until `stop` is set."""
        while not stop.is_set():
            self.step()


@contextmanager
def stop_on_signals(stop: threading.Event, signals=(signal.SIGTERM, signal.SIGINT)) -> Iterator[None]:
    """`signals` set `stop`: the current batch finishes and commits, then the daemon returns."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
