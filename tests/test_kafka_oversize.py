"""SPEC §2 on Kafka (a real tansu broker): "A record over 16 MiB is malformed", and "a malformed
event never stops ingestion: it is recorded with its reason (dead-letter) and skipped"
(docs/events.md: on Kafka, in the topic `<topic>.deadletter`).

One partition carries, in this order: a small event, an event of exactly 16 MiB (valid, indexed),
the same event one byte over (dead-lettered, the reason naming its size), 2 MiB of garbage (a
malformed record under the limit, dead-lettered although it is larger than Kafka's default
message size), and a small event after them.
"""

from __future__ import annotations

import re

import msgpack

from firehose.deadletter import KafkaDeadLetters
from firehose.events import validate
from firehose.kafka import KafkaProducer
from indexer.daemon import run
from tests.brokers import unique_topic
from vocabulary import paths
from unicorn.engine import Engine
from indexer.store import Index

LIMIT = 16 * 1024 * 1024  # SPEC §2
KEPT = 64 * 1024  # docs: a dead letter too large for its log keeps the payload's first 64 KiB


def user(uid: int, full_name: str = "") -> dict:
    return validate({"op": "user.upsert", "ts": uid, "user": {"id": uid, "username": f"size{uid}",
                                                             "full_name": full_name}})


def record_of(uid: int, size: int) -> bytes:
    """A valid user.upsert whose msgpack record is exactly `size` bytes (a long full name)."""
    pad = 1 << 17  # long enough for msgpack's widest string header: the size is linear from here on
    base = len(msgpack.packb(user(uid, "y" * pad)))
    payload = msgpack.packb(user(uid, "y" * (pad + size - base)))
    assert len(payload) == size
    return payload


def test_a_record_over_16_mib_is_dead_lettered_with_its_size_and_nothing_else_is_lost(tansu, tmp_path):
    topic = unique_topic("oversize")
    records = [msgpack.packb(user(1)), record_of(11, LIMIT), record_of(12, LIMIT + 1), b"\xc1" * (2 << 20),
               msgpack.packb(user(2))]
    producer = KafkaProducer(tansu.bootstrap, topic, partitions=1, **{"message.max.bytes": 2 * LIMIT})
    for record in records:
        producer.send_raw(0, b"k", record)
    producer.flush()

    stats = run(tmp_path, once=True, bootstrap=tansu.bootstrap, topic=topic)

    assert (stats.applied, stats.dead_lettered) == (3, 2)
    index = Index(paths.index(tmp_path), readonly=True)
    try:
        assert index.offsets(f"kafka:{topic}") == {0: len(records)}
        found = Engine(index).search("user", {"term": "name:size"}, None, limit=10, timeout_ms=60_000)
        assert sorted(int(r["id"]) for r in found.results) == [1, 2, 11]
    finally:
        index.close()
    dead_letters = KafkaDeadLetters(tansu.bootstrap, topic)
    try:
        letters = list(dead_letters.read())
    finally:
        dead_letters.close()
    assert [(d["source"], d["partition"], d["offset"]) for d in letters] == [(f"kafka:{topic}", 0, 2),
                                                                            (f"kafka:{topic}", 0, 3)]
    over, garbage = letters
    assert re.search(r"16,?777,?217 bytes", over["reason"]) and "limit" in over["reason"]
    assert "msgpack" in garbage["reason"]
    for letter, original in zip(letters, records[2:4]):
        assert letter["payload"] == original[:KEPT] and letter["payload_bytes"] == len(original)
