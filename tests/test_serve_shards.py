"""`unicorn serve --shards N` over the shards of DATA/shards/layout.json: one process per replica behind the
public API, whose answers equal one index's; SIGTERM stops the aggregator and every shard server."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import httpx

from firehose.endpoint import EMBEDDED
from firehose.events import validate
from indexer.store import Index
from tests.processes import group_members, started, wait_for_line
from tests.sharded import write_sharded
from tests.test_shard_faults import history
from unicorn.engine import Engine
from vocabulary import paths
from vocabulary.shards import Layout, write_layout

SHARDS, REPLICAS, PARTITIONS = 3, 1, 6
RUNNING = r"Uvicorn running on http://127\.0\.0\.1:(\d+)"  # the aggregator's port: it serves on port 0


def test_serve_shards_answers_as_one_index_and_stops_every_process(tmp_path: Path):
    data = tmp_path / "data"
    whole = Index(tmp_path / "whole")
    shards = [Index(paths.index(paths.shard(data, s, 0))) for s in range(SHARDS)]
    write_sharded([validate(e) for e in history()], whole, shards, PARTITIONS)
    for shard in shards:
        shard.close()
    write_layout(data, Layout(SHARDS, REPLICAS, PARTITIONS, EMBEDDED))
    one = Engine(whole)
    env = {**os.environ, "UNICORN_API_KEYS": "k:admin"}
    try:
        with started([sys.executable, "-m", "console.cli", "serve", "--data", str(data), "--shards", str(SHARDS),
                      "--port", "0"], tmp_path / "serve.log", env=env) as proc:
            port = wait_for_line(tmp_path / "serve.log", RUNNING, proc, 60).group(1)
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.1)
            headers = {"Authorization": "Bearer k"}
            for viewer in (None, 3, 10):
                body = {"vertical": "user", "query": "(apply following: (term name:jo1))", "limit": 50}
                if viewer is not None:
                    body["viewer"] = viewer
                got = httpx.post(f"{url}/v1/search", json=body, headers=headers, timeout=10).json()
                expected = one.search("user", body["query"], viewer, limit=50).to_dict()
                assert {k: v for k, v in got.items() if k != "took_ms"} == \
                    {k: v for k, v in expected.items() if k != "took_ms"}
            typed = httpx.get(f"{url}/v1/typeahead", params={"q": "jo", "viewer": 3}, headers=headers, timeout=10).json()
            assert typed["results"] == one.typeahead("jo", 3).results
            members = group_members(proc.pid)
            assert len(members) >= 1 + SHARDS * REPLICAS  # the aggregator and a process per replica
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            deadline = time.monotonic() + 10
            while group_members(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert group_members(proc.pid) == []
    finally:
        whole.close()
