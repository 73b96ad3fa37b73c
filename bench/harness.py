"""The benchmark run: `run(...)` builds the dataset, runs the scenarios (bench/scenarios.py), and
writes the report (bench/report.py) after each one, so that a run cut short keeps what it measured.

The index is built once per (scale, seed) under DATA/index by replaying the generator's snapshot
through Slipstream (bench.engine.build) and reused; PostgreSQL keeps its data under DATA/pg.
A run that names some scenarios keeps the others' figures from a report of the same scale and
seed already in its output directory; `commands` says which command measured each scenario.
PostgreSQL and DuckDB (bench/duck.py, a copy of PostgreSQL's tables under DATA/duckdb) answer the same
SQL; a mismatch between the engine's answers and either peer's fails the run.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

from bench import duck, http, ingest, postgres, relevance, report
from bench.dataset import build_index, dataset_stats
from bench.machine import machine, versions
from bench.scenarios import (
    CLASSES,
    FILLS,
    SCENARIOS,
    figures_of,
    measure_queries,
    measure_size,
    rebuild_figures,
    searchers,
)
from bench.servers import Postgres
from bench.workload import COLD_SESSIONS, PREFIX_LENGTHS, Inputs, items, sample_inputs
from firehose.sources.generator import SyntheticPlatform

WARMUP_SESSIONS = 50  # cold-session viewers typing before the measured ones (shared caches warm, theirs not)


class MismatchError(AssertionError):
    """The engine and a peer (PostgreSQL, DuckDB) answered a query differently."""


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
    if "queries" not in scenarios and "queries" in kept:  # the peers' versions, measured with their figures
        kept["peer_versions"] = {k: v for k, v in old.get("versions", {}).items() if k in ("postgres", "duckdb")}
    return kept


def run(scale: str = "S", scenarios: tuple[str, ...] = SCENARIOS, out_dir: str | Path | None = None,
        repeats: int = 3, *, data: str | Path | None = None, queries: int = 400, sessions: int = 1000, seed: int = 0,
        relevance_pairs: int = 200, command: str | None = None, log=print) -> dict:
    """Runs the scenarios at `scale`, writes report.json, report.md and latency.png to `out_dir`; returns the report.

    Every class has `queries` items per repeat, but the cold sessions (social typeahead): `sessions`
    of them in all (at least; split evenly over the repeats), each by a viewer new to the process.
    Raises MismatchError (after writing the report) when the engine and a peer disagree.
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
    result["versions"].update(result.pop("peer_versions", {}))
    log(f"index for scale {scale} in {data / 'index'}")
    index, build_s = build_index(data, scale, seed)
    stats = dataset_stats(index)
    result["dataset"] = stats | {"index_build_s": build_s,
                                 "index_bytes_per_edge": round(index.size_bytes() / max(stats["follows"] + stats["likes"], 1), 1)}
    rng = random.Random(seed)
    per_repeat = -(-sessions // repeats)
    with index.reader() as view:
        inputs: Inputs = sample_inputs(view, rng, fresh=per_repeat * repeats + WARMUP_SESSIONS)
    searcher = searchers(index)
    others = [cls for cls in CLASSES if cls not in COLD_SESSIONS]
    cold = [cls for cls in CLASSES if cls in COLD_SESSIONS]
    workloads = [items(inputs, others, queries, rng) + items(inputs, cold, per_repeat * len(PREFIX_LENGTHS), rng)
                 for _ in range(repeats)]
    warm_items = [i for i in workloads[0] if i.cls not in COLD_SESSIONS]
    warmup = warm_items[:: max(1, len(warm_items) // 20)]
    warmup += items(inputs, cold, WARMUP_SESSIONS * len(PREFIX_LENGTHS), rng)
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
            duck_path = duck.path_of(data)
            duck_counts = duck.loaded(duck_path, scale, seed)
            if duck_counts is None:
                log("loading DuckDB from PostgreSQL")
                duck_counts = duck.load(server.dsn(), duck_path, scale, seed, log)
            result["duckdb_dataset"] = duck_counts
            result["versions"]["duckdb"] = duck.duckdb.__version__
            log(f"queries: {len(others)} classes x {queries} x {repeats} repeats; {len(cold)} x {per_repeat} sessions"
                f" x {repeats} repeats")
            result["queries"] = measure_queries(searcher, server.dsn(), workloads, log, duckdb_path=duck_path,
                                                warmup=warmup)
            result["queries"]["load_average_after"] = os.getloadavg()
            checkpoint()
        if "relevance" in scenarios:
            log("relevance")
            result["relevance"] = relevance.measure(searcher, index, rng, relevance_pairs)
            result["relevance"]["load_average_after"] = os.getloadavg()
            checkpoint()
        if "size" in scenarios:
            log("size and serving RSS")
            result["size"] = measure_size(index, stats, workloads[0], seed)
            checkpoint()
        if "http" in scenarios:
            result["http"] = figures_of("http", lambda: http.run(scale, index=index), log)
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
        raise MismatchError(f"{mismatches} answers differ between the engine and a peer; see {out / 'report.json'}")
    return result

