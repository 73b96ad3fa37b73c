"""The firehose transport on Kafka (confluent-kafka).

Producers send with acks=all and idempotence, to the partition chosen by `partition_for`.
Consumers use `assign()` with explicit offsets (ours live in the index, committed with each
batch), never consumer-group commits. End offsets come from the fetch responses and
partition-EOF events, which stay exact on brokers whose ListOffsets answer lags behind.

Waiting for the broker is bounded: finding or creating the topic, a full local send queue and
the acknowledgement of what was sent each wait at most `timeout_s` (an outage shorter than that
is ridden out), then raise KafkaTransportError naming the broker.
"""

from __future__ import annotations

from confluent_kafka import Consumer as _KafkaConsumer
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka import Producer as _KafkaProducer
from confluent_kafka.admin import AdminClient, NewTopic
from tenacity import RetryError, Retrying, retry_if_exception_type, retry_if_result, stop_after_delay, wait_fixed

from firehose.transport import DEFAULT_PARTITIONS, Consumer, Producer, Record

METADATA_TIMEOUT = 10.0  # seconds: the longest one metadata request or topic creation may take
BROKER_TIMEOUT = 60.0  # seconds an unavailable broker is waited for before KafkaTransportError


class KafkaTransportError(RuntimeError):
    """A delivery or consumption failure that retrying inside librdkafka cannot fix, or a broker that
    stayed unavailable for longer than the bound."""


class _TopicNotReady(Exception):
    """The topic is not (yet) listed with its partitions, or the broker did not answer."""


def ensure_topic(bootstrap: str, topic: str, partitions: int = DEFAULT_PARTITIONS,
                 timeout_s: float = METADATA_TIMEOUT) -> int:
    """Create `topic` with `partitions` if it does not exist; returns its partition count.

    Raises KafkaTransportError when the topic is not there after `timeout_s` (a broker that does not
    answer included), or at once when the broker refuses to create it."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        for attempt in Retrying(stop=stop_after_delay(timeout_s), wait=wait_fixed(0.05),
                                retry=retry_if_exception_type(_TopicNotReady)):
            with attempt:
                return _listed_or_created(admin, topic, partitions, min(timeout_s, METADATA_TIMEOUT))
    except RetryError as exc:
        failure = f"{exc.last_attempt.exception()}"
    finally:
        del admin  # the client stops connecting now, not when the error raised below is collected
    raise KafkaTransportError(f"topic {topic!r} is not available on the broker at {bootstrap} after "
                              f"{timeout_s:g} s: {failure}")


def _listed_or_created(admin: AdminClient, topic: str, partitions: int, timeout_s: float) -> int:
    try:
        # all topics: asking for one by name may auto-create it with the broker's default partitions
        found = admin.list_topics(timeout=timeout_s).topics.get(topic)
    except KafkaException as exc:
        raise _TopicNotReady(f"no metadata: {exc}") from None
    if found is not None and found.error is None and found.partitions:
        return len(found.partitions)
    future = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic]
    try:
        future.result(timeout=timeout_s)
    except KafkaException as exc:
        error = exc.args[0]
        if error.code() != KafkaError.TOPIC_ALREADY_EXISTS and not error.retriable() \
                and error.code() not in (KafkaError._TRANSPORT, KafkaError._TIMED_OUT):
            raise KafkaTransportError(f"cannot create topic {topic!r}: {exc}") from None
    raise _TopicNotReady("created, not yet listed")


class KafkaProducer(Producer):
    def __init__(self, bootstrap: str, topic: str, partitions: int = DEFAULT_PARTITIONS, *,
                 timeout_s: float = BROKER_TIMEOUT, **config: object):
        self.topic, self.bootstrap, self.timeout_s = topic, bootstrap, timeout_s
        self.partitions = ensure_topic(bootstrap, topic, partitions, min(timeout_s, METADATA_TIMEOUT))
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
        """Queue one record; a full local queue waits for deliveries to drain it, at most `timeout_s`."""
        try:
            for attempt in Retrying(stop=stop_after_delay(self.timeout_s), retry=retry_if_exception_type(BufferError)):
                with attempt:
                    self._produce(partition, key, payload)
        except RetryError:
            raise KafkaTransportError(f"the send queue stayed full for {self.timeout_s:g} s: the broker at "
                                      f"{self.bootstrap} is not taking records") from None
        self._producer.poll(0)

    def _produce(self, partition: int, key: bytes, payload: bytes) -> None:
        try:
            self._producer.produce(self.topic, payload, key, partition=partition, on_delivery=self._delivered)
        except BufferError:
            self._producer.poll(0.05)  # serve delivery reports, which frees the queue
            raise

    def flush(self) -> None:
        """Wait until the broker acknowledged everything sent so far, riding out an outage of up to `timeout_s`."""
        try:
            Retrying(stop=stop_after_delay(self.timeout_s), retry=retry_if_result(bool))(self._producer.flush, 1.0)
        except RetryError as exc:
            raise KafkaTransportError(f"{exc.last_attempt.result()} records not acknowledged by the broker at "
                                      f"{self.bootstrap} within {self.timeout_s:g} s") from None
        if self._errors:
            errors, self._errors = self._errors, []
            raise KafkaTransportError(f"{len(errors)} records not delivered to the broker at {self.bootstrap}: {errors[0]}")

    def close(self) -> None:
        """Flush, then release the client, which stops its connection attempts; records the broker did not
        acknowledge (flush raised) are dropped."""
        try:
            self.flush()
        finally:
            self._producer.purge()
            self._producer.flush(0)
            del self._producer


class KafkaConsumer(Consumer):
    def __init__(self, bootstrap: str, topic: str, *, timeout_s: float = METADATA_TIMEOUT, **config: object):
        self.topic = topic
        self.partitions = ensure_topic(bootstrap, topic, timeout_s=timeout_s)
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
