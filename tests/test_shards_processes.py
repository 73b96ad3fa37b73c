"""Sharded deployments as real processes (issue 14), compared over HTTP with `unicorn serve` over one index built
from the same events (tests/test_shards_write.py's TINY platform):
- the multi-host form on loopback with a real Kafka broker: `index --role documents`, three `index --role shard`,
  three `serve --role shard` and `serve --role aggregator`, each a process with its own data directory;
- the local form on the embedded firehose: the real `unicorn index --shards 3 --once`, then `unicorn serve --shards 3`;
and `unicorn demo --shards 2` answers a typeahead and leaves no process after SIGTERM. Every server binds port 0
and the test reads the port it reports."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from firehose.kafka import KafkaConsumer, KafkaProducer
from indexer.changes import SOURCE, changes_topic
from indexer.store import Index
from tests.brokers import running_tansu, unique_topic
from tests.processes import group_members, started, wait_for_line
from tests.test_indexer_daemon import committed
from tests.test_shards_write import (
    FIREHOSE_PARTITIONS,
    SHARDS,
    events,
    index_shards,
    one_index,
    write_firehose,
)
from tests.test_shutdown import alive, descendants
from vocabulary import paths, terms
from vocabulary.shards import owned

__all__ = ["events", "one_index"]  # fixtures

ROOT = Path(__file__).resolve().parents[1]
API_ENV = {**os.environ, "PYTHONPATH": str(ROOT), "UNICORN_API_KEYS": "k:admin", "UNICORN_TIMEOUT_MS": "60000"}
HEADERS = {"Authorization": "Bearer k"}
SERVING = r"Uvicorn running on http://127\.0\.0\.1:(\d+)"
START_SECONDS = 120
PARTITIONS = 6  # of the changes stream in the multi-host form: two per shard


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "console.cli", *args]


@contextmanager
def serving(args: list[str], log: Path, ready: str = "/readyz") -> Iterator[str]:
    """`unicorn serve ...` on port 0: its URL once it answers `ready` (a shard server: /ready)."""
    with started(cli("serve", "--port", "0", *args), log, env=API_ENV) as proc:
        url = f"http://127.0.0.1:{wait_for_line(log, SERVING, proc, START_SECONDS).group(1)}"
        deadline = time.monotonic() + START_SECONDS
        while httpx.get(f"{url}{ready}", timeout=30).status_code != 200:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield url


def requests_for(index_dir: Path) -> list[tuple[str, str, dict]]:
    """Requests over the platform in `index_dir`: searches with every kind of operator (apply and extract included),
    with and without a viewer, typeahead with viewers, documents and trending, as (method, path, params or body)."""
    index = Index(index_dir, readonly=True)
    try:
        with index.reader() as view:
            users, live = view.rank("user"), view.posting("user", terms.LIVE)
            by_followees = sorted(live, key=lambda i: (-len(view.posting("user", terms.following(users.ext_id[i]))), i))
            viewer, other = (str(users.ext_id[i]) for i in (by_followees[0], by_followees[len(by_followees) // 2]))
            followee_iid = min(view.posting("user", terms.following(viewer)) & live)
            followee = str(users.ext_id[followee_iid])
            prefix = view.doc("user", followee_iid)["username"][:2].lower()
            hashtags = view.rank("hashtag")
            tag = view.ext("hashtag", max(view.posting("hashtag", terms.LIVE), key=lambda i: (hashtags.count[i], -i)))
            media = str(view.ext("media", min(view.posting("media", terms.LIVE))))
    finally:
        index.close()

    def search(vertical: str, query: str, viewer: str | None = None, **more) -> tuple[str, str, dict]:
        return "POST", "/v1/search", {"vertical": vertical, "query": query, "limit": 50, **more,
                                      **({} if viewer is None else {"viewer": viewer})}

    return [
        search("user", f"(term name:{prefix})"),
        search("user", f"(term name:{prefix})", viewer, order="social", limit=10),
        search("user", f"(and (term name:{prefix}) (apply following: (term following:{viewer})))", viewer),
        search("user", f"(apply following: (term following:{viewer}))", other),
        search("user", f"(apply following: (term name:{prefix}))", viewer, apply_fanout_max=2),
        search("user", f"(difference (term name:{prefix}) (term is:private))", other),
        search("user", f"(weak-and (term name:{prefix}) (term follower:{viewer} :optional-hits 1))", viewer),
        search("user", f"(strong-or (term name:{prefix}) (term following:{viewer} :optional-weight 0.5))", viewer,
               limit=10),
        search("media", f"(and (term hashtag:{tag}) (apply owner: (term following:{viewer})))", viewer),
        search("media", f"(or (term hashtag:{tag}) (term owner:{followee}))", other, limit=20),
        search("hashtag", f"(extract hashtag: (apply owner: (term following:{viewer})))", viewer),
        search("user", f"(extract owner: (term hashtag:{tag}))", other),
        ("GET", "/v1/typeahead", {"q": prefix, "viewer": viewer}),
        ("GET", "/v1/typeahead", {"q": prefix[:1], "viewer": other, "limit": 20}),
        ("GET", "/v1/typeahead", {"q": f"#{tag[:2]}", "viewer": viewer}),
        ("GET", "/v1/typeahead", {"q": prefix}),
        ("GET", f"/v1/documents/user/{viewer}", {"viewer": other}),
        ("GET", f"/v1/documents/user/{followee}", {"viewer": viewer}),
        ("GET", f"/v1/documents/media/{media}", {"viewer": viewer}),
        ("GET", f"/v1/documents/hashtag/{tag}", {"viewer": viewer}),
        ("GET", "/v1/documents/user/999999999", {}),
        ("GET", "/v1/trending", {"kind": "hashtag", "viewer": viewer}),
    ]


def answers(url: str, requests: list[tuple[str, str, dict]]) -> list[tuple[int, object]]:
    """Each request's status and body, without the time it took."""
    out = []
    for method, path, args in requests:
        if method == "POST":
            response = httpx.post(f"{url}{path}", json=args, headers=HEADERS, timeout=60)
        else:
            response = httpx.get(f"{url}{path}", params=args, headers=HEADERS, timeout=60)
        body = response.json()
        if isinstance(body, dict):
            body.pop("took_ms", None)
        out.append((response.status_code, body))
    return out


