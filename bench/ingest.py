"""Ingest benchmark: sustained events/s of a mixed stream into the index, and event-to-searchable
latency, on the embedded firehose and on Kafka (a local tansu broker).

`python -m bench.ingest [--scale S] [--no-kafka]` prints the figures; `run()` returns them.

- produce: events/s appended to the firehose (the generator's mixed snapshot + change stream).
- index: events/s the indexer applies draining that backlog (`unicorn index --once`).
- latency: a running indexer (its own process, as `unicorn index`) while the firehose takes a
  background load of new follows and likes among the scale's users and media, at LOAD_RATE
  events/s (issue 13's ingest goal; `latency`) and at half the measured index rate
  (`latency_sustained`), as far as the producer keeps up (the load reached is reported); each
  probe is a new user's `user.upsert`; latency is from the producer's flush returning to the
  user's document being visible to an index reader.
- user.delete: CPU and wall time of the batch deleting a user with DELETED_FOLLOWERS[scale]
  followers, per 1,000 edges.
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
from firehose.events import (
    FOLLOW_ADD,
    LIKE_ADD,
    USER_DELETE,
    USER_UPSERT,
    Event,
    validate,
)
from firehose.sources.generator import MEDIA_ID0, SCALES, generate, user_id
from firehose.transport import Producer
from indexer.store import Index, StoreError
from slipstream import Slipstream
from vocabulary import paths

PROBE_BASE = 2**62
PROBES = 200
PROBE_INTERVAL = 0.025  # seconds between probes
LOAD_RATE = 100_000  # background events/s: issue 13's ingest goal
SUSTAINED_SHARE = 0.5  # the second load: this share of the rate measured draining the backlog
VISIBLE_TIMEOUT = 120  # seconds the last probes may take to become searchable behind the load
ROOT = Path(__file__).resolve().parents[1]
FOLLOW = "import sys, indexer; indexer.run(sys.argv[1], bootstrap=sys.argv[2] or None, topic=sys.argv[3])"


def _produce(producer: Producer, events: list[Event]) -> float:
    started = time.perf_counter()
    for event in events:
        producer.send(event)
    producer.flush()
    return len(events) / (time.perf_counter() - started)


_probe_ids = itertools.count(PROBE_BASE)  # every probe a new user


def _probe() -> Event:
    user = next(_probe_ids)
    return validate({"op": "user.upsert", "ts": 0, "user": {"id": user, "username": f"probe{user - PROBE_BASE}"}})


def _latency(producer: Producer, data: Path, load: Iterator[Event], rate: int, bootstrap: str | None,
             topic: str) -> dict:
    """Event-to-searchable latency of PROBES probes under `rate` events/s of `load` (as far as the
    producer keeps up). A probe not searchable within VISIBLE_TIMEOUT of the last one counts as
    seen then (`late` says how many): a load the indexer cannot take leaves a growing backlog."""
    per_probe = max(1, round(rate * PROBE_INTERVAL))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    daemon = subprocess.Popen([sys.executable, "-c", FOLLOW, str(data), bootstrap or "", topic], env=env)
    index = Index(paths.index(data), readonly=True)
    try:
        warm = _probe()
        producer.send(warm)
        producer.flush()
        _wait_visible(index, [warm["user"]["id"]], 60)
        sent: dict[int, float] = {}
        seen: dict[int, float] = {}
        started = time.perf_counter()
        for _ in range(PROBES):
            for event in itertools.islice(load, per_probe):
                producer.send(event)
            probe = _probe()
            producer.send(probe)
            producer.flush()
            user = probe["user"]["id"]
            sent[user] = time.perf_counter()
            until = sent[user] + PROBE_INTERVAL
            while time.perf_counter() < until:
                seen.update(_visible(index, [u for u in sent if u not in seen]))
                time.sleep(0.001)
        load_seconds = time.perf_counter() - started
        waiting = [u for u in sent if u not in seen]
        seen.update(_wait_visible(index, waiting, VISIBLE_TIMEOUT, strict=False))
        late = [u for u in waiting if u not in seen]
        seen.update(dict.fromkeys(late, time.perf_counter()))
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        index.close()
    ms = np.array([(seen[u] - sent[u]) * 1000 for u in sent])
    return {"p50_ms": round(float(np.percentile(ms, 50)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "max_ms": round(float(ms.max()), 1), "probes": len(ms), "late": len(late),
            "load_events_per_s": round(PROBES * per_probe / load_seconds), "load_asked_events_per_s": rate}


def _visible(index: Index, users: list[int]) -> dict[int, float]:
    now = time.perf_counter()
    with index.reader() as view:
        return {u: now for u in users if (i := view.iid("user", u)) is not None and view.doc("user", i) is not None}


def _wait_visible(index: Index, users: list[int], timeout: float, strict: bool = True) -> dict[int, float]:
    """When each of `users` became visible, waiting `timeout` at most: then TimeoutError, or with
    `strict` False those found."""
    found: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(users):
        if time.monotonic() > deadline:
            if not strict:
                return found
            raise TimeoutError(f"{len(users) - len(found)} probes never became searchable")
        try:
            found.update(_visible(index, [u for u in users if u not in found]))
        except StoreError:
            pass
        time.sleep(0.001)
    return found


def _load(scale: str, seed: int) -> Iterator[Event]:
    """Background load: new follows and likes (half each) among the scale's users and media."""
    size = SCALES[scale]
    rng = np.random.default_rng(seed + 1)
    ts = 2**50  # after every event of the stream
    while True:
        users = rng.integers(0, size.users, size=(2, 10_000)).tolist()
        media = rng.integers(0, size.media, size=10_000).tolist()
        for a, z, m in zip(*users, media):
            ts += 1
            yield FOLLOW_ADD.make(ts, follower=user_id(a), followee=user_id(z))
            yield LIKE_ADD.make(ts, user=user_id(a), media=MEDIA_ID0 + m)


