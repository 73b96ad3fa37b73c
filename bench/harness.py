"""The benchmark run: dataset, scenarios, figures; `run(...)` returns the report and writes it.

Scenarios (all by default):
- `queries`: every query class in-process on the engine and in SQL on PostgreSQL, over the same
  sampled inputs; answers compared item by item (a mismatch fails the run); p50/p99 per class.
- `relevance`: keystrokes until the target is in the top 3 (bench/relevance.py).
- `size`: index size on disk, bytes per edge, and the RSS of a process serving the query workload.
- `http`, `ingest`, `rebuild`: the figures of bench/http.py, bench/ingest.py, bench/sources.py.

The index is built once per (scale, seed) under DATA/index by replaying the generator's snapshot
through Slipstream (bench.engine.build) and reused; PostgreSQL keeps its data under DATA/pg.
A run that names some scenarios keeps the others' figures from a report of the same scale and
seed already in its output directory; `commands` says which command measured each scenario.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import lmdb
import numpy as np
import psycopg
import pyroaring

from bench import postgres, relevance, report
from bench.servers import Postgres
from bench.workload import Inputs, Item, items, sample_inputs
from indexer.store import Index
from unicorn.engine import Engine
from unicorn.searcher import Searcher

SCENARIOS = ("queries", "relevance", "size", "http", "ingest", "rebuild")
# scenario -> the report keys it fills
FILLS = {"queries": ("queries", "postgres_dataset"), "relevance": ("relevance",), "size": ("size",),
         "http": ("http",), "ingest": ("ingest",), "rebuild": ("rebuild",)}
STATIC_CLASSES = ("user_typeahead", "hashtag_typeahead", "place_typeahead", "people_2hop",
                  "media_by_followees", "extract_owners", "weak_and", "strong_or")
TIMEOUT_MS = 60_000  # measure slow queries rather than cut them off


class MismatchError(AssertionError):
    """The engine and PostgreSQL answered a query differently."""


def searchers(index: Index) -> Searcher:
    """The engine over one index, warmed as the server warms it before it serves (api/service.py)."""
    engine = Engine(index)
    engine.warm()
    return engine


def machine() -> dict:
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
            "os": platform.platform(), "load_average_at_start": os.getloadavg()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def versions() -> dict:
    return {"python": platform.python_version(), "lmdb": lmdb.__version__, "lmdb_c": ".".join(map(str, lmdb.version())),
            "pyroaring": pyroaring.__version__, "numpy": np.__version__, "psycopg": psycopg.__version__}


def build_index(data: Path, scale: str, seed: int) -> tuple[Index, float | None]:
    """The index of the generator's snapshot at (scale, seed); seconds taken when it was built now."""
    from bench.engine import build

    path = data / "index"
    probe = Index(path)
    fresh = probe.offsets("bench") != {0: 1}
    probe.close()
    started = time.perf_counter()
    index = build(path, scale, seed)
    return index, (round(time.perf_counter() - started, 1) if fresh else None)


def dataset_stats(index: Index) -> dict:
    with index.reader() as view:
        live = {v: len(view.posting(v, "_live")) for v in ("user", "media", "hashtag", "place")}
        follows = int(view.rank("user").count[rank_ids(view, "user")].sum())
        likes = int(view.rank("media").count[rank_ids(view, "media")].sum())
    return {"users": live["user"], "media": live["media"], "hashtags": live["hashtag"], "places": live["place"],
            "follows": follows, "likes": likes}


def rank_ids(view, vertical: str) -> np.ndarray:
    from unicorn.query.rank import as_array
    return as_array(view.posting(vertical, "_live"))


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def summarize(per_repeat: list[list[float]]) -> dict:
    """p50/p99/mean per repeat; their median and spread (min, max) over repeats; all samples of the median repeat."""
    figures = {}
    for name, fn in (("p50_ms", lambda s: statistics.median(s)), ("p99_ms", lambda s: percentile(s, 0.99)),
                     ("mean_ms", statistics.fmean)):
        values = [fn(samples) for samples in per_repeat]
        figures[name] = round(statistics.median(values), 4)
        figures[name.replace("_ms", "_spread_ms")] = [round(min(values), 4), round(max(values), 4)]
    figures["repeats"] = len(per_repeat)
    figures["queries_per_repeat"] = len(per_repeat[0])
    return figures


def ours(searcher: Searcher, item: Item) -> tuple[list[str], float]:
    started = time.perf_counter()
    if item.order == "typeahead":
        found = searcher.typeahead(item.text, item.viewer, limit=item.limit, verticals=("user",),
                                   timeout_ms=TIMEOUT_MS, typos="0").results  # PostgreSQL's SQL is exact
    else:
        found = searcher.search(item.vertical, item.query, item.viewer, limit=item.limit, order=item.order,
                                timeout_ms=TIMEOUT_MS).results
    elapsed = (time.perf_counter() - started) * 1000
    return [r["id"] for r in found], elapsed


def theirs(conn: psycopg.Connection, item: Item) -> tuple[list[str], float]:
    started = time.perf_counter()
    rows = conn.execute(postgres.SQL[item.sql], item.params).fetchall()
    elapsed = (time.perf_counter() - started) * 1000
    return [str(row[0]) for row in rows], elapsed


