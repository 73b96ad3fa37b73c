"""The outbox relay: id order, at least once, never a skip, exact effect across SIGKILLs."""

from __future__ import annotations

import os
import signal
import sys
import time

import psycopg
import pytest
from pathlib import Path

from firehose.events import from_msgpack, partition_key
from firehose.log import EmbeddedLog, LogProducer
from firehose.sources.generator import Scale, generate
from firehose.sources.postgres import PlatformDB
from firehose.sources.relay import OutboxRelay
from firehose.transport import partition_for
from tests.model.platform import Platform
from tests.processes import started
from tests.test_sources_postgres import outbox

SMALL = Scale(users=300, follows=3_000, media=600, likes=2_000, places=20, blocks=30, hashtags=80, changes=1_500)


def log_events(log: EmbeddedLog) -> dict[int, list[dict]]:
    consumer = log.consumer()
    consumer.assign({p: 0 for p in range(log.partitions)})
    events: dict[int, list[dict]] = {p: [] for p in range(log.partitions)}
    while not consumer.at_end():
        for record in consumer.poll(10_000, 0.1):
            events[record.partition].append(from_msgpack(record.payload))
    consumer.close()
    return events


def first_occurrences(events: list[dict]) -> list[dict]:
    seen: set[bytes] = set()
    out = []
    for e in events:
        key = repr(e).encode()
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def load(dsn: str) -> list[dict]:
    events = list(generate(SMALL, 21))
    snapshot = sum(1 for _ in generate(SMALL, 21, changes=False))
    with PlatformDB(dsn) as db:
        db.bulk_load(events[:snapshot])
        for e in events[snapshot:]:
            db.apply(e)
    return [e for _, e in outbox(dsn)]


def test_relay_publishes_in_outbox_order_per_partition_and_resumes(pg_dsn: str, tmp_path: Path) -> None:
    sent = load(pg_dsn)
    log = EmbeddedLog(tmp_path / "log", partitions=4)
    with log.producer() as producer, OutboxRelay(pg_dsn, producer, batch=500) as relay:
        assert relay.drain(until=1000) == 1000 and relay.position() == 1000
        assert relay.drain() == len(sent) - 1000
        assert relay.drain() == 0 and relay.position() == len(sent)
    published = log_events(log)
    assert sum(map(len, published.values())) == len(sent), "no duplicates without a crash"
    for p, events in published.items():
        assert events == [e for e in sent if _partition(e, 4) == p]


def _partition(event: dict, partitions: int) -> int:
    return partition_for(partition_key(event), partitions)


def test_relay_killed_mid_way_republishes_never_skips_and_the_effect_is_exact(pg_dsn: str, tmp_path: Path) -> None:
    sent = load(pg_dsn)
    log_dir = tmp_path / "log"
    EmbeddedLog(log_dir, partitions=1)
    kills, position = 0, 0
    while True:
        with started([sys.executable, "-m", "firehose.sources.relay", pg_dsn, str(log_dir), "--once", "--batch", "200"],
                     tmp_path / "relay.log", cwd=Path(__file__).parent.parent) as relay:
            while relay.poll() is None and relay_position(pg_dsn) == position:
                time.sleep(0.005)
            if relay.poll() is not None:
                break
            os.kill(relay.pid, signal.SIGKILL)  # right after a batch committed, most likely mid-way through the next
            relay.wait()
        kills += 1
        position = relay_position(pg_dsn)
    assert relay.returncode == 0 and kills >= 3 and relay_position(pg_dsn) == len(sent)
    published = log_events(EmbeddedLog(log_dir))[0]
    assert len(published) >= len(sent)
    assert first_occurrences(published) == first_occurrences(sent), "in order, nothing skipped"
    expected, actual = Platform(), Platform()
    for e in sent:
        expected.apply(e)
    for e in published:
        actual.apply(e)
    for vertical in ("user", "media", "hashtag", "place"):
        ids = expected.ids(vertical)
        assert actual.ids(vertical) == ids
        assert all(actual.document(vertical, i) == expected.document(vertical, i) for i in ids)
    # Replay re-delivers a contiguous stretch, so a re-delivered like.add is followed by its media.delete again.
    assert (actual.follows, actual.blocks, actual.likes) == (expected.follows, expected.blocks, expected.likes)


def relay_position(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT outbox_id FROM relay_position").fetchone()
    return row[0] if row else 0


class Crash(BaseException):
    pass


class CrashAfterFlush(LogProducer):
    """A real log producer whose process 'dies' right after a durable flush, before the position is stored."""

    def flush(self) -> None:
        super().flush()
        raise Crash


def test_a_crash_between_flush_and_position_republishes_the_batch(pg_dsn: str, tmp_path: Path) -> None:
    sent = load(pg_dsn)
    log = EmbeddedLog(tmp_path / "log", partitions=1)
    with OutboxRelay(pg_dsn, CrashAfterFlush(log), batch=100) as relay:
        with pytest.raises(Crash):
            relay.step()
        assert relay.position() == 0
    with log.producer() as producer, OutboxRelay(pg_dsn, producer, batch=100) as relay:
        assert relay.step() == 100 and relay.position() == 100
    assert log_events(log)[0] == sent[:100] * 2
