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
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import statistics
import time
from pathlib import Path

from bench import workload
from bench.engine import build
from unicorn.social import Social
from unicorn.typeahead import Typeahead
from vocabulary.schema import VERTICALS

WARMUP_SESSIONS = 50
LIMIT = workload.TYPEAHEAD_LIMIT


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered), 3),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3), "n": len(ordered)}


def ready(index) -> tuple[Typeahead, float]:
    """The typeahead with the caches api/service.py readies before serving; seconds taken."""
    started = time.perf_counter()
    social = Social()
    with index.reader() as view:
        for vertical in VERTICALS:
            view.rank(vertical)
        social.popular(view)
    typeahead = Typeahead(index, social)
    with index.reader() as view:
        typeahead.typos.refresh(view)
    return typeahead, time.perf_counter() - started


def sessions(view, count: int, seed: int) -> list[tuple[int, str]]:
    """(viewer, word) per session, every viewer distinct; the first WARMUP_SESSIONS are for warming up."""
    rng = random.Random(seed)
    inputs = workload.sample_inputs(view, rng, size=max(2000, count + WARMUP_SESSIONS))
    words = inputs.user_prefixes[workload.PREFIX_LENGTHS[-1]]
    viewers = rng.sample(inputs.viewers, min(len(inputs.viewers), count + WARMUP_SESSIONS))
    return [(viewer, rng.choice(words)) for viewer in viewers]


def run_pass(typeahead: Typeahead, plan: list[tuple[int, str]]) -> dict[int, list[float]]:
    """Milliseconds per query, by prefix length."""
    by_length: dict[int, list[float]] = {n: [] for n in workload.PREFIX_LENGTHS}
    for viewer, word in plan:
        for n in workload.PREFIX_LENGTHS:
            started = time.perf_counter()
            typeahead.search(word[:n], viewer, limit=LIMIT, verticals=("user",), timeout_ms=60_000, typos="0")
            by_length[n].append((time.perf_counter() - started) * 1000)
    return by_length


def run(scale: str, data: Path, count: int, seed: int = 0, profile: Path | None = None) -> dict:
    index = build(data, scale, seed)
    typeahead, ready_s = ready(index)
    with index.reader() as view:
        plan = sessions(view, count, seed)
    warmup, measured = plan[:WARMUP_SESSIONS], plan[WARMUP_SESSIONS:]
    run_pass(typeahead, warmup)
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    cold = run_pass(typeahead, measured)
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        print(out.getvalue())
    warm = run_pass(typeahead, measured)
    index.close()
    report = {"scale": scale, "sessions": len(measured), "ready_s": round(ready_s, 3)}
    for name, by_length in (("cold", cold), ("warm", warm)):
        report[name] = {"all": percentiles(sum(by_length.values(), [])),
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
          f"caches readied in {report['ready_s']} s")
    for name in ("cold", "warm"):
        for group, figures in report[name].items():
            label = "all lengths" if group == "all" else f"prefix {group}"
            print(f"  {name:<5} {label:<12} p50 {figures['p50_ms']:8.3f} ms  p99 {figures['p99_ms']:8.3f} ms  "
                  f"({figures['n']} queries)")


if __name__ == "__main__":
    main()
