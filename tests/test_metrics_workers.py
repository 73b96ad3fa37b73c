"""docs/operations.md: "`GET /metrics` serves the Prometheus text format, merged across the API's
workers and the indexer child when `PROMETHEUS_MULTIPROC_DIR` is set (`unicorn serve` sets it)."

A real `unicorn serve --workers 2 --with-indexer` on 127.0.0.1: requests go to both uvicorn
workers (each on its own connection, until both have answered some), and then every scrape,
whichever worker answers it, counts every request of both workers, status by status, and the
indexer child's events and dead letters.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from firehose.events import validate
from firehose.log import EmbeddedLog
from tests.processes import started, wait_for_line
from vocabulary import paths

USERS = 30
MAX_REQUESTS = 2000  # requests on fresh connections until both workers have answered some
SCRAPES = 8


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def typeahead_requests_of(metrics_dir: Path, pid: int) -> float:
    """/v1/typeahead requests counted in the metrics file of process `pid` alone."""
    path = metrics_dir / f"counter_{pid}.db"
    if not path.exists():
        return 0
    return sum(s.value for family in MultiProcessCollector.merge([str(path)]) for s in family.samples
               if s.name == "unicorn_http_requests_total" and s.labels["endpoint"] == "/v1/typeahead")


def worker_pids(log: Path, proc, count: int) -> set[int]:
    deadline = time.monotonic() + 120
    while True:
        pids = {int(p) for p in re.findall(r"Started server process \[(\d+)\]", log.read_text(errors="replace"))}
        started_up = len(re.findall(r"Application startup complete", log.read_text(errors="replace")))
        if len(pids) >= count and started_up >= count:
            return pids
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
        time.sleep(0.05)


def test_metrics_merge_every_worker_and_the_indexer(tmp_path: Path) -> None:
    data, scratch = tmp_path / "data", tmp_path / "tmp"
    scratch.mkdir()
    producer = EmbeddedLog(paths.firehose(data)).producer()
    for uid in range(1, USERS + 1):
        producer.send(validate({"op": "user.upsert", "ts": uid, "user": {"id": uid, "username": f"metric{uid}"}}))
    producer.send_raw(0, b"", b"not an event")
    producer.flush()

    log = tmp_path / "serve.log"
    env = {**os.environ, "UNICORN_API_KEYS": "k:admin", "TMPDIR": str(scratch)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "console.cli", "serve", "--data", str(data), "--port", "0", "--workers", "2",
               "--with-indexer"]
    with started(command, log, env=env) as proc:
        port = wait_for_line(log, r"Uvicorn running on http://127\.0\.0\.1:(\d+)", proc, 120).group(1)
        workers = worker_pids(log, proc, 2)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while (ready := httpx.get(f"{url}/readyz", timeout=30)).status_code != 200 or ready.json()["firehose_lag"]:
            assert time.monotonic() < deadline, ready.text
            time.sleep(0.1)

        sent: Counter[int] = Counter()
        metrics_dir = next(scratch.glob("unicorn-metrics-*"))
        while not all(typeahead_requests_of(metrics_dir, pid) for pid in workers):
            assert sum(sent.values()) < MAX_REQUESTS, f"one worker answered all {MAX_REQUESTS} requests"
            answer = httpx.get(f"{url}/v1/typeahead?q=metric", headers={"Authorization": "Bearer k"}, timeout=30)
            sent[answer.status_code] += 1

        for _ in range(SCRAPES):
            scrape = httpx.get(f"{url}/metrics", timeout=30)
            assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
            got = samples(scrape.text)
            counted = {int(dict(labels)["status"]): value for (name, labels), value in got.items()
                       if name == "unicorn_http_requests_total" and dict(labels)["endpoint"] == "/v1/typeahead"}
            assert counted == dict(sent)
            assert got[("unicorn_http_request_seconds_count", frozenset({("endpoint", "/v1/typeahead")}))] == sum(
                sent.values())
            embedded = frozenset({("source", "embedded")})
            assert got[("unicorn_indexer_events_total", embedded)] == USERS
            assert got[("unicorn_indexer_dead_letters_total", embedded)] == 1
            assert got[("unicorn_firehose_lag", frozenset())] == 0
