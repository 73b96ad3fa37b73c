"""The trending pipeline inside the real indexer: `unicorn index --once` then the API answers
`/v1/trending` up to the last event; SIGKILL at random instants loses and doubles no count; with
a PostgreSQL DSN the snapshots go to PostgreSQL and the API reads them through its cache."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from starlette.testclient import TestClient

from api import create_app
from firehose.log import EmbeddedLog
from firehose.sources.trends import TrendScenario
from indexer.store import Index
from tests.processes import kill_at_random_instants
from tests.test_api_endpoints import AS_ADMIN, KEYS
from tests.test_indexer_daemon import committed
from tests.test_trending_pipeline import aux_state
from trending.snapshot import DSN_ENV, TABLE
from unicorn.trending import Trending

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(users=500, media_per_minute=30, warmup_minutes=90, hashtag_trends=2, place_trends=1, trend_accounts=50,
             trend_every_minutes=30, cooldown_minutes=10)


@pytest.fixture(scope="module")
def scenario() -> TrendScenario:
    return TrendScenario(seed=5, **SMALL)


@pytest.fixture(scope="module")
def events(scenario) -> list[dict]:
    return list(scenario.events())


def write_firehose(data: Path, events: list[dict]) -> None:
    with EmbeddedLog(data / "firehose").producer() as producer:
        for event in events:
            producer.send(event)


def index_once(data: Path, env: dict | None = None, batch_size: int = 5000) -> None:
    subprocess.run([sys.executable, "-m", "console.cli", "index", "--once", "--data", str(data),
                    "--batch-size", str(batch_size)], env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                   check=True, timeout=300, capture_output=True)


@pytest.fixture(scope="module")
def clean(events, tmp_path_factory) -> tuple[Path, dict]:
    """One uninterrupted `unicorn index --once`: what every other run must end in."""
    data = tmp_path_factory.mktemp("clean")
    write_firehose(data, events)
    index_once(data)
    index = Index(data / "index", readonly=True)
    state = aux_state(index)
    index.close()
    return data, state


def test_index_once_then_the_api_answers_trending_up_to_the_last_event(scenario, events, clean):
    data, _ = clean
    with TestClient(create_app(data, keys=KEYS, timeout_ms=60_000)) as client:
        body = client.get("/v1/trending", params={"kind": "hashtag", "limit": 50}, headers=AS_ADMIN).json()
        assert body["as_of"] == max(e["ts"] for e in events)
        last = scenario.planted[-1]  # under way when the stream ends (cooldown shorter than a window)
        assert last.id in [r["id"] for r in client.get("/v1/trending", params={"kind": last.kind},
                                                       headers=AS_ADMIN).json()["results"]]


RUN = "import sys, indexer; indexer.run(sys.argv[1], once=True, batch_size=int(sys.argv[2]))"


def test_sigkill_at_random_instants_neither_loses_nor_doubles_a_count(events, clean, tmp_path):
    write_firehose(tmp_path, events)
    index_dir = tmp_path / "index"
    kills_mid_stream = kill_at_random_instants(
        lambda rng: [sys.executable, "-c", RUN, str(tmp_path), str(rng.choice([40, 150, 400]))],
        tmp_path / "daemon.log", {**os.environ, "PYTHONPATH": str(ROOT)}, lambda: committed(index_dir),
        len(events), kills=10, pause=0.1, rng=random.Random(7))
    assert kills_mid_stream >= 4
    assert committed(index_dir) == len(events)
    index = Index(index_dir, readonly=True)
    try:
        assert aux_state(index) == clean[1]
    finally:
        index.close()


def test_with_a_dsn_snapshots_go_to_postgresql_and_the_api_reads_them_through_a_cache(events, clean, tmp_path, pg_dsn,
                                                                                        monkeypatch):
    write_firehose(tmp_path, events)
    index_once(tmp_path, {DSN_ENV: pg_dsn}, batch_size=300)
    index = Index(tmp_path / "index", readonly=True)
    try:
        with psycopg.connect(pg_dsn) as conn:
            rows = dict(conn.execute(f"SELECT kind, jsonb_build_object('as_of', as_of, 'results', results) FROM {TABLE}"))
        expected = {kind: Trending(index).snapshot(kind, view) for kind in ("hashtag", "place")
                    for view in [index.reader()]}
        assert rows == expected and rows["hashtag"]["results"]
        cached = Trending(index, dsn=pg_dsn, ttl_seconds=3600)
        assert cached.top("hashtag", 10, None) == {"kind": "hashtag", "as_of": rows["hashtag"]["as_of"],
                                                  "results": rows["hashtag"]["results"][:10]}
        with psycopg.connect(pg_dsn) as conn:
            conn.execute(f"UPDATE {TABLE} SET as_of = 7, results = '[]'::jsonb WHERE kind = 'hashtag'")
        assert cached.top("hashtag", 10, None)["as_of"] == rows["hashtag"]["as_of"]  # within the TTL: the cache
        assert Trending(index, dsn=pg_dsn).top("hashtag", 10, None) == {"kind": "hashtag", "as_of": 7, "results": []}
    finally:
        index.close()
    monkeypatch.setenv(DSN_ENV, pg_dsn)
    with TestClient(create_app(tmp_path, keys=KEYS, timeout_ms=60_000)) as client:
        body = client.get("/v1/trending", params={"kind": "hashtag"}, headers=AS_ADMIN).json()
    assert body == {"kind": "hashtag", "as_of": 7, "results": []}  # served from PostgreSQL, not the index
