"""Ingest benchmark: sustained events/s of a mixed stream into the index, and event-to-searchable
latency, on the embedded firehose and on Kafka (a local tansu broker).

`python -m bench.ingest [--scale S] [--no-kafka]` prints the figures; `run()` returns them.

- produce: events/s appended to the firehose (the generator's mixed snapshot + change stream).
- index: events/s the indexer applies draining that backlog (`unicorn index --once`).
- latency: a running indexer (its own process, as `unicorn index`) while the firehose takes a
  background load; each probe is a new user's `user.upsert`; latency is from the producer's
  flush returning to the user's document being visible to an index reader.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import click
import numpy as np

import indexer
from firehose.endpoint import DEFAULT_TOPIC, Endpoint
from firehose.events import Event, validate
from firehose.sources.generator import generate
from firehose.transport import Producer
from indexer.store import Index, StoreError
from vocabulary import paths

PROBE_BASE = 2**62
PROBES = 200
PROBE_INTERVAL = 0.025  # seconds between probes
LOAD_PER_PROBE = 100  # background events sent with each probe: 4,000 events/s of load
ROOT = Path(__file__).resolve().parents[1]
FOLLOW = "import sys, indexer; indexer.run(sys.argv[1], bootstrap=sys.argv[2] or None, topic=sys.argv[3])"


def _produce(producer: Producer, events: list[Event]) -> float:
    started = time.perf_counter()
    for event in events:
        producer.send(event)
    producer.flush()
    return len(events) / (time.perf_counter() - started)


def _probe(k: int) -> Event:
    return validate({"op": "user.upsert", "ts": 0, "user": {"id": PROBE_BASE + k, "username": f"probe{k}"}})


def _latency(producer: Producer, data: Path, load: Iterator[Event], bootstrap: str | None, topic: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    daemon = subprocess.Popen([sys.executable, "-c", FOLLOW, str(data), bootstrap or "", topic], env=env)
    index = Index(paths.index(data), readonly=True)
    try:
        warm = _probe(-1)
        producer.send(warm)
        producer.flush()
        _wait_visible(index, [warm["user"]["id"]], 60)
        sent: dict[int, float] = {}
        seen: dict[int, float] = {}
        for k in range(PROBES):
            for event in itertools.islice(load, LOAD_PER_PROBE):
                producer.send(event)
            producer.send(_probe(k))
            producer.flush()
            sent[PROBE_BASE + k] = time.perf_counter()
            until = sent[PROBE_BASE + k] + PROBE_INTERVAL
            while time.perf_counter() < until:
                seen.update(_visible(index, [u for u in sent if u not in seen]))
                time.sleep(0.001)
        seen.update(_wait_visible(index, [u for u in sent if u not in seen], 60))
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        index.close()
    ms = np.array([(seen[u] - sent[u]) * 1000 for u in sent])
    return {"p50_ms": round(float(np.percentile(ms, 50)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "max_ms": round(float(ms.max()), 1), "probes": len(ms), "load_events_per_s": round(LOAD_PER_PROBE / PROBE_INTERVAL)}


def _visible(index: Index, users: list[int]) -> dict[int, float]:
    now = time.perf_counter()
    with index.reader() as view:
        return {u: now for u in users if (i := view.iid("user", u)) is not None and view.doc("user", i) is not None}


def _wait_visible(index: Index, users: list[int], timeout: float) -> dict[int, float]:
    found: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(users):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(users) - len(found)} probes never became searchable")
        try:
            found.update(_visible(index, [u for u in users if u not in found]))
        except StoreError:
            pass
        time.sleep(0.001)
    return found


def _scenario(name: str, producer: Producer, data: Path, events: list[Event], load: list[Event],
              bootstrap: str | None = None, topic: str = DEFAULT_TOPIC) -> dict:
    produce_rate = _produce(producer, events)
    started = time.perf_counter()
    stats = indexer.run(data, once=True, bootstrap=bootstrap, topic=topic, progress=False)
    index_rate = stats.applied / (time.perf_counter() - started)
    latency = _latency(producer, data, iter(load), bootstrap, topic)
    figures = {"events": len(events), "produce_events_per_s": round(produce_rate), "index_events_per_s": round(index_rate),
               "latency": latency}
    print(f"{name:>8}: produce {produce_rate:>9,.0f} events/s   index {index_rate:>7,.0f} events/s   "
          f"event-to-searchable p50 {latency['p50_ms']} ms  p99 {latency['p99_ms']} ms  "
          f"(under {latency['load_events_per_s']:,} events/s of load)", flush=True)
    return figures


def run(scale: str = "S", seed: int = 1, kafka: bool = True) -> dict:
    """Both scenarios on a fresh data directory each; returns {"embedded": {...}, "kafka": {...}}."""
    events = list(generate(scale, seed))
    load = events[-PROBES * LOAD_PER_PROBE:]  # the change stream again, as background load
    results = {"scale": scale, "events": len(events)}
    with tempfile.TemporaryDirectory(prefix="unicorn-bench-ingest-") as tmp:
        data = Path(tmp) / "embedded"
        with Endpoint(data).producer() as producer:
            results["embedded"] = _scenario("embedded", producer, data, events, load)
        if kafka:
            from bench.servers import Tansu, free_port

            broker = Tansu(free_port())
            broker.start()
            try:
                data = Path(tmp) / "kafka"
                firehose = Endpoint(data, broker.bootstrap, DEFAULT_TOPIC)
                results["kafka"] = _scenario("kafka", firehose.producer(), data, events, load, firehose.bootstrap,
                                             firehose.topic)
            finally:
                broker.stop()
    return results


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--scale", default="S", show_default=True, help="Generator scale: S, demo, M or L.")
@click.option("--seed", default=1, show_default=True)
@click.option("--kafka/--no-kafka", default=True, show_default=True, help="Also on Kafka (a local tansu broker).")
def main(scale: str, seed: int, kafka: bool) -> None:
    """Ingest benchmark: events/s into the index and event-to-searchable latency."""
    run(scale, seed, kafka=kafka)


if __name__ == "__main__":
    main()
