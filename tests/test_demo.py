"""`unicorn demo` end to end: generates, indexes, serves a typeahead answer over HTTP, and a second
run on the same data directory reuses the index instead of rebuilding it. The server binds port 0
and the test reads the port it chose; stopping the demo stops its indexer too, so a second run
never meets a first run's indexer on the same index."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import httpx

from tests.processes import group_members, started, wait_for_line

SERVING = r"Uvicorn running on http://127\.0\.0\.1:(\d+)"


def demo(data: Path, log: Path):
    """`unicorn demo` with a generous time budget: the answers, not the speed of a cold demo, are tested."""
    return started([sys.executable, "-m", "console.cli", "demo", "--data", str(data), "--port", "0"], log,
                   env={**os.environ, "UNICORN_TIMEOUT_MS": "60000"})


def test_demo_serves_typeahead_and_reuses_its_index(tmp_path: Path) -> None:
    data, first_log, second_log = tmp_path / "data", tmp_path / "first.log", tmp_path / "second.log"
    with demo(data, first_log) as proc:
        port = wait_for_line(first_log, SERVING, proc, 300).group(1)
        output = first_log.read_text()
        key = re.search(r"API key for this session \(admin\): (\S+)", output).group(1)
        query = re.search(r"'http://127\.0\.0\.1:\d+(/v1/typeahead\?q=\w+&viewer=\d+)'", output).group(1)
        response = httpx.get(f"http://127.0.0.1:{port}{query}", headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert response.status_code == 200
        results = response.json()["results"]
        assert results and all(r["vertical"] in {"user", "hashtag", "place"} for r in results)
        assert httpx.get(f"http://127.0.0.1:{port}/v1/typeahead?q=a", timeout=10).status_code == 401
        proc.terminate()  # SIGTERM to the demo alone, as a service manager sends it
        proc.wait(60)
        deadline = time.monotonic() + 10  # the multiprocessing resource tracker leaves on its parent's exit
        while (left := group_members(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left, f"the demo's children outlived it: {left}"
    assert "generated" in output

    with demo(data, second_log) as proc:
        wait_for_line(second_log, SERVING, proc, 300)
    again = second_log.read_text()
    assert "reusing" in again and "generating" not in again
    assert "(0 events applied now)" in again
