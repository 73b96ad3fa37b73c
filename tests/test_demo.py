"""`unicorn demo` end to end: generates, indexes, serves a typeahead answer over HTTP, and a second
run on the same data directory reuses the index instead of rebuilding it."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.servers import free_port


def start_demo(data: Path, port: int) -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "unicorn.cli", "demo", "--data", str(data), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Uvicorn running" in line:
            return proc, lines
    proc.kill()
    raise AssertionError("demo did not start serving:\n" + "".join(lines))


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def test_demo_serves_typeahead_and_reuses_its_index(tmp_path: Path) -> None:
    port = free_port()
    proc, lines = start_demo(tmp_path, port)
    try:
        output = "".join(lines)
        key = re.search(r"API key for this session \(admin\): (\S+)", output).group(1)
        example = re.search(r"'(http://127\.0\.0\.1:\d+/v1/typeahead\?q=\w+&viewer=\d+)'", output).group(1)
        response = httpx.get(example, headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert response.status_code == 200
        results = response.json()["results"]
        assert results and all(r["vertical"] in {"user", "hashtag", "place"} for r in results)
        assert httpx.get(f"http://127.0.0.1:{port}/v1/typeahead?q=a", timeout=10).status_code == 401
    finally:
        stop(proc)
    assert "generated" in output

    proc, lines = start_demo(tmp_path, port)
    stop(proc)
    again = "".join(lines)
    assert "reusing" in again and "generating" not in again
    assert "(0 events applied now)" in again
