"""Exactly-once under failure: an indexer killed with SIGKILL at random instants, and a Kafka
broker outage mid-stream, end in the same index as one clean run.

The stream has 4 partitions, so its events are applied in different interleavings across
partitions from run to run. SPEC §2 gives the same final state for every interleaving that keeps
each partition's order: events carry increasing `ts`, and user and media deletes meet follows,
blocks and likes from other partitions by event time (mentions are explicit). Each key's events
keep their order, as the firehose guarantees.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

import indexer
from firehose.deadletter import EmbeddedDeadLetters
from firehose.events import validate
from firehose.kafka import KafkaProducer
from firehose.log import EmbeddedLog
from firehose.transport import Producer
from indexer import meta_key
from indexer.store import Index
from tests.brokers import running_tansu
from tests.model.platform import Platform
from tests.processes import kill_at_random_instants, started
from tests.test_indexer_daemon import committed, index_state, model_docs

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = 4
GARBAGE_EVERY = 997


def order_free_stream(seed: int, size: int) -> list[dict]:
    rng = random.Random(seed)
    users = range(1, 121)
    places = range(1000, 1012)
    owners = {m: rng.choice(users) for m in range(5000, 5400)}
    deletable = set(list(owners)[:80])
    words = ["sunset", "beach", "café", "tokyo", "run", "paris", "jazz"]

    def user():
        uid = rng.choice(users)
        return {"op": "user.upsert", "ts": 0, "user": {"id": uid, "username": f"{rng.choice(words)}{uid}",
                "full_name": f"{rng.choice(words).title()} {rng.choice(words).title()}",
                "is_private": rng.random() < 0.2, "is_verified": rng.random() < 0.1}}

    def media():
        mid = rng.choice(list(owners))
        return {"op": "media.upsert", "ts": 0, "media": {
            "id": mid, "owner": owners[mid], "caption": " ".join(rng.sample(words, 3)), "taken_at": rng.randrange(10**6),
            "place": rng.choice([None, *places]), "hashtags": rng.sample(words, rng.randrange(3)), "mentions": []}}

    def pair(op, a, b, left, right):
        return lambda: {"op": op, "ts": 0, a: rng.choice(left), b: rng.choice(right)}

    liked = list(owners)
    makers = [user, media, media, lambda: {"op": "user.delete", "ts": 0, "id": rng.choice(users)},
              lambda: {"op": "media.delete", "ts": 0, "id": (m := rng.choice(sorted(deletable))), "owner": owners[m]},
              lambda: {"op": "place.upsert", "ts": 0, "place": {"id": rng.choice(places), "name": f"{rng.choice(words)} spot",
                                                                "city": rng.choice(words), "country": "X", "lat": 1.0, "lng": 2.0}},
              pair("follow.add", "follower", "followee", users, users), pair("follow.add", "follower", "followee", users, users),
              pair("follow.remove", "follower", "followee", users, users),
              pair("block.add", "blocker", "blocked", users, users), pair("block.remove", "blocker", "blocked", users, users),
              pair("like.add", "user", "media", users, liked), pair("like.add", "user", "media", users, liked),
              pair("like.remove", "user", "media", users, liked)]
    return [validate({**rng.choice(makers)(), "ts": 1_700_000_000_000 + i}) for i in range(size)]


def produce(producer: Producer, stream: list[dict]) -> int:
    """Send the stream with a garbage record every GARBAGE_EVERY events; returns how much garbage."""
    garbage = 0
    for i, event in enumerate(stream):
        if i % GARBAGE_EVERY == 0:
            producer.send_raw(i % PARTITIONS, b"", b"\x93garbage")
            garbage += 1
        producer.send(event)
    producer.flush()
    return garbage


@pytest.fixture(scope="module")
def stream() -> list[dict]:
    return order_free_stream(seed=11, size=25_000)


@pytest.fixture(scope="module")
def clean(stream, tmp_path_factory) -> dict:
    """One uninterrupted run: what every other run must end in."""
    data = tmp_path_factory.mktemp("clean")
    with EmbeddedLog(data / "firehose", PARTITIONS).producer() as producer:
        garbage = produce(producer, stream)
    stats = indexer.run(data, once=True)
    assert (stats.applied, stats.dead_lettered) == (len(stream), garbage)
    index = Index(data / "index", readonly=True)
    state = index_state(index)
    index.close()
    return state


def test_the_clean_run_ends_in_the_models_state(stream, clean):
    platform = Platform()
    for event in stream:
        platform.apply(event)
    assert {v: s["docs"] for v, s in clean.items()} == model_docs(platform)


RUN = "import sys, indexer; indexer.run(sys.argv[1], once=True, batch_size=int(sys.argv[2]))"


def test_sigkill_at_random_instants_loses_and_doubles_nothing(stream, clean, tmp_path):
    with EmbeddedLog(tmp_path / "firehose", PARTITIONS).producer() as producer:
        garbage = produce(producer, stream)
    index_dir = tmp_path / "index"
    kills_mid_stream = kill_at_random_instants(
        lambda rng: [sys.executable, "-c", RUN, str(tmp_path), str(rng.choice([50, 200, 1000]))],
        tmp_path / "daemon.log", {**os.environ, "PYTHONPATH": str(ROOT)}, lambda: committed(index_dir),
        len(stream) + garbage, kills=25, pause=0.12, rng=random.Random(5))
    assert kills_mid_stream >= 8
    index = Index(index_dir, readonly=True)
    assert index_state(index) == clean
    with index.reader() as view:
        figures = view.meta(meta_key("embedded"))
    assert (figures["applied_total"], figures["dead_lettered_total"]) == (len(stream), garbage)
    letters = {(d["partition"], d["offset"]) for d in EmbeddedDeadLetters(tmp_path).read()}
    assert len(letters) == garbage  # repeated dead letters are possible after a kill, lost ones are not


KAFKA_RUN = "import sys, indexer; indexer.run(sys.argv[1], bootstrap=sys.argv[2], topic=sys.argv[3], batch_size=500)"


def test_kafka_broker_outage_mid_stream_loses_nothing(stream, clean, tmp_path):
    """The broker stops answering (SIGSTOP: tansu keeps topics only in memory) and comes back."""
    with running_tansu(tmp_path / "broker") as broker:
        topic = "outage"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        producer = KafkaProducer(broker.bootstrap, topic, PARTITIONS)
        with started([sys.executable, "-c", KAFKA_RUN, str(tmp_path), broker.bootstrap, topic],
                     tmp_path / "daemon.log", env=env) as daemon:
            third = len(stream) // 3
            garbage = produce(producer, stream[:third])
            broker.pause()
            result: dict = {}
            sender = threading.Thread(target=lambda: result.update(garbage=produce(producer, stream[third:])))
            sender.start()  # producing into the outage: librdkafka buffers and retries
            time.sleep(3)
            broker.resume()
            sender.join(120)
            assert not sender.is_alive()
            total = len(stream) + garbage + result["garbage"]
            index_dir = tmp_path / "index"
            deadline = time.monotonic() + 120
            while (done := committed(index_dir, f"kafka:{topic}")) != total:
                assert time.monotonic() < deadline and daemon.poll() is None, f"indexed {done} of {total}"
                time.sleep(0.1)
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(30) == 0
    index = Index(index_dir, readonly=True)
    assert index_state(index) == clean
    with index.reader() as view:
        figures = view.meta(meta_key(f"kafka:{topic}"))
    assert (figures["applied_total"], figures["dead_lettered_total"]) == (len(stream), total - len(stream))