def _scenario(name: str, producer: Producer, data: Path, events: list[Event], load: Iterator[Event],
              bootstrap: str | None = None, topic: str = DEFAULT_TOPIC) -> dict:
    produce_rate = _produce(producer, events)
    started_cpu, started = time.process_time(), time.perf_counter()
    stats = indexer.run(data, once=True, bootstrap=bootstrap, topic=topic, progress=False)
    index_rate = stats.applied / (time.perf_counter() - started)
    cpu_us = (time.process_time() - started_cpu) * 1e6 / max(stats.applied, 1)
    sustained = _latency(producer, data, load, max(1000, round(index_rate * SUSTAINED_SHARE)), bootstrap, topic)
    latency = _latency(producer, data, load, LOAD_RATE, bootstrap, topic)
    figures = {"events": len(events), "produce_events_per_s": round(produce_rate), "index_events_per_s": round(index_rate),
               "index_cpu_us_per_event": round(cpu_us, 1), "latency": latency, "latency_sustained": sustained}
    print(f"{name:>8}: produce {produce_rate:>9,.0f} events/s   index {index_rate:>7,.0f} events/s "
          f"({cpu_us:.1f} us CPU per event)   "
          f"event-to-searchable p50 {latency['p50_ms']} ms  p99 {latency['p99_ms']} ms  "
          f"(under {latency['load_events_per_s']:,} events/s of load; {latency['late']} late); "
          f"under {sustained['load_events_per_s']:,} events/s p50 {sustained['p50_ms']} ms  p99 {sustained['p99_ms']} ms",
          flush=True)
    return figures


DELETED_FOLLOWERS = {"S": 10_000, "demo": 10_000, "M": 100_000, "L": 100_000}  # followers of the deleted user
OTHER_FOLLOWS = 10  # follows of each follower besides the deleted user
BUILD_BATCH = 50_000