@pytest.fixture(scope="module")
def one_answers(one_index, tmp_path_factory) -> Iterator[tuple[list, list]]:
    """`unicorn serve` over the one index: the requests and its answers, each a success with results."""
    requests = requests_for(one_index)
    log = tmp_path_factory.mktemp("one-served") / "serve.log"
    with serving(["--data", str(one_index.parent)], log) as url:
        expected = answers(url, requests)
    assert [status for status, _ in expected] == [404 if "999999999" in path else 200 for _, path, _ in requests]
    assert all(body["results"] for (_, path, _), (_, body) in zip(requests, expected)
               if path in ("/v1/search", "/v1/typeahead", "/v1/trending")), "a request that tells nothing"
    return requests, expected


def changes_ends(bootstrap: str, topic: str) -> dict[int, int]:
    """The position after the last record of each partition of the changes stream, read as a shard reads it."""
    consumer = KafkaConsumer(bootstrap, changes_topic(topic))
    try:
        consumer.assign({p: 0 for p in range(PARTITIONS)})
        while not consumer.at_end():
            consumer.poll(1000, 0.5)
        return consumer.positions()
    finally:
        consumer.close()


def test_the_multi_host_form_on_kafka_answers_as_one_index(events, one_answers, tmp_path):
    requests, expected = one_answers
    topic = unique_topic("multihost")
    shape = ["--shards", str(SHARDS), "--partitions", str(PARTITIONS)]
    with running_tansu(tmp_path / "broker") as broker, ExitStack() as stack:
        kafka = ["--kafka", broker.bootstrap, "--topic", topic]
        with KafkaProducer(broker.bootstrap, topic, FIREHOSE_PARTITIONS) as producer:
            for event in events:
                producer.send(event)
        hosts = [tmp_path / f"shard-host-{s}" for s in range(SHARDS)]
        for s, host in enumerate(hosts):  # a shard host: its indexer and its server, on its own data directory
            stack.enter_context(started(cli("index", "--role", "shard", "--shard", str(s), "--data", str(host),
                                            *shape, *kafka), tmp_path / f"index-{s}.log", env=API_ENV))
        urls = []
        for s, host in enumerate(hosts):
            urls.append(stack.enter_context(serving(["--role", "shard", "--shard", str(s), "--data", str(host)],
                                                    tmp_path / f"serve-{s}.log", ready="/ready")))
        aggregator_data = tmp_path / "aggregator"
        url = stack.enter_context(serving(["--role", "aggregator", "--data", str(aggregator_data), "--partitions",
                                           str(PARTITIONS), *(f"--shard-urls={s}={u}" for s, u in enumerate(urls))],
                                          tmp_path / "aggregator.log"))
        documents = tmp_path / "documents-host"
        log = tmp_path / "documents.log"
        with started(cli("index", "--role", "documents", "--once", "--data", str(documents), *shape, *kafka), log,
                     env=API_ENV) as proc:
            assert proc.wait(START_SECONDS) == 0, log.read_text()
        ends = changes_ends(broker.bootstrap, topic)  # the stream is complete: the documents stage has drained
        deadline = time.monotonic() + START_SECONDS
        for s, host in enumerate(hosts):
            while committed(paths.index(paths.shard(host, s, 0)), SOURCE) < sum(ends[p] for p in owned(s, SHARDS, PARTITIONS)):
                assert time.monotonic() < deadline, f"shard {s} did not catch up"
                time.sleep(0.2)
        assert answers(url, requests) == expected
    assert not aggregator_data.exists()  # the aggregator reads no data directory
    for host in hosts:  # a shard host holds its shard's index, none of the documents stage
        assert not paths.index(host).exists() and not paths.changes(host).exists()


