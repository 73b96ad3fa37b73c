"""Issue 10 item 4: one writer per index. A second indexer on the same data directory refuses,
naming the holder; two started at once apply the stream once between them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from firehose.log import EmbeddedLog
from indexer.lock import writer_lock
from indexer.store import Index
from tests.test_indexer_daemon import index_state
from vocabulary import paths

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
EVENTS = 20_000


def fill(data: Path, count: int = EVENTS) -> None:
    with EmbeddedLog(data / "firehose").producer() as producer:
        for i in range(count):
            producer.send({"op": "follow.add", "ts": i, "follower": i % 101, "followee": i})


def unicorn(data: Path, *args: str) -> subprocess.Popen:
    """A command that ends by itself, its output piped for `finish` to read."""
    return subprocess.Popen([sys.executable, "-m", "console.cli", *args, "--data", str(data)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def holding(data: Path, log: Path) -> subprocess.Popen:
    """`unicorn index` following the firehose until stopped, its output in `log` (no pipe to fill)."""
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", "console.cli", "index", "--data", str(data)], env=ENV,
                                stdout=out, stderr=subprocess.STDOUT)


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=300)
    finally:
        stop(proc)
    return proc.returncode, err


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for_holder(data: Path, holder: subprocess.Popen, log: Path) -> None:
    lock = data / "index" / "writer.lock"
    deadline = time.monotonic() + 120
    while not (lock.exists() and f'"pid":{holder.pid}' in lock.read_text()):
        assert time.monotonic() < deadline and holder.poll() is None, log.read_text()
        time.sleep(0.05)


def test_a_second_indexer_refuses_and_names_the_holder(tmp_path: Path) -> None:
    fill(tmp_path, 100)
    holder = holding(tmp_path, tmp_path / "holder.log")
    try:
        wait_for_holder(tmp_path, holder, tmp_path / "holder.log")
        code, err = finish(unicorn(tmp_path, "index", "--once"))
        assert code == 1
        assert "another indexer is writing the index" in err and f"pid {holder.pid}" in err
        assert f"index --data {tmp_path}" in err  # the holder's command line
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        refused = subprocess.Popen([sys.executable, "-m", "console.cli", "serve", "--with-indexer", "--port", "0",
                                    "--data", str(tmp_path)], env={**ENV, "TMPDIR": str(scratch)},
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        code, err = finish(refused)
        assert code == 1 and f"pid {holder.pid}" in err
        assert not list(scratch.iterdir())  # a refused serve leaves nothing behind (its metrics directory)
    finally:
        stop(holder)
    code, err = finish(unicorn(tmp_path, "index", "--once"))  # the lock died with its holder
    assert code == 0, err


def test_two_indexers_started_at_once_apply_the_stream_once(tmp_path: Path) -> None:
    fill(tmp_path / "clean")
    assert finish(unicorn(tmp_path / "clean", "index", "--once"))[0] == 0
    fill(tmp_path / "race")
    racers = [unicorn(tmp_path / "race", "index", "--once") for _ in range(2)]
    try:
        outcomes = [finish(proc) for proc in racers]
    finally:
        for proc in racers:
            stop(proc)
    applied = 0
    for code, err in outcomes:
        if code == 0:
            applied += int(re.search(r"applied (\d+) events", err).group(1))
        else:
            assert code == 1 and "another indexer is writing the index" in err, err
    assert applied == EVENTS
    clean, race = Index(tmp_path / "clean" / "index"), Index(tmp_path / "race" / "index")
    try:
        assert index_state(race) == index_state(clean)
    finally:
        clean.close()
        race.close()


def test_rebuild_refuses_while_an_indexer_writes(tmp_path):
    """`unicorn rebuild` writes the index too: it takes the same lock, before touching PostgreSQL."""
    with writer_lock(paths.index(tmp_path)):
        refused = subprocess.run([sys.executable, "-m", "console.cli", "rebuild", "--data", str(tmp_path),
                                  "--from-postgres", "postgresql://nobody@127.0.0.1:1/none"],
                                 capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1
    assert "another indexer is writing the index" in refused.stderr and str(os.getpid()) in refused.stderr
