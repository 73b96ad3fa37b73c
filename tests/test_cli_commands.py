"""SPEC §7 promises of the console script not covered by the thin path: `--help` on every
subcommand, the `UNICORN_DATA` and `./unicorn-data` defaults, `serve`, and `index --kafka`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from console.cli import main
from firehose.events import validate
from firehose.kafka import KafkaProducer
from indexer.store import Index
from tests.brokers import unique_topic
from tests.processes import started, wait_for_line
from tests.test_cli_thin_path import EVENTS
from unicorn.engine import Engine
from vocabulary import paths

COMMANDS = ["demo", "ingest", "index", "serve", "query", "rebuild"]


def cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=env)


def test_help_of_the_console_script_names_every_subcommand():
    done = cli("--help")
    assert done.returncode == 0 and "Usage:" in done.stdout
    assert all(c in done.stdout for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_on_every_subcommand(command):
    """The script's own click group, in-process: `--help` runs none of a command's body."""
    done = CliRunner().invoke(main, [command, "--help"])
    assert done.exit_code == 0 and "Usage:" in done.output, done.output
    assert "--data" in done.output or command == "rebuild" and "--from-postgres" in done.output


def test_data_defaults_to_unicorn_data_then_to_the_working_directory(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "UNICORN_DATA"}
    assert cli("ingest", str(EVENTS), cwd=tmp_path, env=env).returncode == 0
    assert paths.firehose(tmp_path / "unicorn-data").exists()
    chosen = tmp_path / "chosen"
    assert cli("ingest", str(EVENTS), cwd=tmp_path, env={**env, "UNICORN_DATA": str(chosen)}).returncode == 0
    assert paths.firehose(chosen).exists()
    assert cli("index", "--once", cwd=tmp_path, env={**env, "UNICORN_DATA": str(chosen)}).returncode == 0
    assert paths.index(chosen).exists()


def test_serve_answers_on_the_port_it_binds(tmp_path):
    data = tmp_path / "data"
    assert cli("ingest", str(EVENTS), "--data", str(data)).returncode == 0
    assert cli("index", "--once", "--data", str(data)).returncode == 0
    log = tmp_path / "serve.log"
    env = {**os.environ, "UNICORN_API_KEYS": "k:admin"}
    with started([sys.executable, "-m", "console.cli", "serve", "--data", str(data), "--port", "0"], log, env=env) as proc:
        port = wait_for_line(log, r"Uvicorn running on http://127\.0\.0\.1:(\d+)", proc, 60).group(1)
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
        assert httpx.get(f"{url}/readyz", timeout=10).json()["index_open"] is True
        found = httpx.post(f"{url}/v1/search", json={"vertical": "user", "query": "(term name:a)"},
                           headers={"Authorization": "Bearer k"}, timeout=10)
        assert found.status_code == 200 and found.json()["total"] >= 1
        assert httpx.get(f"{url}/v1/typeahead?q=a", timeout=10).status_code == 401


def test_index_once_from_kafka(tansu, tmp_path):
    topic = unique_topic("cli")
    producer = KafkaProducer(tansu.bootstrap, topic, 2)
    events = [validate({"op": "user.upsert", "ts": i, "user": {"id": i, "username": f"kafka{i}", "full_name": "",
                                                               "is_private": False, "is_verified": False}})
              for i in range(1, 31)]
    for e in events:
        producer.send(e)
    producer.flush()
    done = cli("index", "--once", "--kafka", tansu.bootstrap, "--topic", topic, "--data", str(tmp_path))
    assert done.returncode == 0, done.stderr
    index = Index(paths.index(tmp_path), readonly=True)
    try:
        got = Engine(index).search("user", {"term": "name:kafka"}, None, limit=100, timeout_ms=60_000)
        assert sorted(int(r["id"]) for r in got.results) == list(range(1, 31)) and got.total == 30
    finally:
        index.close()
