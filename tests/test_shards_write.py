"""Index shards, the write side (issue 14): `unicorn index --shards N` gives shards that hold exactly
their documents of one index built from the same events, across SIGKILLs of the documents stage
and of shard indexers, for a replica killed and restarted, on Kafka as on the embedded log, and
whatever the interleaving of the platform's partitions; a conflicting layout is refused."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import indexer
from console.cli import main as cli
from firehose.events import partition_key
from firehose.kafka import KafkaProducer
from firehose.log import EmbeddedLog
from firehose.sources.generator import Scale, generate
from firehose.transport import partition_for
from indexer.changes import SOURCE
from indexer.store import Index
from tests.brokers import running_tansu, unique_topic
from tests.processes import kill_at_random_instants, started
from tests.test_indexer_daemon import committed
from tests.test_slipstream_changes import contents
from vocabulary import paths
from vocabulary.shards import Layout, document_shard, find_layout, write_layout

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
TINY = Scale(users=150, follows=1500, media=250, likes=800, places=15, blocks=15, hashtags=40, changes=400)
FIREHOSE_PARTITIONS = 4
SHARDS = 3


@pytest.fixture(scope="module")
def events() -> list:
    return list(generate(TINY, seed=7))


def write_firehose(data: Path, events: list, partitions: int = FIREHOSE_PARTITIONS) -> None:
    with EmbeddedLog(paths.firehose(data), partitions).producer() as producer:
        for event in events:
            producer.send(event)


@pytest.fixture(scope="module")
def one_index(events, tmp_path_factory) -> Path:
    """One unsharded index built from the same events: what the shards split."""
    data = tmp_path_factory.mktemp("one")
    write_firehose(data, events)
    stats = indexer.run(data, once=True, progress=False)
    assert (stats.applied, stats.dead_lettered) == (len(events), 0)
    return paths.index(data)


def expected(index_dir: Path, shards: int, partitions: int) -> list[dict]:
    """The contents of each shard: its documents of the index at `index_dir`."""
    index = Index(index_dir, readonly=True)
    try:
        with index.reader() as view:
            return [contents(view, lambda v, e, s=s: document_shard(v, e, shards, partitions) == s)
                    for s in range(shards)]
    finally:
        index.close()


def shard_contents(data: Path, shard: int, replica: int = 0) -> dict:
    index = Index(find_layout(data).index(data, shard, replica), readonly=True)
    try:
        with index.reader() as view:
            return contents(view)
    finally:
        index.close()


def index_shards(data: Path, *args: str) -> None:
    """`unicorn index --shards ... --once` in a subprocess; it must exit 0."""
    log = data.parent / f"{data.name}.log"
    with started([sys.executable, "-m", "console.cli", "index", "--once", "--data", str(data), *args], log,
                 env=ENV) as proc:
        assert proc.wait(300) == 0, log.read_text()


def test_index_shards_once_splits_one_index_by_document(events, one_index, tmp_path):
    data = tmp_path / "data"
    write_firehose(data, events)
    index_shards(data, "--shards", str(SHARDS))
    assert find_layout(data) == Layout(SHARDS, 1, SHARDS, "embedded")
    assert [shard_contents(data, s) for s in range(SHARDS)] == expected(one_index, SHARDS, SHARDS)
    assert expected(paths.index(data), 1, 1) == expected(one_index, 1, 1)  # the documents index is one index


def interleaved(events: list, order: str) -> list:
    """`events` in another interleaving of their firehose partitions, each partition's order kept."""
    parts = [[e for e in events if partition_for(partition_key(e), FIREHOSE_PARTITIONS) == p]
             for p in range(FIREHOSE_PARTITIONS)]
    if order == "each partition in turn":
        return [e for part in parts for e in part]
    out, rng = [], random.Random(3)  # "random": a seeded shuffle of partition turns
    cursors = [0] * FIREHOSE_PARTITIONS
    while len(out) < len(events):
        p = rng.choice([p for p in range(FIREHOSE_PARTITIONS) if cursors[p] < len(parts[p])])
        out.append(parts[p][cursors[p]])
        cursors[p] += 1
    return out


