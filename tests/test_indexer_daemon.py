"""The indexer against the plain-Python platform model, over both transports: restarts from
committed positions, dead letters, refusals by Slipstream, graceful shutdown."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import indexer
import indexer.daemon
from firehose.deadletter import DeadLetters, EmbeddedDeadLetters, KafkaDeadLetters
from firehose.events import validate
from firehose.kafka import KafkaConsumer, KafkaProducer
from firehose.log import EmbeddedLog
from firehose.transport import Consumer, Producer
from indexer import Indexer, meta_key
from indexer.store import Index, StoreError
from tests.brokers import unique_topic
from tests.model.platform import Platform
from tests.processes import started
from tests.strategies import events
from vocabulary.schema import VERTICALS

ROOT = Path(__file__).resolve().parents[1]
GARBAGE = [b"\xc1", b"plain text", msgpack.packb({"op": "user.upsert", "ts": 1}), msgpack.packb([1, 2, 3]),
           msgpack.packb({"op": "follow.add", "ts": 1, "follower": -5, "followee": 1})]


def index_state(index: Index) -> dict:
    """Everything a query can see, by external ids: every posting list and every live document."""
    with index.reader() as view:
        state = {}
        for vertical in VERTICALS:
            postings = {term: sorted(map(str, (view.ext(vertical, i) for i in view.posting(vertical, term))))
                        for term in view.terms(vertical, "")}
            docs = {str(view.ext(vertical, i)): view.doc(vertical, i) for i in view.posting(vertical, "_live")}
            state[vertical] = {"postings": postings, "docs": docs}
        return state


def committed(index_dir: Path, source: str = "embedded") -> int:
    """Records the index has committed, read as another process would."""
    try:
        index = Index(index_dir, readonly=True)
    except StoreError:  # not created yet
        return 0
    try:
        return sum(index.offsets(source).values())
    finally:
        index.close()


def model_docs(platform: Platform) -> dict:
    return {v: {str(k): platform.document(v, k) for k in platform.ids(v)} for v in VERTICALS}


@dataclass
class Source:
    """One firehose: how to write to it, and how to read it as the indexer does."""

    name: str
    partitions: int
    producer: Producer
    consumer: Callable[[], Consumer]
    dead_letters: Callable[[], DeadLetters]


@pytest.fixture(params=["embedded", "kafka"])
def make_source(request) -> Callable[[Path, int], Source]:
    if request.param == "embedded":
        def make(data: Path, partitions: int) -> Source:
            log = EmbeddedLog(data / "firehose", partitions)
            return Source("embedded", partitions, log.producer(), log.consumer, lambda: EmbeddedDeadLetters(data))
    else:
        broker = request.getfixturevalue("tansu")

        def make(data: Path, partitions: int) -> Source:
            topic = unique_topic("idx")
            return Source(f"kafka:{topic}", partitions, KafkaProducer(broker.bootstrap, topic, partitions),
                          lambda: KafkaConsumer(broker.bootstrap, topic), lambda: KafkaDeadLetters(broker.bootstrap, topic))
    return make


def open_indexer(index: Index, source: Source, batch_size: int) -> Indexer:
    return Indexer(index, source.consumer(), source.dead_letters(), source.name, batch_size=batch_size)


def drain(index: Index, source: Source, batch_size: int = 1000) -> Indexer:
    worker = open_indexer(index, source, batch_size)
    deadline = time.monotonic() + 60
    while worker.step(idle=0.05) or not worker.consumer.at_end():
        assert time.monotonic() < deadline
    worker.consumer.close()
    return worker


def wait_for_end(source: Source, total: int) -> None:
    """Kafka: the topic holds `total` records before the test goes on."""
    consumer = source.consumer()
    consumer.assign({p: 0 for p in range(source.partitions)})
    while not consumer.at_end():
        consumer.poll(1000, 0.1)
    assert sum(consumer.positions().values()) == total
    consumer.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=events(60), garbage_at=st.lists(st.integers(0, 60), max_size=5),
       runs=st.lists(st.tuples(st.integers(1, 8), st.integers(1, 12)), max_size=4))
def test_index_matches_the_model_across_restarts(make_source, stream, garbage_at, runs):
    """One partition (a total order, as the model has): indexing in restarted pieces ends in the model's state."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        source = make_source(data, 1)
        platform = Platform()
        records = 0
        for i, event in enumerate(stream):
            for j in [j for j, at in enumerate(garbage_at) if at == i]:
                source.producer.send_raw(0, b"", GARBAGE[j % len(GARBAGE)])
                records += 1
            source.producer.send(event)
            platform.apply(event)
            records += 1
        source.producer.flush()
        dead_expected = records - len(stream)
        index = Index(data / "index")
        for steps, batch_size in runs:  # each piece: a fresh indexer resuming from the committed offsets
            worker = open_indexer(index, source, batch_size)
            committed, deadline = 0, time.monotonic() + 60  # Kafka's first polls may come back empty: count batches
            while committed < steps and sum(index.offsets(source.name).values()) < records:
                assert time.monotonic() < deadline
                committed += worker.step(idle=0.05) > 0
            worker.consumer.close()
            assert committed == steps or sum(index.offsets(source.name).values()) == records
        worker = drain(index, source, batch_size=7)
        assert index.offsets(source.name) == {0: records}
        state = index_state(index)
        assert {v: state[v]["docs"] for v in VERTICALS} == model_docs(platform)
        with index.reader() as view:
            figures = view.meta(meta_key(source.name))
        assert (figures["applied_total"], figures["dead_lettered_total"]) == (len(stream), dead_expected)
        assert figures["lag"] == {0: 0}
        letters = list(worker.dead_letters.read())
        assert sorted(d["offset"] for d in letters) == sorted(
            o for o in range(records) if o not in {r for r in _event_offsets(garbage_at, len(stream))})
        assert all(d["source"] == source.name and d["partition"] == 0 and d["reason"] for d in letters)
        index.close()


