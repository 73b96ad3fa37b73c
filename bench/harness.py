"""The benchmark run: `run(...)` builds the dataset, runs the scenarios (bench/scenarios.py), and
writes the report (bench/report.py) after each one, so that a run cut short keeps what it measured.

The index is built once per (scale, seed) under DATA/index by replaying the generator's snapshot
through Slipstream (bench.engine.build) and reused; PostgreSQL keeps its data under DATA/pg.
A run that names some scenarios keeps the others' figures from a report of the same scale and
seed already in its output directory; `commands` says which command measured each scenario.
A mismatch between the engine's and PostgreSQL's answers fails the run.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from bench import http, ingest, postgres, relevance, report
from bench.dataset import build_index, dataset_stats
from bench.machine import machine, versions
from bench.scenarios import (CLASSES, FILLS, SCENARIOS, figures_of, measure_queries, measure_size, rebuild_figures,
                             searchers)
from bench.servers import Postgres
from bench.workload import Inputs, items, sample_inputs
from firehose.sources.generator import SyntheticPlatform


class MismatchError(AssertionError):
    """The engine and PostgreSQL answered a query differently."""


def _carried_over(previous: Path, scale: str, seed: int, scenarios: tuple[str, ...], command: str | None) -> dict:
    """The figures of scenarios this run does not measure, from an earlier report of the same dataset."""
    old = json.loads(previous.read_text()) if previous.exists() else {}
    if (old.get("scale"), old.get("seed")) != (scale, seed):
        old = {}
    old_commands = old.get("commands") or {name: old.get("command") for name in old.get("scenarios", [])}
    kept = {"commands": {name: command for name in scenarios}}
    for name in SCENARIOS:
        if name not in scenarios and name in old_commands:
            kept["commands"][name] = old_commands[name]
            kept.update({key: old[key] for key in FILLS[name] if key in old})
    return kept


def run(scale: str = "S", scenarios: tuple[str, ...] = SCENARIOS, out_dir: str | Path | None = None,
        repeats: int = 3, *, data: str | Path | None = None, queries: int = 100, seed: int = 0,
        relevance_pairs: int = 200, command: str | None = None, log=print) -> dict:
    """Runs the scenarios at `scale`, writes report.json, report.md and latency.png to `out_dir`; returns the report.

    Raises MismatchError (after writing the report) when the engine and PostgreSQL disagree.
    """
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        raise ValueError(f"unknown scenarios {sorted(unknown)}; expected some of {SCENARIOS}")
    data = Path(data or f"/tmp/unicorn-bench/{scale}")
    out = Path(out_dir or f"bench/results/{scale}")
    started = time.perf_counter()
    result: dict = {"scale": scale, "seed": seed, "command": command, "scenarios": list(scenarios), "repeats": repeats,
                    "machine": machine(), "versions": versions(), "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    result.update(_carried_over(out / "report.json", scale, seed, scenarios, command))
    log(f"index for scale {scale} in {data / 'index'}")
    index, build_s = build_index(data, scale, seed)
    stats = dataset_stats(index)
    result["dataset"] = stats | {"index_build_s": build_s}
    rng = random.Random(seed)
    with index.reader() as view:
        inputs: Inputs = sample_inputs(view, rng)
    searcher = searchers(index)
    workloads = [items(inputs, list(CLASSES), queries, rng) for _ in range(repeats)]
    server = None

    def checkpoint() -> None:  # the report so far, in case a later scenario does not finish
        result["wall_s"] = round(time.perf_counter() - started, 1)
        report.write(result, out)

    try:
        if "queries" in scenarios:
            server = Postgres(data / "pg").start()
            result["versions"]["postgres"] = server.version()
            counts = postgres.loaded(server.dsn(), scale, seed)
            if counts is None:
                log("loading PostgreSQL")
                counts = postgres.load(server.dsn(), SyntheticPlatform(scale, seed).snapshot(), scale, seed, log)
            result["postgres_dataset"] = counts
            log(f"queries: {len(CLASSES)} classes x {queries} x {repeats} repeats")
            result["queries"] = measure_queries(searcher, server.dsn(), workloads, log)
            checkpoint()
        if "relevance" in scenarios:
            log("relevance")
            result["relevance"] = relevance.measure(searcher, index, rng, relevance_pairs)
            checkpoint()
        if "size" in scenarios:
            log("size and serving RSS")
            result["size"] = measure_size(index, stats, workloads[0])
            checkpoint()
        if "http" in scenarios:
            result["http"] = figures_of("http", lambda: http.run(scale), log)
        if "ingest" in scenarios:
            result["ingest"] = figures_of("ingest", lambda: ingest.run(scale), log)
        if "rebuild" in scenarios:
            result["rebuild"] = figures_of("rebuild", lambda: rebuild_figures(scale), log)
    finally:
        if server:
            server.stop()
        index.close()
    result["wall_s"] = round(time.perf_counter() - started, 1)
    report.write(result, out)
    log(f"report written to {out}")
    mismatches = result.get("queries", {}).get("mismatch_count", 0)
    if mismatches:
        raise MismatchError(f"{mismatches} answers differ between the engine and PostgreSQL; see {out / 'report.json'}")
    return result