def test_two_interleavings_of_the_platform_partitions_give_identical_shards(events, one_index, tmp_path):
    built = []
    for order in ("each partition in turn", "random"):
        data = tmp_path / order.replace(" ", "-")
        write_firehose(data, interleaved(events, order), partitions=1)  # one partition replays that interleaving
        index_shards(data, "--shards", str(SHARDS), "--partitions", "5")
        built.append([shard_contents(data, s) for s in range(SHARDS)])
    assert built[0] == built[1] == expected(one_index, SHARDS, 5)


SHARD = [sys.executable, "-m", "indexer.local", "shard"]
DOCUMENTS = [sys.executable, "-m", "indexer.local", "documents"]


def changes_end(data: Path, layout: Layout, shard: int) -> int:
    ends = EmbeddedLog(paths.changes(data), layout.partitions).end_offsets()
    return sum(ends[p] for p in layout.owned(shard))


def test_sigkill_of_the_documents_stage_and_a_shard_indexer_loses_and_doubles_nothing(events, one_index, tmp_path):
    data = tmp_path / "data"
    write_firehose(data, events)
    layout = Layout(SHARDS, 1, SHARDS, "embedded")
    write_layout(data, layout)
    done = threading.Event()
    shard_kills = []

    def kill_shard_one(rng: random.Random) -> None:  # shard 1 follows, SIGKILLed at random instants
        while not done.is_set():
            with started([*SHARD, str(data), "1", "0", "--batch-size", "3"], tmp_path / "shard1.log", env=ENV,
                         stdin=subprocess.PIPE) as proc:
                time.sleep(rng.uniform(0.3, 1.5))
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                shard_kills.append(proc.returncode)

    killer = threading.Thread(target=kill_shard_one, args=(random.Random(2),))
    with started([*SHARD, str(data), "0", "0"], tmp_path / "shard0.log", env=ENV, stdin=subprocess.PIPE), \
            started([*SHARD, str(data), "2", "0"], tmp_path / "shard2.log", env=ENV, stdin=subprocess.PIPE):
        killer.start()
        try:
            landed = kill_at_random_instants(
                # batches of a few events: a run takes hundreds of commits, so a kill within `pause` of its
                # first commit lands mid-stream however fast the machine is
                lambda rng: [*DOCUMENTS, str(data), "--once", "--batch-size", str(rng.choice([3, 5, 10]))],
                tmp_path / "documents.log", ENV, lambda: committed(paths.index(data)), len(events),
                kills=6, pause=0.2, rng=random.Random(5))
        finally:
            done.set()
            killer.join()
    assert landed >= 3
    assert -signal.SIGKILL in shard_kills
    index_shards(data, "--shards", str(SHARDS))  # restart everything: it drains and catches up
    assert expected(paths.index(data), SHARDS, SHARDS) == expected(one_index, SHARDS, SHARDS)
    assert [shard_contents(data, s) for s in range(SHARDS)] == expected(one_index, SHARDS, SHARDS)


def test_a_killed_replica_catches_up_from_its_own_offsets(events, one_index, tmp_path):
    data = tmp_path / "data"
    write_firehose(data, events)
    layout = Layout(2, 2, 2, "embedded")
    write_layout(data, layout)
    with started([*DOCUMENTS, str(data), "--once", "--batch-size", "20"], tmp_path / "documents.log", env=ENV,
                 stdin=subprocess.PIPE) as proc:
        assert proc.wait(300) == 0
    with started([*SHARD, str(data), "0", "0", "--once"], tmp_path / "replica0.log", env=ENV) as proc:
        assert proc.wait(300) == 0
    replica = layout.index(data, 0, 1)
    total = changes_end(data, layout, 0)
    landed = kill_at_random_instants(
        lambda rng: [*SHARD, str(data), "0", "1", "--once", "--batch-size", "2"], tmp_path / "replica1.log", ENV,
        lambda: committed(replica, SOURCE), total, kills=3, pause=0.1, rng=random.Random(1))
    assert landed >= 1
    assert committed(replica, SOURCE) == committed(layout.index(data, 0, 0), SOURCE) == total
    assert shard_contents(data, 0, 1) == shard_contents(data, 0, 0) == expected(one_index, 2, 2)[0]


