"""What each scenario of the benchmark run measures (bench/harness.py runs them):

- `queries`: every query class in-process on the engine and in SQL on PostgreSQL, over the same
  sampled inputs; answers compared item by item; p50/p99 per class.
- `relevance`: keystrokes until the target is in the top 3 (bench/relevance.py).
- `size`: index size on disk, bytes per edge, and the RSS of a process serving the query workload.
- `http`, `ingest`, `rebuild`: the figures of bench/http.py, bench/ingest.py, bench/sources.py.
"""

from __future__ import annotations

import multiprocessing
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psycopg

from bench import postgres
from bench.servers import Postgres
from bench.timing import summarize
from bench.workload import Item
from indexer.store import Index
from unicorn.engine import Engine
from unicorn.searcher import Searcher

SCENARIOS = ("queries", "relevance", "size", "http", "ingest", "rebuild")
# scenario -> the report keys it fills
FILLS = {"queries": ("queries", "postgres_dataset"), "relevance": ("relevance",), "size": ("size",),
         "http": ("http",), "ingest": ("ingest",), "rebuild": ("rebuild",)}
CLASSES = ("social_typeahead", "user_typeahead", "hashtag_typeahead", "place_typeahead", "people_2hop",
           "media_by_followees", "extract_owners", "weak_and", "strong_or")
TIMEOUT_MS = 60_000  # measure slow queries rather than cut them off


def searchers(index: Index) -> Searcher:
    """The engine over one index, warmed as the server warms it before it serves (api/service.py)."""
    engine = Engine(index)
    engine.warm()
    return engine


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


def figures_of(what: str, measure: Callable[[], dict], log) -> dict:
    """The figures of a scenario that may fail on its own (a server, a broker): reported, not fatal to the others."""
    try:
        started = time.perf_counter()
        figures = measure()
        return {"status": "ok", "seconds": round(time.perf_counter() - started, 1), "figures": figures}
    except Exception as exc:
        log(f"  {what} failed: {exc!r}")
        return {"status": "failed", "reason": repr(exc)}


def rebuild_figures(scale: str) -> dict:
    """bench.sources.run on a fresh database of our PostgreSQL server (its own COPY load, relay and rebuild)."""
    from bench import sources

    work = Path(tempfile.mkdtemp(prefix="unicorn-bench-sources-"))
    server = Postgres(work / "pg").start()
    try:
        return sources.run(server.dsn(), scale, work)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
