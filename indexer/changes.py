"""The changes stream between the documents stage and the index shards, and the outbox that
publishes to it exactly as the documents index commits (ARCHITECTURE.md "Shards: the write side").

Why the shards end exact across a crash at any instant. Each documents batch writes its change
records (slipstream.changes) into the outbox, an aux table of the documents index keyed by a
sequence number, in the SAME transaction as the batch and its firehose offsets; so a batch's
changes are in the outbox iff the batch is in the index. After the commit the outbox is sent to
the changes stream in sequence order and flushed; only then, in the next batch's transaction,
are the sent entries deleted; at start whatever the outbox still holds is sent first.
- A crash before a commit loses nothing: the batch, its offsets and its changes are all absent,
  and the firehose is read again from the old offsets.
- A crash after a commit and before (or during) the send leaves the entries in the outbox: the
  restart sends them (again, for those already sent) before anything newer.
- An entry is deleted only after it was flushed, so no change is lost.
- Within a partition, records arrive in batch order: entries are sent in sequence order, and the
  entries of batch k are deleted (in batch k+1's transaction) before batch k+1 is sent, so an
  older batch is never sent again after a newer one. A repeat is therefore only ever a run of
  the latest records sent again, and each change is the final state of one key after its batch
  (slipstream.changes): applying it again changes nothing. Auxiliary (trending) changes go to
  every partition; the last of each partition is the latest value, so a shard that has read all
  of its partitions holds it whichever partition it read last.
The shard indexers (indexer.shard) commit their own offsets with what they applied, exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from firehose.endpoint import EMBEDDED
from firehose.kafka import KafkaConsumer, KafkaProducer, ensure_topic
from firehose.log import EmbeddedLog
from firehose.transport import Consumer, Producer
from indexer.store import Index
from indexer.store.writes import WriteBatch
from slipstream.changes import Recorder
from vocabulary import paths

OUTBOX = "changes-outbox"  # aux table of the documents index: sequence number -> partition, record
SOURCE = "changes"  # the name a shard commits its changes offsets under


def changes_topic(topic: str) -> str:
    return f"{topic}.changes"


class ChangesStreamError(RuntimeError):
    """The changes stream does not have the partitions the layout says."""


@dataclass(frozen=True)
class ChangesStream:
    """The embedded log at `paths.changes(data)`, or with `bootstrap` the Kafka topic `<topic>.changes`,
    of `partitions` partitions."""

    data: Path
    partitions: int
    bootstrap: str | None = None
    topic: str = ""

    @property
    def source(self) -> str:
        """The source of the firehose it is derived from, as the layout names it."""
        return EMBEDDED if self.bootstrap is None else f"kafka:{self.topic}"

    def producer(self) -> Producer:
        if self.bootstrap is None:
            return EmbeddedLog(paths.changes(self.data), self.partitions).producer()
        return self._checked(KafkaProducer(self.bootstrap, changes_topic(self.topic), self.partitions))

    def consumer(self) -> Consumer:
        if self.bootstrap is None:
            return EmbeddedLog(paths.changes(self.data), self.partitions).consumer()
        ensure_topic(self.bootstrap, changes_topic(self.topic), self.partitions)  # whoever comes first creates it
        return self._checked(KafkaConsumer(self.bootstrap, changes_topic(self.topic)))

    def _checked(self, end):
        if end.partitions != self.partitions:
            end.close()
            raise ChangesStreamError(f"the topic {changes_topic(self.topic)} at {self.bootstrap} has "
                                     f"{end.partitions} partitions, the layout {self.partitions}")
        return end


class Outbox:
    """The documents stage's changes on their way to the changes stream (see the module docstring)."""

    def __init__(self, index: Index, producer: Producer) -> None:
        self.index, self.producer, self.partitions = index, producer, producer.partitions
        self._sent: set[bytes] = set()  # flushed to the stream, not yet deleted from the outbox
        self._deleting: list[bytes] = []  # deleted by the batch being written
        with index.reader() as view:
            last = max((key for key, _ in view.aux_items(OUTBOX)), default=None)
        self._next = 0 if last is None else int.from_bytes(last, "big") + 1
        self.sent_bytes = 0

    def stage(self, batch: WriteBatch, recorder: Recorder) -> None:
        """In the batch's transaction: delete what was sent, add this batch's change records."""
        self._deleting = sorted(self._sent)
        for key in self._deleting:
            batch.delete_aux(OUTBOX, key)
        for partition, payload in recorder.encode(self.partitions):
            batch.put_aux(OUTBOX, self._next.to_bytes(8, "big"), partition.to_bytes(4, "big") + payload)
            self._next += 1

    def committed(self) -> None:
        self._sent.difference_update(self._deleting)
        self._deleting = []

    def send(self) -> None:
        """Send every committed entry not sent yet, in sequence order, and flush."""
        with self.index.reader() as view:
            entries = [(bytes(key), bytes(value)) for key, value in view.aux_items(OUTBOX)
                       if bytes(key) not in self._sent]
        for _, value in entries:
            self.producer.send_raw(int.from_bytes(value[:4], "big"), b"", value[4:])
            self.sent_bytes += len(value) - 4
        self.producer.flush()
        self._sent.update(key for key, _ in entries)

    def tidy(self) -> None:
        """Delete what was sent (on a clean stop, so a restart has nothing to send again)."""
        if not self._sent:
            return
        batch = self.index.writer()
        try:
            for key in sorted(self._sent):
                batch.delete_aux(OUTBOX, key)
            batch.commit()
        except BaseException:
            batch.abort()
            raise
        self._sent.clear()