def _apply(index: Index, events: Iterator[Event]) -> None:
    """Apply events in-process through Slipstream, BUILD_BATCH to a write batch."""
    events = iter(events)
    while chunk := list(itertools.islice(events, BUILD_BATCH)):
        with index.writer() as batch:
            slipstream = Slipstream(batch)
            for event in chunk:
                slipstream.apply(event)


def user_delete(followers: int, seed: int = 1) -> dict:
    """The cost of `user.delete` of a user with `followers` followers, each following OTHER_FOLLOWS
    others too: CPU and wall time of the one batch holding the delete (apply and commit)."""
    rng = np.random.default_rng(seed)
    celebrity = followers + 1
    others = rng.integers(1, followers + 1, size=(followers, OTHER_FOLLOWS)).tolist()

    def build() -> Iterator[Event]:
        for user in range(1, celebrity + 1):
            yield USER_UPSERT.make(user, user={"id": user, "username": f"user{user}", "full_name": "",
                                               "is_private": False, "is_verified": False})
        ts = celebrity
        for follower, followees in zip(range(1, followers + 1), others):
            for followee in sorted({*followees, celebrity} - {follower}):
                ts += 1
                yield FOLLOW_ADD.make(ts, follower=follower, followee=followee)

    with tempfile.TemporaryDirectory(prefix="unicorn-bench-delete-") as tmp:
        index = Index(Path(tmp) / "index")
        try:
            _apply(index, build())
            started_cpu, started = time.process_time(), time.perf_counter()
            _apply(index, [USER_DELETE.make(2**40, id=celebrity)])
            cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started
            with index.reader() as view:
                assert view.doc("user", view.iid("user", celebrity)) is None
        finally:
            index.close()
    figures = {"followers": followers, "cpu_ms": round(cpu * 1000, 1), "wall_ms": round(wall * 1000, 1),
               "cpu_ms_per_1000_edges": round(cpu * 1e6 / followers, 2),
               "wall_ms_per_1000_edges": round(wall * 1e6 / followers, 2)}
    print(f"user.delete of a user with {followers:,} followers: {figures['cpu_ms']:,} ms CPU, {figures['wall_ms']:,} ms "
          f"wall ({figures['cpu_ms_per_1000_edges']} ms CPU per 1,000 edges)", flush=True)
    return figures


def run(scale: str = "S", seed: int = 1, kafka: bool = True) -> dict:
    """Both scenarios on a fresh data directory each; returns {"embedded": {...}, "kafka": {...}}."""
    events = list(generate(scale, seed))
    results = {"scale": scale, "events": len(events), "user_delete": user_delete(DELETED_FOLLOWERS[scale], seed)}
    with tempfile.TemporaryDirectory(prefix="unicorn-bench-ingest-") as tmp:
        data = Path(tmp) / "embedded"
        with Endpoint(data).producer() as producer:
            results["embedded"] = _scenario("embedded", producer, data, events, _load(scale, seed))
        if kafka:
            from bench.servers import Tansu, free_port

            broker = Tansu(free_port())
            broker.start()
            try:
                data = Path(tmp) / "kafka"
                firehose = Endpoint(data, broker.bootstrap, DEFAULT_TOPIC)
                results["kafka"] = _scenario("kafka", firehose.producer(), data, events, _load(scale, seed),
                                             firehose.bootstrap, firehose.topic)
            finally:
                broker.stop()
    return results


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--scale", default="S", show_default=True, help="Generator scale: S, demo, M or L.")
@click.option("--seed", default=1, show_default=True)
@click.option("--kafka/--no-kafka", default=True, show_default=True, help="Also on Kafka (a local tansu broker).")
@click.option("--delete-only", is_flag=True, help="Only the user.delete figure.")
def main(scale: str, seed: int, kafka: bool, delete_only: bool) -> None:
    """Ingest benchmark: events/s into the index, event-to-searchable latency, the cost of user.delete."""
    if delete_only:
        user_delete(DELETED_FOLLOWERS[scale], seed)
    else:
        run(scale, seed, kafka=kafka)


if __name__ == "__main__":
    main()
