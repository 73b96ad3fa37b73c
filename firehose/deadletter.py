"""Dead letters: what could not be ingested, with why and where it came from.

A record is msgpack `{reason, payload, source, partition, offset, ts}` (`payload` the original
bytes; `partition` is None and `offset` the line number for a file). A payload too large for
a record of the dead-letter log keeps its first 64 KiB, and `payload_bytes` says how long it was.
Embedded: a one-partition log at `DATA/deadletter/`, records up to 16 MiB. Kafka: the topic
`<topic>.deadletter`, records within Kafka's default message size (1,000,000 bytes), which any
broker accepts. Writers flush dead letters before committing the positions past them, so a crash
may repeat a dead letter, never lose one.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack

from firehose.kafka import KafkaConsumer, KafkaProducer
from firehose.log import MAX_RECORD, EmbeddedLog
from firehose.transport import Consumer, Producer
from vocabulary import paths

READ_BATCH = 10_000
ROOM = 64 << 10  # for the reason, the source and the rest
PAYLOAD_MAX = MAX_RECORD - ROOM
KAFKA_PAYLOAD_MAX = 1_000_000 - ROOM  # librdkafka's default message.max.bytes
PAYLOAD_KEPT = 64 << 10


def encode(reason: str, payload: bytes, source: str, partition: int | None, offset: int | None,
           payload_max: int = PAYLOAD_MAX) -> bytes:
    """The dead letter's record; a payload over `payload_max` bytes keeps its first bytes only."""
    record = {"reason": reason, "payload": payload, "source": source, "partition": partition, "offset": offset, "ts": int(time.time() * 1000)}
    if len(payload) > payload_max:
        record["payload"] = payload[:PAYLOAD_KEPT]
        record["payload_bytes"] = len(payload)  # the payload's size before it was cut
    return msgpack.packb(record, use_bin_type=True)


class DeadLetters(ABC):
    payload_max = PAYLOAD_MAX

    def __init__(self, producer: Producer):
        self._producer = producer
        self._recorded = 0

    def record(self, reason: str, payload: bytes, source: str, partition: int | None, offset: int | None) -> None:
        self._producer.send_raw(0, b"", encode(reason, payload, source, partition, offset, self.payload_max))
        self._recorded += 1

    @property
    def recorded(self) -> int:
        """Dead letters recorded through this object."""
        return self._recorded

    def flush(self) -> None:
        self._producer.flush()

    def read(self) -> Iterator[dict[str, Any]]:
        """Every dead letter stored so far, oldest first."""
        consumer = self._consumer()
        try:
            consumer.assign({0: 0})
            while not consumer.at_end():
                for record in consumer.poll(READ_BATCH, 0.5):
                    yield msgpack.unpackb(record.payload, raw=False)
        finally:
            consumer.close()

    def count(self) -> int:
        return sum(1 for _ in self.read())

    @abstractmethod
    def _consumer(self) -> Consumer: ...

    def close(self) -> None:
        self._producer.close()


class EmbeddedDeadLetters(DeadLetters):
    def __init__(self, data_dir: str | os.PathLike):
        self._log = EmbeddedLog(paths.dead_letters(Path(data_dir)), partitions=1)
        super().__init__(self._log.producer())

    def _consumer(self) -> Consumer:
        return self._log.consumer()

    def count(self) -> int:
        return self._log.end_offsets()[0]


class KafkaDeadLetters(DeadLetters):
    payload_max = KAFKA_PAYLOAD_MAX

    def __init__(self, bootstrap: str, topic: str):
        self._bootstrap, self._topic = bootstrap, f"{topic}.deadletter"
        super().__init__(KafkaProducer(bootstrap, self._topic, partitions=1))

    def _consumer(self) -> Consumer:
        return KafkaConsumer(self._bootstrap, self._topic)
