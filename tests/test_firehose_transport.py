"""Both firehose transports against one plain-Python model: a list of payloads per partition."""

from __future__ import annotations

import tempfile
import threading
import zlib
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firehose.events import from_msgpack, partition_key
from firehose.kafka import KafkaConsumer, KafkaProducer, KafkaTransportError
from firehose.log import EmbeddedLog
from firehose.transport import Consumer, Producer, Record, partition_for
from tests.brokers import running_tansu, unique_topic
from tests.strategies import ACTOR, event

PARTITIONS = 4
events = event()  # all 11 SPEC §2 event types


def spec_key(event: dict) -> int:
    """SPEC §2's Kafka key, the acting user (a place's own id for `place.upsert`, which names no user)."""
    actor = ACTOR[event["op"]](event)
    return actor[1] if isinstance(actor, tuple) else actor


def spec_partition(event: dict, partitions: int) -> int:
    """crc32 of the key as 8 bytes big-endian, modulo the partition count (pinned across processes)."""
    return zlib.crc32(spec_key(event).to_bytes(8, "big")) % partitions


class Transport:
    def __init__(self, producer: Callable[[], Producer], consumer: Callable[[], Consumer]):
        self.producer, self.consumer = producer, consumer


@pytest.fixture(params=["embedded", "kafka"])
def make_transport(request) -> Callable[[], Transport]:
    """A factory of fresh, empty transports with PARTITIONS partitions."""
    if request.param == "embedded":
        def make() -> Transport:
            log = EmbeddedLog(tempfile.mkdtemp(dir=request.getfixturevalue("tmp_path")), PARTITIONS)
            return Transport(log.producer, log.consumer)
    else:
        broker = request.getfixturevalue("tansu")

        def make() -> Transport:
            topic = unique_topic()
            producer = KafkaProducer(broker.bootstrap, topic, PARTITIONS)
            return Transport(lambda: producer, lambda: KafkaConsumer(broker.bootstrap, topic))
    return make


def drain(consumer: Consumer) -> list[Record]:
    records: list[Record] = []
    deadline = time.monotonic() + 60
    while not consumer.at_end():
        assert time.monotonic() < deadline, "consumer never reached the end"
        records += consumer.poll(500, 0.2)
    return records


def by_partition(records: list[Record]) -> dict[int, list[bytes]]:
    out: dict[int, list[bytes]] = {p: [] for p in range(PARTITIONS)}
    for r in records:
        assert r.offset == len(out[r.partition]), "offsets are consecutive record indices"
        out[r.partition].append(r.payload)
    return out


def produce(producer: Producer, batch: list[dict], model: dict[int, list[bytes]]) -> None:
    from firehose.events import to_msgpack

    for event in batch:
        partition = producer.send(event)
        assert partition == spec_partition(event, PARTITIONS)
        model[partition].append(to_msgpack(event))
    producer.flush()


fast = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def test_partition_is_a_stable_hash_of_the_key():
    # crc32 of the 8-byte big-endian key, written out: pinned so both transports and every process agree
    assert [partition_for(k, 8) for k in (0, 1, 42, 2**64 - 1)] == [0x6522DF69 % 8, 0x1225EFFF % 8, 0xBE9916BF % 8, 0x2144DF1C % 8]


@settings(max_examples=300)
@given(event())
def test_partition_key_follows_the_spec_table(e):
    assert partition_key(e) == spec_key(e)
    assert partition_for(partition_key(e), PARTITIONS) == spec_partition(e, PARTITIONS)


def test_the_key_table_is_tested_for_every_event_type():
    assert set(ACTOR) == {"user.upsert", "user.delete", "follow.add", "follow.remove", "block.add", "block.remove",
                          "place.upsert", "media.upsert", "media.delete", "like.add", "like.remove"}


@fast
@given(batch=st.lists(events, max_size=60))
def test_order_per_key_and_offsets(make_transport, batch):
    transport = make_transport()
    model: dict[int, list[bytes]] = {p: [] for p in range(PARTITIONS)}
    produce(transport.producer(), batch, model)
    with transport.consumer() as consumer:
        consumer.assign({p: 0 for p in range(PARTITIONS)})
        got = by_partition(drain(consumer))
        assert got == model
        assert consumer.end_offsets() == {p: len(v) for p, v in model.items()}
        assert consumer.positions() == consumer.end_offsets()
        assert consumer.lag() == {p: 0 for p in range(PARTITIONS)}
    for p, payloads in got.items():  # every event of one key is in that key's partition, in send order
        assert all(spec_partition(from_msgpack(x), PARTITIONS) == p for x in payloads)
    per_key = {}
    for event in batch:
        per_key.setdefault(spec_key(event), []).append(event)
    consumed = {}
    for payloads in got.values():
        for x in payloads:
            e = from_msgpack(x)
            consumed.setdefault(spec_key(e), []).append(e)
    assert consumed == per_key


