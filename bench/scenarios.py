"""What each scenario of the benchmark run measures (bench/harness.py runs them):

- `queries`: every query class in-process on the engine and in SQL on PostgreSQL and DuckDB, over the
  same sampled inputs; answers compared item by item; p50/p99 per class (wall, and the engine's CPU).
- `relevance`: keystrokes until the target is in the top 3 (bench/relevance.py).
- `size`: index size on disk, bytes per edge, and the memory of a process serving the query workload and then
  more and more new viewers (what grows with users, edges and viewers).
- `http`, `ingest`, `rebuild`: the figures of bench/http.py, bench/ingest.py, bench/sources.py.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psycopg

from bench import duck, postgres
from bench.servers import Postgres
from bench.timing import percentiles, summarize
from bench.workload import COLD_SESSIONS, Item
from indexer.store import Index
from unicorn.engine import Engine
from unicorn.query import rank
from unicorn.searcher import Searcher
from vocabulary import terms

SCENARIOS = ("queries", "relevance", "size", "http", "ingest", "rebuild")
# scenario -> the report keys it fills
FILLS = {"queries": ("queries", "postgres_dataset", "duckdb_dataset"), "relevance": ("relevance",), "size": ("size",),
         "http": ("http",), "ingest": ("ingest",), "rebuild": ("rebuild",)}
CLASSES = ("social_typeahead", "user_typeahead", "hashtag_typeahead", "place_typeahead", "people_2hop",
           "media_by_followees", "extract_owners", "weak_and", "strong_or")
TIMEOUT_MS = 60_000  # measure slow queries rather than cut them off


def searchers(index: Index) -> Searcher:
    """The engine over one index, warmed as the server warms it before it serves (api/service.py)."""
    engine = Engine(index)
    engine.warm()
    return engine


def ours(searcher: Searcher, item: Item) -> tuple[list[str], float, float]:
    """The engine's answer (ids), its wall and CPU milliseconds (this thread's: the engine answers in the caller's
    thread; other processes, and DuckDB's threads in this one, do not count)."""
    started, started_cpu = time.perf_counter(), time.thread_time()
    if item.order == "typeahead":
        found = searcher.typeahead(item.text, item.viewer, limit=item.limit, verticals=("user",),
                                   timeout_ms=TIMEOUT_MS, typos="0").results  # the peers' SQL is exact
    else:
        found = searcher.search(item.vertical, item.query, item.viewer, limit=item.limit, order=item.order,
                                timeout_ms=TIMEOUT_MS).results
    elapsed, cpu = (time.perf_counter() - started) * 1000, (time.thread_time() - started_cpu) * 1000
    return [r["id"] for r in found], elapsed, cpu


class PostgresPeer:
    """bench.postgres.SQL over one connection to the bench's PostgreSQL."""

    name = "postgres"

    def __init__(self, dsn: str) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True, prepare_threshold=None)
        self._schedstat = Path(f"/proc/{self.conn.info.backend_pid}/schedstat")  # the server process of this connection

    def _cpu_ns(self) -> int:
        """CPU time of the connection's server process (the kernel's scheduler statistics, in ns)."""
        return int(self._schedstat.read_text().split()[0])

    def answer(self, item: Item) -> tuple[list[str], float, float]:
        """Ids, wall ms and the server process's CPU ms."""
        cpu = self._cpu_ns()
        started = time.perf_counter()
        rows = self.conn.execute(postgres.SQL[item.sql], item.params).fetchall()
        elapsed = (time.perf_counter() - started) * 1000
        return [str(row[0]) for row in rows], elapsed, (self._cpu_ns() - cpu) / 1e6

    def close(self) -> None:
        self.conn.close()


class DuckPeer:
    """The same SQL in DuckDB in-process (bench/duck.py), over a read-only connection."""

    name = "duckdb"

    def __init__(self, path: Path) -> None:
        self.con = duck.connect(path)

    def answer(self, item: Item) -> tuple[list[str], float, float]:
        """Ids, wall ms and CPU ms (this process's, DuckDB's threads included)."""
        sql = duck.SQL[item.sql]
        params = {k: v for k, v in item.params.items() if f"${k}" in sql}
        started, started_cpu = time.perf_counter(), time.process_time()
        rows = self.con.execute(sql, params).fetchall()
        elapsed, cpu = (time.perf_counter() - started) * 1000, (time.process_time() - started_cpu) * 1000
        return [str(row[0]) for row in rows], elapsed, cpu

    def close(self) -> None:
        self.con.close()


WARM_SUFFIX = "_warm"  # the cold typeahead sessions typed again by the same viewers, engine only


