"""Issue 10 item 9: `unicorn serve --with-indexer` and `unicorn demo` stopped by SIGTERM or SIGINT
leave no process behind: every descendant seen while serving is gone afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.processes import wait_for_line

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "tests" / "data" / "thin_path.jsonl"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
START_SECONDS = 300
EXIT_SECONDS = 60


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:  # the thread ended
            pass
    return found


def descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        for child in children(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running, or stopped; a zombie (exited, not reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def wait_healthy(proc: subprocess.Popen, log: Path) -> None:
    """Wait until the server it started on port 0 (the port uvicorn logs) answers /healthz."""
    port = wait_for_line(log, r"Uvicorn running on http://127\.0\.0\.1:(\d+)", proc, START_SECONDS).group(1)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited with {proc.returncode}"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the service did not answer /healthz")


def kill_all(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stop_and_collect_survivors(proc: subprocess.Popen, log: Path, signum: int) -> tuple[set[int], set[int]]:
    """Wait until it serves, note its process tree, send `signum`; the tree and what outlived the stop."""
    tree: set[int] = set()
    try:
        wait_healthy(proc, log)
        tree = descendants(proc.pid)
        proc.send_signal(signum)
        proc.wait(EXIT_SECONDS)
        deadline = time.monotonic() + EXIT_SECONDS  # a child may take a moment to exit after its parent
        while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
            time.sleep(0.1)
        return tree, {pid for pid in tree if alive(pid)}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        kill_all({pid for pid in tree if alive(pid)})


def serving(args: list[str], log: Path) -> subprocess.Popen:
    """`unicorn ARGS`, its output in `log`."""
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", "console.cli", *args], env=ENV, stdout=out,
                                stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def indexed_data(tmp_path_factory) -> Path:
    """The thin-path events ingested and indexed once; each stop test serves them in turn."""
    data = tmp_path_factory.mktemp("served")
    subprocess.run([sys.executable, "-m", "console.cli", "ingest", str(EVENTS), "--data", str(data)],
                   env=ENV, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "console.cli", "index", "--once", "--data", str(data)],
                   env=ENV, check=True, capture_output=True)
    return data


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory) -> Path:
    """One demo data directory: the first stop test's demo generates it, the next one reuses it (what
    is stopped is the same: the server and its indexer child, once serving)."""
    return tmp_path_factory.mktemp("demo")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_with_indexer_stops_everything_it_started(indexed_data: Path, signum: int, tmp_path: Path) -> None:
    proc = serving(["serve", "--with-indexer", "--port", "0", "--data", str(indexed_data)], tmp_path / "serve.log")
    tree, survivors = stop_and_collect_survivors(proc, tmp_path / "serve.log", signum)
    assert tree  # the indexer child was seen
    assert survivors == set()
    assert proc.returncode == -signum  # it died of the signal, as uvicorn alone would


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_demo_stops_everything_it_started(demo_data: Path, signum: int, tmp_path: Path) -> None:
    proc = serving(["demo", "--port", "0", "--data", str(demo_data)], tmp_path / "demo.log")
    tree, survivors = stop_and_collect_survivors(proc, tmp_path / "demo.log", signum)
    assert tree
    assert survivors == set()
    assert proc.returncode == -signum
