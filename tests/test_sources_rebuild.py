"""Rebuilding from a PostgreSQL snapshot, then the indexer tailing the firehose from there, ends in
the model's state after every event the platform made: documents, counts, ranks, links and every
term posting (the model, tests/model/platform.py, shares no code with Slipstream)."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import indexer
from firehose.log import EmbeddedLog
from firehose.sources.generator import Scale, generate
from firehose.sources.postgres import PlatformDB
from firehose.sources.relay import OutboxRelay
from indexer.rebuild import rebuild
from indexer.store import Index
from tests.model import platform as model_platform
from tests.model.platform import Platform
from tests.test_slipstream_model import assert_index_equals_model
from tests.test_sources_postgres import outbox
from vocabulary.schema import VERTICALS

SMALL = Scale(users=200, follows=2_000, media=400, likes=1_500, places=15, blocks=20, hashtags=60, changes=1_200)
TINY = Scale(users=60, follows=400, media=100, likes=300, places=5, blocks=5, hashtags=20, changes=300)
ROOT = Path(__file__).resolve().parents[1]


def named_ids(model: Platform) -> dict[str, set[int]]:
    """Every user, media and place id the platform's events named, live or not."""
    users = set(model.users) | set(model.user_deleted_at)
    for edges in (model.follows, model.blocks):
        users |= {end for edge in edges for end in edge}
    users |= {user for user, _ in model.likes} | {media["owner"] for media in model.media.values()}
    media = set(model.media) | set(model.media_deleted_at) | {m for _, m in model.likes}
    places = set(model.places) | {m["place"] for m in model.media.values() if m["place"] is not None}
    return {"user": users, "media": media, "place": places}


@pytest.fixture
def memoized_model_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model's text rules computed once per distinct text: the same answers, fast enough to
    check every term of a few thousand documents."""
    normalize, tokens = functools.cache(model_platform.normalize), functools.cache(model_platform.tokens)
    monkeypatch.setattr(model_platform, "normalize", normalize)
    monkeypatch.setattr(model_platform, "tokens", lambda text: list(tokens(text)))


@pytest.mark.usefixtures("memoized_model_text")
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
        offsets = rebuild(pg_dsn, data, progress=False, batch_events=700)  # several write batches
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
    assert sum(len(platform.ids(v)) for v in VERTICALS) > 500
    rebuilt = Index(data / "index", readonly=True)
    try:
        assert_index_equals_model(rebuilt, platform, named_ids(platform))
    finally:
        rebuilt.close()
    assert not (data / "index.rebuilding").exists()


def unicorn(*args: str) -> str:
    """Run the console script, require success, return its stderr."""
    done = subprocess.run([sys.executable, "-m", "console.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    return done.stderr


@pytest.mark.usefixtures("memoized_model_text")
def test_the_rebuild_command_then_index_once_equals_the_model(pg_dsn: str, tmp_path: Path) -> None:
    """The commands a user runs (docs/operations.md): `unicorn rebuild --from-postgres`, the relay
    publishing what the platform wrote meanwhile, then `unicorn index --once` from the rebuild's offsets."""
    events = list(generate(TINY, 6))
    snapshot = sum(1 for _ in generate(TINY, 6, changes=False))
    cut = snapshot + (len(events) - snapshot) // 2
    data = tmp_path / "data"
    EmbeddedLog(data / "firehose", partitions=1)
    with PlatformDB(pg_dsn) as db:
        db.bulk_load(events[:snapshot])
        for e in events[snapshot:cut]:
            db.apply(e)
        unicorn("rebuild", "--data", str(data), "--from-postgres", pg_dsn)
        for e in events[cut:]:
            db.apply(e)
    with EmbeddedLog(data / "firehose").producer() as producer, OutboxRelay(pg_dsn, producer) as relay:
        relay.drain()
    tailed = unicorn("index", "--once", "--data", str(data))
    assert int(re.search(r"applied (\d+) events", tailed).group(1)) == len(events) - cut
    platform = Platform()
    for _, e in outbox(pg_dsn):
        platform.apply(e)
    rebuilt = Index(data / "index", readonly=True)
    try:
        assert_index_equals_model(rebuilt, platform, named_ids(platform))
    finally:
        rebuilt.close()


def test_rebuild_refuses_an_existing_index(pg_dsn: str, tmp_path: Path) -> None:
    with PlatformDB(pg_dsn) as db:
        db.apply({"op": "follow.add", "ts": 1, "follower": 1, "followee": 2})
    rebuild(pg_dsn, tmp_path, progress=False)
    with pytest.raises(ValueError, match="already holds an index"):
        rebuild(pg_dsn, tmp_path, progress=False)