def _event_offsets(garbage_at: list[int], n: int) -> list[int]:
    offsets, offset = [], 0
    for i in range(n):
        offset += sum(1 for at in garbage_at if at == i)
        offsets.append(offset)
        offset += 1
    return offsets


def test_an_event_slipstream_refuses_is_dead_lettered_alone(tmp_path, monkeypatch):
    """A refusal aborts the batch, which is redone without that event: nothing else lost or doubled."""
    real = indexer.daemon.Slipstream

    class Refusing(real):
        def apply(self, event):
            if event["op"] == "user.upsert" and event["user"]["username"] == "refuse-me":
                raise RuntimeError("refused for the test")
            super().apply(event)

    monkeypatch.setattr(indexer.daemon, "Slipstream", Refusing)
    log = EmbeddedLog(tmp_path / "firehose", 2)
    stream = [{"op": "user.upsert", "ts": 1, "user": {"id": i, "username": "refuse-me" if i == 3 else f"u{i}"}}
              for i in range(6)] + [{"op": "follow.add", "ts": 2, "follower": i, "followee": 0} for i in range(1, 6)]
    stream = [validate(e) for e in stream]
    platform = Platform()
    with log.producer() as producer:
        for event in stream:
            producer.send(event)
            if event.get("user", {}).get("username") != "refuse-me":
                platform.apply(event)
    index = Index(tmp_path / "index")
    worker = Indexer(index, log.consumer(), EmbeddedDeadLetters(tmp_path), "embedded")
    while worker.step(idle=0):
        pass
    assert index_state(index)["user"]["docs"] == model_docs(platform)["user"]
    (letter,) = worker.dead_letters.read()
    assert "refused for the test" in letter["reason"] and letter["reason"].startswith("slipstream:")
    assert (worker.stats.applied, worker.stats.dead_lettered) == (len(stream) - 1, 1)


RUN = "import sys, indexer; indexer.run(sys.argv[1], batch_size=int(sys.argv[2]))"


def test_sigterm_finishes_the_batch_and_exits_0(tmp_path):
    log = EmbeddedLog(tmp_path / "firehose", 4)
    with log.producer() as producer:
        for i in range(3000):
            producer.send({"op": "follow.add", "ts": i, "follower": i % 97, "followee": i})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    index_dir = tmp_path / "index"
    with started([sys.executable, "-c", RUN, str(tmp_path), "50"], tmp_path / "daemon.log", env=env) as daemon:
        deadline = time.monotonic() + 60
        while not committed(index_dir):
            assert time.monotonic() < deadline and daemon.poll() is None
            time.sleep(0.05)
        daemon.send_signal(signal.SIGTERM)  # mid-stream, probably mid-batch
        assert daemon.wait(30) == 0, (tmp_path / "daemon.log").read_text()
    index = Index(index_dir)
    stopped_at = sum(index.offsets("embedded").values())
    assert stopped_at > 0
    worker = Indexer(index, log.consumer(), EmbeddedDeadLetters(tmp_path), "embedded")
    while worker.step(idle=0):
        pass
    assert worker.stats.applied == 3000 - stopped_at  # resumed exactly where it stopped
    postings = index_state(index)["user"]["postings"]
    assert all(postings[f"follower:{i}"] == [str(i % 97)] for i in range(3000))
    with index.reader() as view:
        assert view.meta(meta_key("embedded"))["applied_total"] == 3000


def test_once_reports_progress_figures_and_metrics(tmp_path, capsys):
    from indexer.stats import EVENTS

    with EmbeddedLog(tmp_path / "firehose", 2).producer() as producer:
        for i in range(500):
            producer.send({"op": "follow.add", "ts": i, "follower": i, "followee": 1})
        producer.send_raw(1, b"", b"junk")
    before = EVENTS.labels("embedded")._value.get()
    stats = indexer.run(tmp_path, once=True, batch_size=100, progress=True)
    assert (stats.applied, stats.dead_lettered) == (500, 1)
    assert "indexing" in capsys.readouterr().err
    assert EVENTS.labels("embedded")._value.get() - before == 500
    index = Index(tmp_path / "index", readonly=True)
    with index.reader() as view:
        figures = view.meta(meta_key("embedded"))
    assert figures["applied_total"] == 500 and figures["dead_lettered_total"] == 1
    assert figures["lag"] == {0: 0, 1: 0} and figures["last_commit"] > 0
    assert index.offsets("embedded") == EmbeddedLog(tmp_path / "firehose").end_offsets()
