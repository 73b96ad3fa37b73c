"""Rebuilding from a PostgreSQL snapshot, then tailing the firehose, equals replaying everything."""

from __future__ import annotations

from pathlib import Path

import pytest

from firehose.events import from_msgpack
from firehose.log import EmbeddedLog
from firehose.sources.generator import Scale, generate
from firehose.sources.postgres import PlatformDB
from firehose.sources.relay import OutboxRelay
from slipstream import Slipstream
from tests.test_sources_postgres import outbox
from unicorn.rebuild import SOURCE, rebuild
from unicorn.schema import VERTICALS
from unicorn.store import Index

SMALL = Scale(users=200, follows=2_000, media=400, likes=1_500, places=15, blocks=20, hashtags=60, changes=1_200)


def tail(index: Index, log: EmbeddedLog) -> None:
    consumer = log.consumer()
    consumer.assign(index.offsets(SOURCE) or {p: 0 for p in range(log.partitions)})
    while not consumer.at_end():
        records = consumer.poll(500, 0.1)
        with index.writer() as batch:
            for record in records:
                Slipstream(batch).apply(from_msgpack(record.payload))
            batch.set_offsets(SOURCE, consumer.positions())
    consumer.close()


def contents(index: Index) -> dict:
    """Every document and posting, by external id (internal ids depend on the order of arrival)."""
    out = {}
    with index.reader() as view:
        for v in VERTICALS:
            live = view.posting(v, "_live")
            out[v, "docs"] = {view.ext(v, i): view.doc(v, i) for i in live}
            out[v, "post"] = {t: {view.ext(v, i) for i in view.posting(v, t)} for t in view.terms(v, "")}
    return {k: val for k, val in out.items()}


def test_rebuild_then_tail_equals_replay_from_start(pg_dsn: str, tmp_path: Path) -> None:
    events = list(generate(SMALL, 4))
    snapshot = sum(1 for _ in generate(SMALL, 4, changes=False))
    cut = snapshot + (len(events) - snapshot) // 2
    data = tmp_path / "data"
    EmbeddedLog(data / "firehose", partitions=1)
    with PlatformDB(pg_dsn) as db:
        db.bulk_load(events[:snapshot])
        for e in events[snapshot:cut]:
            db.apply(e)
        with EmbeddedLog(data / "firehose").producer() as producer, OutboxRelay(pg_dsn, producer, batch=700) as relay:
            relay.step()  # the relay is part-way when the rebuild starts
        offsets = rebuild(pg_dsn, data, progress=False)
        for e in events[cut:]:
            db.apply(e)
    assert offsets == {0: cut}
    log = EmbeddedLog(data / "firehose")
    with EmbeddedLog(data / "firehose").producer() as producer, OutboxRelay(pg_dsn, producer) as relay:
        relay.drain()
    rebuilt = Index(data / "index")
    tail(rebuilt, log)
    replayed = Index(tmp_path / "replay")
    with replayed.writer() as batch:
        for _, e in outbox(pg_dsn):
            Slipstream(batch).apply(e)
    expected = contents(replayed)
    assert sum(len(d) for k, d in expected.items() if k[1] == "docs") > 500
    assert contents(rebuilt) == expected
    rebuilt.close()
    replayed.close()


def test_rebuild_refuses_an_existing_index(pg_dsn: str, tmp_path: Path) -> None:
    with PlatformDB(pg_dsn) as db:
        db.apply({"op": "follow.add", "ts": 1, "follower": 1, "followee": 2})
    rebuild(pg_dsn, tmp_path, progress=False)
    with pytest.raises(ValueError, match="already holds an index"):
        rebuild(pg_dsn, tmp_path, progress=False)
