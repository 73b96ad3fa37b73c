"""`unicorn serve` logs one JSON object per line on stderr (UNICORN_LOG_FORMAT=json, the default),
uvicorn's own lines and the slow-query log alike; `text` gives plain lines; anything else is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api import logs
from tests.test_docs import example_index
from vocabulary import paths


def test_an_unknown_format_is_refused(monkeypatch):
    monkeypatch.setenv("UNICORN_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="UNICORN_LOG_FORMAT"):
        logs.config()


def test_serve_logs_json_lines(tmp_path: Path):
    example_index(paths.index(tmp_path)).close()
    stderr = tmp_path / "stderr.log"
    env = {**os.environ, "UNICORN_API_KEYS": "logs-key:admin", "UNICORN_SLOW_MS": "0"}
    env.pop("UNICORN_LOG_FORMAT", None)
    with stderr.open("w") as err:
        server = subprocess.Popen([sys.executable, "-m", "console.cli", "serve", "--data", str(tmp_path), "--port", "0"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        port = None
        for _ in range(600):
            lines = [json.loads(line) for line in stderr.read_text().splitlines() if line.strip()]
            started = [r for r in lines if "running on" in r.get("message", "").lower()]
            if started:
                port = int(started[0]["message"].split(":")[-1].split()[0])
                break
            assert server.poll() is None, stderr.read_text()
            time.sleep(0.1)
        assert port, stderr.read_text()
        answer = httpx.get(f"http://127.0.0.1:{port}/v1/typeahead?q=jo", headers={"Authorization": "Bearer logs-key"})
        assert answer.status_code == 200
    finally:
        server.terminate()
        server.wait(30)
    records = [json.loads(line) for line in stderr.read_text().splitlines() if line.strip()]
    assert all({"level", "logger", "pid", "message", "timestamp"} <= set(r) for r in records)
    assert any(r["logger"] == "unicorn.slow" and "typeahead" in r["message"] for r in records)