def test_the_local_form_built_by_index_shards_answers_as_one_index(events, one_answers, tmp_path):
    requests, expected = one_answers
    data = tmp_path / "data"
    write_firehose(data, events)
    index_shards(data, "--shards", str(SHARDS))
    with serving(["--shards", str(SHARDS), "--data", str(data)], tmp_path / "serve.log") as url:
        assert answers(url, requests) == expected


def test_demo_with_shards_answers_and_sigterm_leaves_no_process(tmp_path):
    log = tmp_path / "demo.log"
    with started(cli("demo", "--shards", "2", "--scale", "S", "--port", "0", "--data", str(tmp_path / "data")), log,
                 env=API_ENV) as proc:
        url = f"http://127.0.0.1:{wait_for_line(log, SERVING, proc, START_SECONDS).group(1)}"
        output = log.read_text()
        key = re.search(r"API key for this session \(admin\): (\S+)", output).group(1)
        query = re.search(r"'http://127\.0\.0\.1:\d+(/v1/typeahead\?q=\w+&viewer=\d+)'", output).group(1)
        response = httpx.get(f"{url}{query}", headers={"Authorization": f"Bearer {key}"}, timeout=60)
        assert response.status_code == 200 and response.json()["results"], response.text
        tree = descendants(proc.pid)
        assert len(tree) >= 3  # the shard servers and the indexer's supervisor at least
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == -signal.SIGTERM
        deadline = time.monotonic() + 60
        while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert {pid for pid in tree if alive(pid)} == set()
        assert group_members(proc.pid) == []


@pytest.mark.parametrize("args, words", [
    (["index", "--role", "shard", "--shard", "0", "--shards", "2"], "needs --shards N and --kafka"),
    (["index", "--role", "shard", "--shards", "2", "--kafka", "127.0.0.1:1"], "--role shard needs --shard S"),
    (["index", "--role", "shard", "--shard", "1", "--replica", "1", "--shards", "2", "--kafka", "127.0.0.1:1"],
     "--shard 1 --replica 1 is not among --shards 2 --replicas 1"),
    (["index", "--shard", "0"], "--shard names the shard of --role shard"),
    (["serve", "--role", "shard"], "--role shard needs --shard S"),
    (["serve", "--role", "shard", "--shard", "0"], "holds no index shards"),
    (["serve", "--role", "aggregator"], "needs --shard-urls"),
    (["serve", "--role", "aggregator", "--shard-urls", "0"], "is not S=URL[,URL...]"),
    (["serve", "--role", "aggregator", "--shard-urls", "1=http://127.0.0.1:1"], "every shard 0..N-1 once"),
    (["serve", "--role", "aggregator", "--shard-urls", "0=http://127.0.0.1:1", "--shard-urls", "0=http://127.0.0.1:2"],
     "shard 0 is given twice"),
    (["serve", "--role", "aggregator", "--shards", "2", "--shard-urls", "0=http://127.0.0.1:1"],
     "--shards 2, but --shard-urls names 1 shards"),
    (["serve", "--role", "aggregator", "--with-indexer", "--shard-urls", "0=http://127.0.0.1:1"], "--with-indexer"),
    (["serve", "--shard-urls", "0=http://127.0.0.1:1"], "are for --role aggregator"),
])
def test_role_flags_are_checked(args, words, tmp_path):
    from click.testing import CliRunner

    from console.cli import main

    result = CliRunner().invoke(main, [*args, "--data", str(tmp_path / "data")])
    assert result.exit_code in (1, 2) and words in result.output, result.output