def measure_queries(searcher: Searcher, dsn: str | None, workloads: list[list[Item]], log, *,
                    duckdb_path: Path | None = None, warmup: list[Item] | None = None) -> dict:
    """Per class: the engine's and each peer's latency, one pass per workload (a fresh sample each); every
    answer compared. Each side answers a class's items in a run of its own (the engine first, then each peer),
    so that no side finds its caches disturbed by another's work between two of its queries. Figures pool the passes (p50/p99 over every query of the class), with the spread of the
    per-pass figures. After each pass of `social_typeahead` (its viewers new to the process), the same
    sessions run again as `social_typeahead_warm` (engine only, answers compared with the cold ones).
    `warmup` is run first on every side (default: every 20th item of the first workload outside the
    cold sessions)."""
    repeats = len(workloads)
    classes = list(dict.fromkeys(item.cls for item in workloads[0]))
    warm_classes = [cls + WARM_SUFFIX for cls in classes if cls in COLD_SESSIONS]
    peers = ([PostgresPeer(dsn)] if dsn else []) + ([DuckPeer(duckdb_path)] if duckdb_path else [])
    sides = ["ours", *(peer.name for peer in peers)]
    wall = {cls: {side: [[] for _ in range(repeats)] for side in sides} for cls in classes + warm_classes}
    cpu = {cls: {side: [[] for _ in range(repeats)] for side in sides} for cls in classes + warm_classes}
    groups: dict[str, dict[str, dict[str, list[float]]]] = {}  # class -> side -> group -> wall ms
    cpu_groups: dict[str, dict[str, dict[str, list[float]]]] = {}  # class -> side -> group -> CPU ms
    mismatches: list[dict] = []
    compared = {cls: dict.fromkeys(sides[1:], 0) for cls in classes}
    if warmup is None:
        others = [i for i in workloads[0] if i.cls not in COLD_SESSIONS]
        warmup = others[:: max(1, len(others) // 20)]

    def record(cls: str, item: Item, side: str, r: int, ms: float, cpu_ms: float) -> None:
        wall[cls][side][r].append(ms)
        cpu[cls][side][r].append(cpu_ms)
        if item.group:
            groups.setdefault(cls, {}).setdefault(side, {}).setdefault(item.group, []).append(ms)
            cpu_groups.setdefault(cls, {}).setdefault(side, {}).setdefault(item.group, []).append(cpu_ms)

    try:
        for item in warmup:
            ours(searcher, item)
            for peer in peers:
                peer.answer(item)
        for r in range(repeats):
            for cls in classes:
                started = time.perf_counter()
                load = os.getloadavg()[0]
                batch = [i for i in workloads[r] if i.cls == cls]
                answers = []
                for item in batch:
                    answer, ms, cpu_ms = ours(searcher, item)
                    answers.append(answer)
                    record(cls, item, "ours", r, ms, cpu_ms)
                if cls in COLD_SESSIONS:
                    again = cls + WARM_SUFFIX
                    for item, cold_answer in zip(batch, answers):
                        answer, ms, cpu_ms = ours(searcher, item)
                        record(again, item, "ours", r, ms, cpu_ms)
                        if answer != cold_answer:
                            mismatches.append({"class": again, "peer": "ours cold", "query": item.query,
                                               "viewer": item.viewer, "ours": answer, "ours cold": cold_answer})
                for peer in peers:
                    for item, answer in zip(batch, answers):
                        expected, peer_ms, peer_cpu_ms = peer.answer(item)
                        record(cls, item, peer.name, r, peer_ms, peer_cpu_ms)
                        compared[cls][peer.name] += 1
                        if answer != expected:
                            mismatches.append({"class": cls, "peer": peer.name, "query": item.query,
                                               "viewer": item.viewer, "ours": answer, peer.name: expected})
                log(f"  {cls:<20} pass {r + 1}/{repeats}: {time.perf_counter() - started:.1f} s (load {load:.1f})")
    finally:
        for peer in peers:
            peer.close()
    out: dict = {"classes": {}, "mismatches": mismatches[:50], "mismatch_count": len(mismatches),
                 "answers_compared": {cls: sum(n.values()) for cls, n in compared.items()},
                 "answers_compared_by_peer": compared, "peers": sides[1:]}
    for cls in classes + warm_classes:
        entry: dict = {"ours": summarize(wall[cls]["ours"]), "ours_cpu": summarize(cpu[cls]["ours"]),
                       "samples_ms": {"ours": [x for s in wall[cls]["ours"] for x in s]}}
        for peer in sides[1:]:
            if cls in warm_classes:
                continue
            entry[peer] = summarize(wall[cls][peer])
            entry[f"{peer}_cpu"] = summarize(cpu[cls][peer])
            entry["samples_ms"][peer] = [x for s in wall[cls][peer] for x in s]
            suffix = "" if peer == "postgres" else f"_{peer}"
            for q in ("p50", "p99"):
                entry[f"ratio_{q}{suffix}"] = round(entry[peer][f"{q}_ms"] / max(entry["ours"][f"{q}_ms"], 1e-9), 1)
                entry[f"cpu_ratio_{q}{suffix}"] = round(entry[f"{peer}_cpu"][f"{q}_ms"]
                                                        / max(entry["ours_cpu"][f"{q}_ms"], 1e-9), 1)
        if peers:
            entry["answers_match"] = not any(m["class"] == cls for m in mismatches)
        if cls in groups:
            entry["by_prefix_length"] = {
                g: {side: percentiles(groups[cls][side][g]) for side in groups[cls]}
                | {f"{side}_cpu": percentiles(cpu_groups[cls][side][g]) for side in cpu_groups[cls]}
                for g in sorted(groups[cls]["ours"])}
            entry["p50_ms_by_prefix_length"] = {g: f["ours"]["p50_ms"] for g, f in entry["by_prefix_length"].items()}
        out["classes"][cls] = entry
    return out


MEMORY_FIELDS = ("VmRSS", "VmHWM", "RssAnon", "RssFile")
NEW_VIEWERS = (256, 1024, 2048, 4096)  # cumulative counts of viewers new to the process, each typing one keystroke


def _memory() -> dict:
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {k: int(status[k].split()[0]) * 1024 for k in MEMORY_FIELDS}


def _circle_bytes(circle) -> int:
    """What one cached circle holds: followee and 2-hop ids, counts and weights, and their bitmaps."""
    return (circle.followee_ids.nbytes + circle.hop_ids.nbytes + circle.hop_counts.nbytes + circle.hop_weights.nbytes
            + len(circle.hop.serialize()) + len(circle.followees.serialize()))


def _serving_memory(path: str, workload: list[Item], seed: int) -> dict:
    """In a fresh process: memory after opening and readying the index, after answering the workload, and after
    NEW_VIEWERS viewers new to it typed one keystroke each (the per-viewer caches filling up to their bound)."""
    index = Index(path, readonly=True)
    stages = {"opened": _memory()}
    searcher = searchers(index)
    stages["readied"] = _memory()
    for item in workload:
        ours(searcher, item)
    stages["workload"] = _memory()
    seen = {item.viewer for item in workload}
    rng = random.Random(seed)
    with index.reader() as view:
        graph = searcher.viewers.circles.graph.at(view).base
        live = rank.as_array(view.posting("user", terms.LIVE)).tolist()
        new = [v for v in (view.ext("user", i) for i in rng.sample(live, min(len(live), 3 * NEW_VIEWERS[-1])))
               if v not in seen and view.posting("user", terms.following(v))][:NEW_VIEWERS[-1]]
        served = 0
        for count in NEW_VIEWERS:
            for viewer in new[served:count]:
                searcher.typeahead("a", viewer, limit=10, verticals=("user",), timeout_ms=TIMEOUT_MS, typos="0")
            served = min(count, len(new))
            stages[f"new_viewers_{served}"] = _memory()
        circles = [searcher.viewers.resolve(view, v).circle for v in new[-256:]]
        per_circle = statistics.fmean(_circle_bytes(c) for c in circles)
        hop_sizes = statistics.fmean(len(c.hop_ids) for c in circles)
    index.close()
    return {"stages": stages, "graph": {"bytes": graph.nbytes, "users": graph.users, "follows": len(graph.indices)},
            "circle_bytes_mean": round(per_circle), "circle_hop_ids_mean": round(hop_sizes)}


def measure_size(index: Index, stats: dict, workload: list[Item], seed: int = 0) -> dict:
    files = sum(f.stat().st_blocks * 512 for f in index.path.iterdir() if f.is_file())
    used = index.size_bytes()
    edges = stats["follows"] + stats["likes"]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        memory = pool.submit(_serving_memory, str(index.path), workload, seed).result()
    last = memory["stages"][max((k for k in memory["stages"] if k.startswith("new_viewers_")),
                                key=lambda k: int(k.rsplit("_", 1)[1]))]
    return {"index_bytes_on_disk": files, "index_bytes_used": used, "edges": edges,
            "bytes_per_edge": round(used / max(edges, 1), 1),
            "serving_rss_bytes": memory["stages"]["workload"]["VmRSS"], "serving_peak_rss_bytes": last["VmHWM"],
            "memory": memory}


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
