"""Rebuilding from a PostgreSQL snapshot, then the indexer tailing the firehose from there, ends in
the model's state after every event the platform made (the model shares no code with Slipstream)."""

from __future__ import annotations

from pathlib import Path

import pytest

import indexer
from firehose.log import EmbeddedLog
from firehose.sources.generator import Scale, generate
from firehose.sources.postgres import PlatformDB
from firehose.sources.relay import OutboxRelay
from indexer.rebuild import rebuild
from indexer.store import Index
from tests.model.platform import Platform
from tests.test_indexer_daemon import model_docs
from tests.test_sources_postgres import outbox
from vocabulary.schema import VERTICALS

SMALL = Scale(users=200, follows=2_000, media=400, likes=1_500, places=15, blocks=20, hashtags=60, changes=1_200)


def documents(index: Index) -> dict:
    """Every live document, by vertical and external id (as tests/test_indexer_daemon.model_docs gives them)."""
    with index.reader() as view:
        return {v: {str(view.ext(v, i)): view.doc(v, i) for i in view.posting(v, "_live")} for v in VERTICALS}


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
    with EmbeddedLog(data / "firehose").producer() as producer, OutboxRelay(pg_dsn, producer) as relay:
        relay.drain()
    stats = indexer.run(data, once=True)  # the indexer resumes at the rebuild's offsets
    assert stats.applied == len(events) - cut
    platform = Platform()
    for _, e in outbox(pg_dsn):
        platform.apply(e)
    expected = model_docs(platform)
    assert sum(len(d) for d in expected.values()) > 500
    rebuilt = Index(data / "index", readonly=True)
    try:
        assert documents(rebuilt) == expected
    finally:
        rebuilt.close()


def test_rebuild_refuses_an_existing_index(pg_dsn: str, tmp_path: Path) -> None:
    with PlatformDB(pg_dsn) as db:
        db.apply({"op": "follow.add", "ts": 1, "follower": 1, "followee": 2})
    rebuild(pg_dsn, tmp_path, progress=False)
    with pytest.raises(ValueError, match="already holds an index"):
        rebuild(pg_dsn, tmp_path, progress=False)
