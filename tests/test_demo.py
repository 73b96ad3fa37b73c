"""`unicorn demo` end to end: generates, indexes, serves a typeahead answer over HTTP and the page's
login (signed viewers), and a second run on the same data directory reuses the index, the keys and
the viewer secret instead of making new ones. The server binds port 0 and the test reads the port
it chose; stopping the demo stops its indexer too, so a second run never meets a first run's
indexer on the same index."""

from __future__ import annotations

import os
import re
import stat
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


def test_demo_serves_logs_the_page_in_and_a_second_run_keeps_its_index_keys_and_secret(tmp_path: Path) -> None:
    data, first_log, second_log = tmp_path / "data", tmp_path / "first.log", tmp_path / "second.log"
    with demo(data, first_log) as proc:
        url = f"http://127.0.0.1:{wait_for_line(first_log, SERVING, proc, 300).group(1)}"
        output = first_log.read_text()
        key = re.search(r"API key for this session \(admin\): (\S+)", output).group(1)
        query = re.search(r"'http://127\.0\.0\.1:\d+(/v1/typeahead\?q=\w+&viewer=\d+)'", output).group(1)
        response = httpx.get(f"{url}{query}", headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert response.status_code == 200
        results = response.json()["results"]
        assert results and all(r["vertical"] in {"user", "hashtag", "place"} for r in results)
        assert httpx.get(f"{url}/v1/typeahead?q=a", timeout=30).status_code == 401
        users = httpx.get(f"{url}/v1/demo/users", timeout=30).json()["users"]
        session = httpx.post(f"{url}/v1/demo/login", json={"username": users[0]["username"]}, timeout=30).json()
        search_as = {"Authorization": f"Bearer {session['key']}", "X-Viewer-Token": session["token"]}
        assert httpx.get(f"{url}/v1/typeahead", params={"q": "a"}, headers=search_as, timeout=30).status_code == 200
        bare = httpx.get(f"{url}/v1/typeahead", params={"q": "a", "viewer": session["viewer"]},
                         headers={"Authorization": f"Bearer {session['key']}"}, timeout=30)
        assert bare.status_code == 401  # the demo runs with signed viewers
        proc.terminate()  # SIGTERM to the demo alone, as a service manager sends it
        proc.wait(60)
        deadline = time.monotonic() + 10  # the multiprocessing resource tracker leaves on its parent's exit
        while (left := group_members(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left, f"the demo's children outlived it: {left}"
    assert "generated" in output
    assert stat.S_IMODE((data / "demo-credentials.json").stat().st_mode) == 0o600

    with demo(data, second_log) as proc:
        url = f"http://127.0.0.1:{wait_for_line(second_log, SERVING, proc, 300).group(1)}"
        again = second_log.read_text()
        assert f"API key for this session (admin): {key}" in again
        # the first run's token and search key still work: the second run kept the secret and the keys
        assert httpx.get(f"{url}/v1/typeahead", params={"q": "a"}, headers=search_as, timeout=30).status_code == 200
        assert httpx.get(f"{url}/v1/documents/user/{session['viewer']}",
                         headers={"Authorization": f"Bearer {key}"}, timeout=30).status_code == 200
    assert "reusing" in again and "generating" not in again
    assert "(0 events applied now)" in again
