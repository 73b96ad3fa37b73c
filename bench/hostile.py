"""Hostile queries against a real server: how long the heaviest allowed query takes to its 504, and
how long `/healthz` waits while such queries run.

    python -m bench.hostile [--scale S] [--probes 200] [--heavy-clients 1,4] [--out FILE]

The index is bench/engine.py's (built once into /tmp/unicorn-bench-engine-SCALE and reused); the
server is `api.serve` (one uvicorn worker) on a free loopback port. The heavy query is
`explain: true` over 1,000 results of three levels of `apply`, sent by `--heavy-clients` threads
back to back, with the default budget (200 ms; each ends
in 504) and with a generous one (30 s; each runs for seconds). A prober sends `/healthz` one at a
time, every 10 ms, meanwhile and on the idle server: p50/p99/max of its latency.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import click
import orjson

from bench.engine import build
from bench.http import KEY, Server
from bench.options import COMMA_INTS
from bench.timing import percentiles
from unicorn_client import Client, UnicornError
from vocabulary import paths

THREE_LEVELS = "(apply follower: (apply following: (apply follower: (term name:a))))"
HEAVY = {"vertical": "user", "viewer": 1, "limit": 1000, "explain": True, "query": THREE_LEVELS}
GENEROUS_MS = 30_000
PROBE_EVERY = 0.01


class HeavyLoad:
    """`clients` threads posting HEAVY back to back until stopped; `answers` holds (status, ms) of each."""

    def __init__(self, url: str, clients: int) -> None:
        self.url, self.answers, self.stopping = url, [], threading.Event()
        self.threads = [threading.Thread(target=self._client) for _ in range(clients)]
        for thread in self.threads:
            thread.start()

    def _client(self) -> None:
        with Client(self.url, KEY, timeout_s=600) as client:
            while not self.stopping.is_set():
                started = time.perf_counter()
                try:
                    client.search(**HEAVY)
                    status = 200
                except UnicornError as exc:
                    status = exc.status
                self.answers.append((status, (time.perf_counter() - started) * 1000))

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()


def probe(url: str, probes: int) -> dict:
    samples = []
    with Client(url, KEY, timeout_s=600) as client:
        for _ in range(probes):
            started = time.perf_counter()
            client.health()
            samples.append((time.perf_counter() - started) * 1000)
            time.sleep(PROBE_EVERY)
    return {**percentiles(samples), "max_ms": round(max(samples), 3), "probes": probes}


def scenario(data: Path, budget_ms: float, clients: int, probes: int) -> dict:
    server = Server(data, 1, env={"UNICORN_TIMEOUT_MS": str(budget_ms)})
    try:
        probe(server.url, 20)  # warm
        idle = probe(server.url, probes)
        load = HeavyLoad(server.url, clients)
        try:
            time.sleep(0.5)  # the heavy requests reach the engine
            busy = probe(server.url, probes)
        finally:
            load.stop()
    finally:
        server.stop()
    answers = load.answers
    statuses = sorted({status for status, _ in answers})
    return {"budget_ms": budget_ms, "heavy_clients": clients, "healthz_idle": idle, "healthz_during_heavy": busy,
            "heavy_statuses": statuses, "heavy_answers": len(answers),
            "heavy": percentiles([ms for _, ms in answers]) if answers else None}


def run(scale: str = "S", probes: int = 200, clients: tuple[int, ...] = (1, 4), seed: int = 0) -> dict:
    index = build(Path(f"/tmp/unicorn-bench-engine-{scale}"), scale, seed)
    index_dir = Path(index.path).resolve()
    index.close()
    data = Path(tempfile.mkdtemp(prefix="unicorn-bench-hostile-"))
    paths.index(data).symlink_to(index_dir, target_is_directory=True)
    report: dict = {"scale": scale, "query": HEAVY}
    try:
        for budget in (200, GENEROUS_MS):
            for count in clients:
                report[f"budget_{budget}_clients_{count}"] = scenario(data, budget, count, probes)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return report


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--scale", default="S", show_default=True, help="Generator scale: S, demo, M or L.")
@click.option("--probes", default=200, show_default=True, type=click.IntRange(min=1), help="/healthz probes per run.")
@click.option("--heavy-clients", default="1,4", show_default=True, type=COMMA_INTS, help="Comma-separated.")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the report (with this command) to this file.")
def main(scale: str, probes: int, heavy_clients: tuple[int, ...], out: str | None) -> None:
    """Hostile queries against a real server: time to their 504, and /healthz latency meanwhile."""
    report = run(scale, probes, heavy_clients)
    report["command"] = "python -m bench.hostile " + shlex.join(sys.argv[1:])
    text = orjson.dumps(report, option=orjson.OPT_INDENT_2).decode()
    click.echo(text)
    if out:
        Path(out).write_text(text + "\n")


if __name__ == "__main__":
    main()
