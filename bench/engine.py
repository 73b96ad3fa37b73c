"""Query engine scenario: 2-hop searches over a synthetic platform (default scale M: 100k users,
~5M follows, 1M media), p50/p99 per query shape.

    python3 -m bench.engine [--scale M] [--data DIR] [--queries 500]

The index is built once into DIR (Slipstream over the generator's snapshot) and reused.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import time
from pathlib import Path

from firehose.sources.generator import SyntheticPlatform
from slipstream import Slipstream
from unicorn.engine import Engine
from unicorn.query import rank
from unicorn.store import Index
from unicorn.text import tokens

BATCH = 20_000


def build(data: Path, scale: str, seed: int) -> Index:
    index = Index(data)
    if index.offsets("bench") != {0: 1}:
        started, n, done = time.perf_counter(), 0, False
        events = SyntheticPlatform(scale, seed).snapshot()
        while not done:
            with index.writer() as batch:
                slip = Slipstream(batch)
                count = 0
                for event in itertools.islice(events, BATCH):
                    slip.apply(event)
                    count += 1
                n += count
                done = count < BATCH
                if done:
                    batch.set_offsets("bench", {0: 1})
            print(f"  indexed {n:,} events, {time.perf_counter() - started:.0f} s", flush=True)
        print(f"built index of scale {scale} in {time.perf_counter() - started:.0f} s")
    return index


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered), 3),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3)}


def run(scale: str = "M", data: Path | None = None, queries: int = 500, seed: int = 0) -> dict:
    data = data or Path(f"/tmp/unicorn-bench-engine-{scale}")
    index = build(data, scale, seed)
    engine = Engine(index)
    rng = random.Random(seed)
    with index.reader() as view:
        users = [view.ext("user", i) for i in view.posting("user", "_live")]
        viewers = [u for u in rng.sample(users, min(2000, len(users))) if len(view.posting("user", f"following:{u}"))]
        names = [t[:2] for u in rng.sample(users, min(2000, len(users)))
                 for t in tokens(view.doc("user", view.iid("user", u))["username"])[:1]]
        popular = rank.top_k(view, "hashtag", view.posting("hashtag", "_live"), 100).tolist()
        hashtags = [view.ext("hashtag", i) for i in popular]
    shapes = {
        "people_2hop": lambda: (f"(and (term name:{rng.choice(names)}) "
                                f"(apply following: (term following:{rng.choice(viewers)})))", "user"),
        "hashtag_by_followees": lambda: (f'(and (term hashtag:"{rng.choice(hashtags)}") '
                                         f"(apply owner: (term following:{rng.choice(viewers)})))", "media"),
        "hashtag_top": lambda: (f'(term hashtag:"{rng.choice(hashtags[:10])}")', "media"),
    }
    report: dict = {"scale": scale, "queries": queries}
    for name, make in shapes.items():
        samples, found = [], 0
        for _ in range(queries):
            query, vertical = make()
            viewer = rng.choice(viewers)
            started = time.perf_counter()
            result = engine.search(vertical, query, viewer, limit=20, timeout_ms=10_000)
            samples.append((time.perf_counter() - started) * 1000)
            found += result.total
        report[name] = percentiles(samples) | {"mean_total": round(found / queries, 1)}
    index.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="M")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    print(run(args.scale, args.data, args.queries))


if __name__ == "__main__":
    main()
