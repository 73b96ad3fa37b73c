"""Shard servers (api/shard.py) as real processes on 127.0.0.1 behind the aggregator: a replica killed with
SIGKILL while requests run fails none of them (the aggregator asks the other replica), and with every
replica of a shard down answers say `partial` and name the missing shard."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from api.shard import HttpShard, Replicas
from firehose.endpoint import EMBEDDED
from firehose.events import validate
from indexer.store import Index
from tests.sharded import write_sharded
from unicorn.aggregator import Aggregator
from unicorn.engine import Engine
from unicorn.errors import QueryError
from vocabulary import paths
from vocabulary.shards import Layout

SHARDS, REPLICAS, PARTITIONS = 2, 2, 4


def history() -> list[dict]:
    events = [{"op": "user.upsert", "ts": 1, "user": {"id": u, "username": f"jo{u}", "full_name": f"Jo {u}",
                                                      "is_private": u % 5 == 0, "is_verified": False}}
              for u in range(1, 41)]
    events += [{"op": "follow.add", "ts": 2, "follower": u, "followee": (u * 7) % 40 + 1} for u in range(1, 41)]
    events += [{"op": "media.upsert", "ts": 3, "media": {"id": 100 + m, "owner": m % 40 + 1, "caption": f"#sun day {m}",
                                                          "taken_at": m}} for m in range(60)]
    return events


@pytest.fixture
def deployment(tmp_path: Path):
    """(one index of the history, the replicas' processes); every process stopped at the end."""
    wholes = [Index(tmp_path / f"whole{r}") for r in range(REPLICAS)]  # each replica is built on its own
    for r, whole in enumerate(wholes):
        shards = [Index(paths.index(paths.shard(tmp_path, s, r))) for s in range(SHARDS)]
        write_sharded([validate(e) for e in history()], whole, shards, PARTITIONS)
        for shard in [*shards, *wholes[1:r + 1]]:
            shard.close()
    whole = wholes[0]
    replicas = Replicas(tmp_path, Layout(SHARDS, REPLICAS, PARTITIONS, EMBEDDED), restart=False)
    try:
        yield whole, replicas
    finally:
        replicas.stop()
        whole.close()


def test_a_replica_killed_under_load_fails_no_request(deployment):
    whole, replicas = deployment
    one = Engine(whole)
    clients = [[HttpShard(url) for url in urls] for urls in replicas.urls]
    through = Aggregator(clients, PARTITIONS)
    queries = [("user", "(term name:jo)", None), ("user", "(apply following: (term name:jo1))", 3),
               ("media", "(term hashtag:sun)", 7), ("user", "(weak-and (term name:jo) (term is:private :optional-hits 1))", 2)]
    expected = {q: [r["id"] for r in one.search(*q, limit=50).results] for q in queries}
    failures, answered, stop = [], [], threading.Event()

    def load() -> None:
        while not stop.is_set():
            for q in queries:
                try:
                    got = through.search(*q, limit=50, timeout_ms=10_000)
                    assert [r["id"] for r in got.results] == expected[q] and not got.partial, q
                    answered.append(q)
                except Exception as exc:  # noqa: BLE001 - every failure is counted
                    failures.append(repr(exc))

    threads = [threading.Thread(target=load) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        while len(answered) < 20:
            threading.Event().wait(0.01)
        os.kill(replicas.processes[0].pid, signal.SIGKILL)  # replica 0 of shard 0
        replicas.processes[0].wait()
        seen = len(answered)
        while len(answered) < seen + 40:
            threading.Event().wait(0.01)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        through.close()
    assert failures == []


def test_every_replica_of_a_shard_down_makes_answers_partial(deployment):
    whole, replicas = deployment
    through = Aggregator([[HttpShard(url) for url in urls] for urls in replicas.urls], PARTITIONS)
    try:
        complete = through.search("user", "(term name:jo)", None, limit=100)
        assert not complete.partial and complete.total == 40
        for process in replicas.processes[REPLICAS:2 * REPLICAS]:  # both replicas of shard 1
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        got = through.search("user", "(term name:jo)", None, limit=100)
        assert got.partial and got.missing == [1]
        assert got.to_dict()["partial"] is True and got.to_dict()["missing_shards"] == [1]
        assert 0 < got.total < 40 and {r["id"] for r in got.results} < {r["id"] for r in complete.results}
        typed = through.typeahead("jo", None)
        assert typed.partial and typed.to_dict()["missing_shards"] == [1]
        with pytest.raises(QueryError) as refused:  # a viewer's context may lie on the missing shard
            through.search("user", "(term name:jo)", 3)
        assert refused.value.code == "not_ready"
    finally:
        through.close()


def test_sort_keys_past_64_bits_cross_the_wire(tmp_path: Path):
    """A media's static key holds -id, below -2^63 for an id past 2^63: the transport carries it exactly."""
    big = 2**64 - 1
    events = [{"op": "user.upsert", "ts": 1, "user": {"id": 1, "username": "jo", "full_name": "", "is_private": False,
                                                      "is_verified": False}},
              *({"op": "media.upsert", "ts": 2, "media": {"id": m, "owner": 1, "caption": "#sun", "taken_at": 5}}
                for m in (big, big - 1, 7))]
    whole = Index(tmp_path / "whole")
    shard = Index(paths.index(paths.shard(tmp_path, 0, 0)))
    write_sharded([validate(e) for e in events], whole, [shard], 1)
    shard.close()
    replicas = Replicas(tmp_path, Layout(1, 1, 1, EMBEDDED), restart=False)
    through = Aggregator([[HttpShard(url) for url in urls] for urls in replicas.urls], 1)
    try:
        q = "(weak-and (term hashtag:sun) (term owner:1 :optional-hits 1))"
        expected = Engine(whole).search("media", q, None, limit=3)
        got = through.search("media", q, None, limit=3)
        assert [r["id"] for r in got.results] == [r["id"] for r in expected.results] == [str(big), str(big - 1), "7"]
        assert got.keys == expected.keys
    finally:
        through.close()
        replicas.stop()
        whole.close()


def test_a_killed_replica_is_started_again_and_answers(tmp_path: Path):
    whole = Index(tmp_path / "whole")
    shard = Index(paths.index(paths.shard(tmp_path, 0, 0)))
    write_sharded([validate(e) for e in history()], whole, [shard], 1)
    shard.close()
    replicas = Replicas(tmp_path, Layout(1, 1, 1, EMBEDDED))
    through = Aggregator([[HttpShard(url) for url in urls] for urls in replicas.urls], 1)
    try:
        expected = [r["id"] for r in Engine(whole).search("user", "(term name:jo)", None, limit=50).results]
        killed = replicas.processes[0]
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        deadline = time.monotonic() + 60
        while True:
            got = through.search("user", "(term name:jo)", None, limit=50)
            if not got.partial:
                break
            assert time.monotonic() < deadline, "the replica did not come back"
            time.sleep(0.1)
        assert replicas.processes[0].pid != killed.pid
        assert [r["id"] for r in got.results] == expected
    finally:
        through.close()
        replicas.stop()
        whole.close()