def measure_queries(searcher: Searcher, dsn: str | None, workloads: list[list[Item]], log) -> dict:
    """Per class: our and PostgreSQL's latency, one pass per workload (a fresh sample each); every answer compared."""
    repeats = len(workloads)
    classes = list(dict.fromkeys(item.cls for item in workloads[0]))
    samples = {cls: {"ours": [[] for _ in range(repeats)], "postgres": [[] for _ in range(repeats)]} for cls in classes}
    groups: dict[str, dict[str, list[float]]] = {}
    mismatches: list[dict] = []
    compared = dict.fromkeys(classes, 0)
    conn = psycopg.connect(dsn, autocommit=True, prepare_threshold=None) if dsn else None
    try:
        for item in workloads[0][:: max(1, len(workloads[0]) // 20)]:  # warm both sides once
            ours(searcher, item)
            if conn:
                theirs(conn, item)
        for r in range(repeats):
            for cls in classes:
                started = time.perf_counter()
                for item in (i for i in workloads[r] if i.cls == cls):
                    answer, ms = ours(searcher, item)
                    samples[cls]["ours"][r].append(ms)
                    if item.group:
                        groups.setdefault(cls, {}).setdefault(item.group, []).append(ms)
                    if conn:
                        expected, pg_ms = theirs(conn, item)
                        samples[cls]["postgres"][r].append(pg_ms)
                        compared[cls] += 1
                        if answer != expected:
                            mismatches.append({"class": cls, "query": item.query, "viewer": item.viewer,
                                               "ours": answer, "postgres": expected})
                log(f"  {cls:<20} pass {r + 1}/{repeats}: {time.perf_counter() - started:.1f} s")
    finally:
        if conn:
            conn.close()
    out: dict = {"classes": {}, "mismatches": mismatches[:50], "mismatch_count": len(mismatches),
                 "answers_compared": compared}
    for cls in classes:
        entry: dict = {"ours": summarize(samples[cls]["ours"]), "samples_ms": {"ours": sum(samples[cls]["ours"], [])}}
        if conn:
            entry["postgres"] = summarize(samples[cls]["postgres"])
            entry["samples_ms"]["postgres"] = sum(samples[cls]["postgres"], [])
            entry["ratio_p50"] = round(entry["postgres"]["p50_ms"] / max(entry["ours"]["p50_ms"], 1e-9), 1)
            entry["ratio_p99"] = round(entry["postgres"]["p99_ms"] / max(entry["ours"]["p99_ms"], 1e-9), 1)
            entry["answers_match"] = not any(m["class"] == cls for m in mismatches)
        if cls in groups:
            entry["p50_ms_by_prefix_length"] = {g: round(statistics.median(s), 4) for g, s in sorted(groups[cls].items())}
        out["classes"][cls] = entry
    return out


def _serving_rss(path: str, workload: list[Item]) -> dict:
    """In a fresh process: open the index, answer the workload once, return VmRSS and VmHWM in bytes."""
    index = Index(path, readonly=True)
    searcher = searchers(index)
    for item in workload:
        ours(searcher, item)
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    index.close()
    return {k: int(status[k].split()[0]) * 1024 for k in ("VmRSS", "VmHWM")}


def measure_size(index: Index, stats: dict, workload: list[Item]) -> dict:
    files = sum(f.stat().st_blocks * 512 for f in index.path.iterdir() if f.is_file())
    used = index.size_bytes()
    edges = stats["follows"] + stats["likes"]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        rss = pool.submit(_serving_rss, str(index.path), workload).result()
    return {"index_bytes_on_disk": files, "index_bytes_used": used, "edges": edges,
            "bytes_per_edge": round(used / max(edges, 1), 1),
            "serving_rss_bytes": rss["VmRSS"], "serving_peak_rss_bytes": rss["VmHWM"]}


def optional_figures(module: str, call: Callable, log) -> dict:
    """Figures from a colleague's bench module, or why there are none."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        return {"status": "not run", "reason": f"{module} is not available ({exc})"}
    try:
        started = time.perf_counter()
        figures = call(mod)
        return {"status": "ok", "seconds": round(time.perf_counter() - started, 1), "figures": figures}
    except Exception as exc:  # a failing optional scenario is reported, not fatal to the others
        log(f"  {module} failed: {exc!r}")
        return {"status": "failed", "reason": repr(exc)}


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
    classes = ["social_typeahead", *STATIC_CLASSES]
    workloads = [items(inputs, classes, queries, rng) for _ in range(repeats)]
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
                from firehose.sources.generator import SyntheticPlatform
                counts = postgres.load(server.dsn(), SyntheticPlatform(scale, seed).snapshot(), scale, seed, log)
            result["postgres_dataset"] = counts
            log(f"queries: {len(classes)} classes x {queries} x {repeats} repeats")
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
            result["http"] = optional_figures("bench.http", lambda m: m.run(scale), log)
        if "ingest" in scenarios:
            result["ingest"] = optional_figures("bench.ingest", lambda m: m.run(scale), log)
        if "rebuild" in scenarios:
            result["rebuild"] = optional_figures("bench.sources", lambda m: _sources(m, data, scale), log)
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


def _sources(module, data: Path, scale: str) -> dict:
    """bench.sources.run on a fresh database of our PostgreSQL server (its own COPY load, relay and rebuild)."""
    import shutil
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="unicorn-bench-sources-"))
    server = Postgres(work / "pg").start()
    try:
        return module.run(server.dsn(), scale, work)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
