"""The firehose transport on Kafka (confluent-kafka).

Producers send with acks=all and idempotence, to the partition chosen by `partition_for`.
Consumers use `assign()` with explicit offsets (ours live in the index, committed with each
batch), never consumer-group commits. End offsets come from the fetch responses and
partition-EOF events, which stay exact on brokers whose ListOffsets answer lags behind.
"""

from __future__ import annotations

import time

from confluent_kafka import Consumer as _KafkaConsumer
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka import Producer as _KafkaProducer
from confluent_kafka.admin import AdminClient, NewTopic

from firehose.transport import DEFAULT_PARTITIONS, Consumer, Producer, Record

METADATA_TIMEOUT = 10.0


class KafkaTransportError(RuntimeError):
    """A delivery or consumption failure that retrying inside librdkafka cannot fix."""


def ensure_topic(bootstrap: str, topic: str, partitions: int = DEFAULT_PARTITIONS) -> int:
    """Create `topic` with `partitions` if it does not exist; returns its partition count."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + METADATA_TIMEOUT
    while True:
        # all topics: asking for one by name may auto-create it with the broker's default partitions
        found = admin.list_topics(timeout=METADATA_TIMEOUT).topics.get(topic)
        if found is not None and found.error is None and found.partitions:
            return len(found.partitions)
        if time.monotonic() > deadline:
            raise KafkaTransportError(f"topic {topic!r} did not appear on {bootstrap}")
        future = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic]
        try:
            future.result(timeout=METADATA_TIMEOUT)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise KafkaTransportError(f"cannot create topic {topic!r}: {exc}") from None
        time.sleep(0.05)


class KafkaProducer(Producer):
    def __init__(self, bootstrap: str, topic: str, partitions: int = DEFAULT_PARTITIONS, **config: object):
        self.topic = topic
        self.partitions = ensure_topic(bootstrap, topic, partitions)
        self._errors: list[str] = []
        self._producer = _KafkaProducer(
            {
                "bootstrap.servers": bootstrap,
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 5,
                "batch.num.messages": 10000,
                "queue.buffering.max.messages": 1_000_000,
                **config,
            }
        )

    def _delivered(self, err: KafkaError | None, msg: object) -> None:
        if err is not None:
            self._errors.append(str(err))

    def send_raw(self, partition: int, key: bytes, payload: bytes) -> None:
        while True:
            try:
                self._producer.produce(self.topic, payload, key, partition=partition, on_delivery=self._delivered)
                break
            except BufferError:  # local queue full: let deliveries drain it
                self._producer.poll(0.05)
        self._producer.poll(0)

    def flush(self) -> None:
        """Wait until the broker acknowledged everything sent so far (retrying through outages)."""
        while self._producer.flush(1.0):
            pass
        if self._errors:
            errors, self._errors = self._errors, []
            raise KafkaTransportError(f"{len(errors)} records not delivered: {errors[0]}")

    def close(self) -> None:
        self.flush()


class KafkaConsumer(Consumer):
    def __init__(self, bootstrap: str, topic: str, **config: object):
        self.topic = topic
        self.partitions = ensure_topic(bootstrap, topic)
        self._consumer = _KafkaConsumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"unicorn-{topic}",  # required by librdkafka; never joined or committed
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "error",
                "fetch.wait.max.ms": 50,  # latency: a caught-up fetch returns soon
                **config,
            }
        )
        self._positions: dict[int, int] = {}
        self._eof: dict[int, int] = {}

    def assign(self, positions: dict[int, int]) -> None:
        for partition in positions:
            if not 0 <= partition < self.partitions:
                raise KafkaTransportError(f"partition {partition} out of range 0..{self.partitions - 1}")
        self._positions = dict(positions)
        self._eof = {}
        self._consumer.assign([TopicPartition(self.topic, p, o) for p, o in sorted(positions.items())])

    def poll(self, max_records: int, timeout: float) -> list[Record]:
        out: list[Record] = []
        first = self._consumer.poll(timeout)  # consume() would wait for all max_records
        if first is None:
            return out
        rest = self._consumer.consume(max_records - 1, 0) if max_records > 1 else []
        for msg in [first, *rest]:
            err = msg.error()
            if err is None:
                out.append(Record(msg.partition(), msg.offset(), msg.value() or b""))
                self._positions[msg.partition()] = msg.offset() + 1
            elif err.code() == KafkaError._PARTITION_EOF:
                self._eof[msg.partition()] = msg.offset()
            elif err.fatal() or err.code() == KafkaError.OFFSET_OUT_OF_RANGE:
                raise KafkaTransportError(f"{self.topic}[{msg.partition()}]: {err}")
            # anything else is transient: librdkafka reconnects and refetches by itself
        return out

    def positions(self) -> dict[int, int]:
        return dict(self._positions)

    def end_offsets(self) -> dict[int, int]:
        ends = {}
        for partition, position in self._positions.items():
            _, high = self._consumer.get_watermark_offsets(TopicPartition(self.topic, partition), cached=True)
            ends[partition] = max(position, self._eof.get(partition, 0), high or 0)
        return ends

    def at_end(self) -> bool:
        return all(self._eof.get(p) == position for p, position in self._positions.items())

    def close(self) -> None:
        self._consumer.close()
