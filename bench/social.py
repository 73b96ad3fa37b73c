"""Social typeahead in-process, a new viewer per typing session: p50/p99 per prefix length, cold and warm.

    python -m bench.social [--scale S] [--data DIR] [--sessions 300] [--profile FILE]

A session is one viewer typing one name token of 5+ characters, a query per keystroke (prefixes of
1 to 5 characters, as bench/workload.py's sessions). Every session has its own viewer, one the
process has not seen before: its first keystroke finds the viewer's circle cold. The `cold` pass
runs every session once; the `warm` pass runs the same sessions again (their viewers' circles made).
Typos are off, as in the harness (PostgreSQL's SQL is exact). The index is bench/engine.py's, built
once into DATA and reused; before measuring, the serving caches are readied as api/service.py does,
and a disjoint set of warm-up viewers types a few sessions (shared caches warm, measured viewers not).
`--profile FILE` writes a cProfile of the cold pass to FILE and prints its top functions.

Each query's wall time is reported, and its CPU time (the thread's own, `time.thread_time`), which
other processes on a shared machine do not inflate.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import pstats
import random
import statistics
import time
from pathlib import Path

from bench import workload
from bench.engine import build
from unicorn.engine import Engine

WARMUP_SESSIONS = 50
LIMIT = workload.TYPEAHEAD_LIMIT


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered), 3),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3), "n": len(ordered)}


def ready(index) -> tuple[Engine, dict]:
    """The engine readied as api/service.py readies it before serving; seconds taken, and the
    follow graph's build time and size."""
    started = time.perf_counter()
    engine = Engine(index)
    with index.reader() as view:
        graph_started = time.perf_counter()
        base = engine.viewers.circles.graph.at(view).base
        graph_s = time.perf_counter() - graph_started
    engine.warm()
    return engine, {"ready_s": round(time.perf_counter() - started, 3), "graph_build_s": round(graph_s, 3),
                    "graph_bytes": base.nbytes, "graph_users": base.users, "graph_follows": len(base.indices)}


def sessions(view, count: int, seed: int) -> list[tuple[int, str]]:
    """(viewer, word) per session, every viewer distinct; the first WARMUP_SESSIONS are for warming up."""
    rng = random.Random(seed)
    inputs = workload.sample_inputs(view, rng, size=max(2000, count + WARMUP_SESSIONS))
    words = inputs.user_prefixes[workload.PREFIX_LENGTHS[-1]]
    viewers = rng.sample(inputs.viewers, min(len(inputs.viewers), count + WARMUP_SESSIONS))
    return [(viewer, rng.choice(words)) for viewer in viewers]


def run_pass(engine: Engine, plan: list[tuple[int, str]]) -> dict[str, dict[int, list[float]]]:
    """Wall and CPU milliseconds per query, by prefix length."""
    wall: dict[int, list[float]] = {n: [] for n in workload.PREFIX_LENGTHS}
    cpu: dict[int, list[float]] = {n: [] for n in workload.PREFIX_LENGTHS}
    for viewer, word in plan:
        for n in workload.PREFIX_LENGTHS:
            started, started_cpu = time.perf_counter(), time.thread_time()
            engine.typeahead(word[:n], viewer, limit=LIMIT, verticals=("user",), timeout_ms=60_000, typos="0")
            wall[n].append((time.perf_counter() - started) * 1000)
            cpu[n].append((time.thread_time() - started_cpu) * 1000)
    return {"wall": wall, "cpu": cpu}


def run(scale: str, data: Path, count: int, seed: int = 0, profile: Path | None = None) -> dict:
    index = build(data, scale, seed)
    engine, readied = ready(index)
    with index.reader() as view:
        plan = sessions(view, count, seed)
    warmup, measured = plan[:WARMUP_SESSIONS], plan[WARMUP_SESSIONS:]
    run_pass(engine, warmup)
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    cold = run_pass(engine, measured)
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        print(out.getvalue())
    warm = run_pass(engine, measured)
    index.close()
    report = {"scale": scale, "sessions": len(measured), **readied}
    for name, measured_pass in (("cold", cold), ("warm", warm)):
        for clock, by_length in measured_pass.items():
            report[f"{name}_{clock}"] = {"all": percentiles(list(itertools.chain(*by_length.values()))),
                                         **{str(n): percentiles(samples) for n, samples in by_length.items()}}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="S")
    parser.add_argument("--data", type=Path, help="default: /tmp/unicorn-bench-engine-SCALE (bench/engine.py's)")
    parser.add_argument("--sessions", type=int, default=300, help="measured sessions, 5 queries each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    report = run(args.scale, args.data or Path(f"/tmp/unicorn-bench-engine-{args.scale}"), args.sessions, args.seed,
                 args.profile)
    print(f"scale {report['scale']}, {report['sessions']} sessions of distinct viewers, "
          f"caches readied in {report['ready_s']} s, of which the follow graph {report['graph_build_s']} s "
          f"({report['graph_users']:,} users, {report['graph_follows']:,} follows, {report['graph_bytes']:,} bytes)")
    print(f"  {'':<18}{'wall p50':>10}{'wall p99':>10}{'cpu p50':>10}{'cpu p99':>10}  (ms)")
    for name in ("cold", "warm"):
        for group, wall in report[f"{name}_wall"].items():
            cpu = report[f"{name}_cpu"][group]
            label = "all lengths" if group == "all" else f"prefix {group}"
            print(f"  {name:<5} {label:<12}{wall['p50_ms']:10.3f}{wall['p99_ms']:10.3f}{cpu['p50_ms']:10.3f}"
                  f"{cpu['p99_ms']:10.3f}  ({wall['n']} queries)")


if __name__ == "__main__":
    main()