@fast
@given(batch=st.lists(events, min_size=1, max_size=60), data=st.data())
def test_restart_from_positions(make_transport, batch, data):
    """A consumer assigned at any positions reads exactly what follows them, also across restarts."""
    transport = make_transport()
    model: dict[int, list[bytes]] = {p: [] for p in range(PARTITIONS)}
    producer = transport.producer()
    produce(producer, batch, model)
    start = {p: data.draw(st.integers(0, len(model[p])), label=f"start{p}") for p in range(PARTITIONS)}
    with transport.consumer() as consumer:
        consumer.assign(start)
        take = data.draw(st.integers(1, 20), label="take")
        first: list[Record] = []
        while len(first) < take and not consumer.at_end():
            first += consumer.poll(take - len(first), 0.2)
        for r in first:
            assert r.payload == model[r.partition][r.offset]
        positions = consumer.positions()
    for p in range(PARTITIONS):
        assert positions[p] == start[p] + sum(1 for r in first if r.partition == p)
    more = data.draw(st.lists(events, max_size=20), label="more")
    produce(producer, more, model)
    with transport.consumer() as consumer:
        consumer.assign(positions)
        rest = drain(consumer)
    for p in range(PARTITIONS):
        mine = [r for r in first + rest if r.partition == p]
        assert [r.offset for r in mine] == list(range(start[p], len(model[p])))
        assert [r.payload for r in mine] == model[p][start[p]:]


def test_subset_assignment_reads_only_those_partitions(make_transport):
    transport = make_transport()
    producer = transport.producer()
    for p in range(PARTITIONS):
        producer.send_raw(p, b"k", f"p{p}".encode())
    producer.flush()
    with transport.consumer() as consumer:
        consumer.assign({1: 0, 3: 0})
        records = drain(consumer)
        assert sorted((r.partition, r.offset, r.payload) for r in records) == [(1, 0, b"p1"), (3, 0, b"p3")]
        assert set(consumer.end_offsets()) == {1, 3}


def test_garbage_payloads_travel_unchanged(make_transport):
    transport = make_transport()
    producer = transport.producer()
    garbage = [b"", b"\xc1", b"not msgpack at all", bytes(range(256))]
    for payload in garbage:
        producer.send_raw(2, b"x", payload)
    producer.flush()
    with transport.consumer() as consumer:
        consumer.assign({2: 0})
        assert [r.payload for r in drain(consumer)] == garbage


def test_concurrent_producers_share_the_log(tmp_path):
    """Writers in parallel (each flush under the log's lock): nothing lost, nothing interleaved."""
    log = EmbeddedLog(tmp_path, PARTITIONS)

    def write(name: str) -> None:
        producer = log.producer()
        for i in range(300):
            producer.send_raw(i % PARTITIONS, b"", f"{name}-{i}".encode())
            if i % 7 == 0:
                producer.flush()
        producer.flush()

    threads = [threading.Thread(target=write, args=(n,)) for n in "abc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    consumer = log.consumer()
    consumer.assign({p: 0 for p in range(PARTITIONS)})
    got = by_partition(drain(consumer))
    for name in "abc":
        for p in range(PARTITIONS):
            mine = [x for x in got[p] if x.startswith(name.encode())]
            assert mine == [f"{name}-{i}".encode() for i in range(p, 300, PARTITIONS)]


BOUND_S = 2.0  # how long the Kafka transport below waits for its broker
HUNG_S = 30 * BOUND_S  # far past the bound: a call still waiting then would wait forever


def raised(call: Callable[[], object]) -> BaseException | None:
    """What `call()` raised, after asserting that it returned at all."""
    outcome: dict = {}

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            outcome["raised"] = exc
        else:
            outcome["raised"] = None

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(HUNG_S)
    assert not worker.is_alive(), f"still waiting on a stopped broker after {HUNG_S:g} s"
    return outcome["raised"]


def test_a_stopped_broker_is_a_clear_error_not_a_hang(tmp_path):
    """Each wait on the broker (the topic's metadata, a full send queue, acknowledgements) gives up
    after the bound with KafkaTransportError naming the broker."""
    with running_tansu(tmp_path / "broker") as broker:
        topic = unique_topic()
        # a queue of two records; librdkafka's own delivery timeout well past the bound, so that the bound
        # decides, and short enough that the queued records do not keep the process waiting when it exits
        producer = KafkaProducer(broker.bootstrap, topic, PARTITIONS, timeout_s=BOUND_S,
                                 **{"queue.buffering.max.messages": 2, "message.timeout.ms": int(3 * BOUND_S * 1000)})
        producer.send_raw(0, b"k", b"acknowledged")
        producer.flush()
        broker.stop()
        producer.send_raw(0, b"k", b"queued")
        producer.send_raw(1, b"k", b"queued")
        full = raised(lambda: producer.send_raw(2, b"k", b"no room"))
        unacknowledged = raised(producer.flush)
        closed = raised(producer.close)  # flushes again, then releases the client: no more attempts to connect
        no_topic = raised(lambda: KafkaProducer(broker.bootstrap, unique_topic(), timeout_s=BOUND_S))
        no_metadata = raised(lambda: KafkaConsumer(broker.bootstrap, topic, timeout_s=BOUND_S))
    for error, says in ((full, "send queue stayed full"), (unacknowledged, "2 records not acknowledged"),
                        (closed, "2 records not delivered"),
                        (no_topic, "is not available"), (no_metadata, "is not available")):
        assert isinstance(error, KafkaTransportError), error
        assert says in str(error) and broker.bootstrap in str(error)