def test_the_kafka_form_equals_the_embedded_one(events, one_index, tmp_path):
    topic = unique_topic("shards")
    with running_tansu(tmp_path / "broker") as broker:
        with KafkaProducer(broker.bootstrap, topic, FIREHOSE_PARTITIONS) as producer:
            for event in events:
                producer.send(event)
        data = tmp_path / "data"
        index_shards(data, "--shards", str(SHARDS), "--kafka", broker.bootstrap, "--topic", topic)
    assert find_layout(data) == Layout(SHARDS, 1, SHARDS, f"kafka:{topic}")
    assert [shard_contents(data, s) for s in range(SHARDS)] == expected(one_index, SHARDS, SHARDS)


def test_a_conflicting_layout_is_refused(tmp_path):
    data = tmp_path / "data"
    write_layout(data, Layout(3, 1, 3, "embedded"))
    runner = CliRunner()
    for args, words in ((["--shards", "2"], "is laid out as 3 shards x 1 replicas"),
                        (["--shards", "3", "--replicas", "2"], "not 3 shards x 2 replicas"),
                        (["--shards", "3", "--partitions", "6"], "over 6 partitions"),
                        (["--shards", "3", "--kafka", "127.0.0.1:1", "--topic", "t"], "kafka:t changes stream"),
                        ([], "is sharded (3 shards)")):
        result = runner.invoke(cli, ["index", "--once", "--data", str(data), *args])
        assert result.exit_code == 1 and words in result.output, result.output
    assert find_layout(data) == Layout(3, 1, 3, "embedded")
    other = tmp_path / "other"
    result = runner.invoke(cli, ["index", "--once", "--data", str(other), "--shards", "4", "--partitions", "3"])
    assert result.exit_code == 1 and "at least --shards" in result.output
    assert find_layout(other) is None


def test_an_index_built_without_shards_is_not_sharded_afterwards(tmp_path):
    """Its shards would start from the changes published from then on, missing every document before."""
    data = tmp_path / "data"
    with EmbeddedLog(paths.firehose(data)).producer() as producer:
        producer.send({"op": "user.upsert", "ts": 1, "user": {"id": 1, "username": "jo", "full_name": "",
                                                              "is_private": False, "is_verified": False}})
    runner = CliRunner()
    assert runner.invoke(cli, ["index", "--once", "--data", str(data)]).exit_code == 0
    for command in (["index", "--once", "--shards", "2"], ["demo", "--shards", "2", "--port", "0"]):
        result = runner.invoke(cli, [*command, "--data", str(data)])
        assert result.exit_code == 1 and "was indexed without shards" in result.output, result.output
    assert find_layout(data) is None


def test_change_records_stay_within_a_kafka_message_and_apply_the_same(tmp_path):
    from firehose.events import validate
    from slipstream import Slipstream
    from slipstream.changes import RECORD_BYTES, Recorder, apply_changes

    whole, shard = Index(tmp_path / "whole"), Index(tmp_path / "shard")
    try:
        with whole.writer() as batch:
            recorder = Recorder(batch)
            slip = Slipstream(recorder)
            slip.apply(validate({"op": "user.upsert", "ts": 1, "user": {"id": 1, "username": "ann"}}))
            for mid in range(300):  # ~1.5 MB of captions in one batch
                slip.apply(validate({"op": "media.upsert", "ts": 2 + mid, "media": {
                    "id": 100 + mid, "owner": 1, "caption": f"long{mid} " + "word " * 1000, "taken_at": 0}}))
            records = list(recorder.encode(1))
        assert len(records) > 2 and all(len(payload) <= RECORD_BYTES for _, payload in records)
        with shard.writer() as batch:
            for _, payload in records:
                apply_changes(batch, payload)
        with whole.reader() as expected_view, shard.reader() as view:
            assert contents(view) == contents(expected_view)
    finally:
        whole.close()
        shard.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_index_shards_stops_every_process_it_started(signum, tmp_path):
    from tests.test_shutdown import alive, descendants

    data = tmp_path / "data"
    write_firehose(data, [])
    with started([sys.executable, "-m", "console.cli", "index", "--shards", "2", "--replicas", "2", "--data",
                  str(data)], tmp_path / "index.log", env=ENV) as proc:
        deadline = time.monotonic() + 120
        while len(tree := descendants(proc.pid)) < 5:  # the documents stage and 4 shard indexers
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signum)
        assert proc.wait(60) == 0
        deadline = time.monotonic() + 60
        while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert {pid for pid in tree if alive(pid)} == set()
