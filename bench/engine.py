"""Query engine scenario: the query classes of bench/workload.py plus every `extract` field, over a
synthetic platform (default scale M: 100k users, ~5M follows, 1M media), p50/p99 per class in-process.

    python3 -m bench.engine [--scale M] [--data DIR] [--queries 300] [--classes people_2hop,extract_owners]

The index is built once into DIR (Slipstream over the generator's snapshot) and reused. Every 20th
query is run once before measuring (caches warm, as in a serving process).
"""

from __future__ import annotations

import itertools
import random
import time
from pathlib import Path

import click

from bench import workload
from bench.timing import percentiles
from bench.workload import Item, quoted
from firehose.sources.generator import SyntheticPlatform
from indexer.store import Index
from slipstream import Slipstream
from unicorn.engine import Engine

BATCH = 20_000
WORKLOAD_CLASSES = ["user_typeahead", "people_2hop", "media_by_followees", "extract_owners", "weak_and", "strong_or"]
EXTRACT_FIELDS = {"extract_hashtags": ("hashtag", "hashtag"), "extract_places": ("place", "place"),
                  "extract_mentions": ("mention", "user")}
CLASSES = WORKLOAD_CLASSES + list(EXTRACT_FIELDS)


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


def make_items(inputs: workload.Inputs, classes: list[str], per_class: int, rng: random.Random) -> list[Item]:
    made = workload.items(inputs, [c for c in classes if c in WORKLOAD_CLASSES], per_class, rng)
    for cls in (c for c in classes if c in EXTRACT_FIELDS):
        field, vertical = EXTRACT_FIELDS[cls]
        for _ in range(per_class):
            query = f"(extract {field}: (term hashtag:{quoted(rng.choice(inputs.hashtags))}))"
            made.append(Item(cls, vertical, query, rng.choice(inputs.viewers), workload.SEARCH_LIMIT, cls))
    return made


def run(scale: str = "M", data: Path | None = None, queries: int = 300, seed: int = 0,
        classes: list[str] | None = None) -> dict:
    data = data or Path(f"/tmp/unicorn-bench-engine-{scale}")
    index = build(data, scale, seed)
    engine = Engine(index)
    rng = random.Random(seed)
    with index.reader() as view:
        inputs = workload.sample_inputs(view, rng)
    items = make_items(inputs, classes or CLASSES, queries, rng)

    def search(item: Item):
        return engine.search(item.vertical, item.query, item.viewer, limit=item.limit, timeout_ms=10_000)

    for item in items[::20]:
        search(item)
    report: dict = {"scale": scale, "queries": queries}
    for cls in dict.fromkeys(item.cls for item in items):
        samples, found = [], 0
        for item in (i for i in items if i.cls == cls):
            started = time.perf_counter()
            result = search(item)
            samples.append((time.perf_counter() - started) * 1000)
            found += result.total
        report[cls] = percentiles(samples) | {"mean_total": round(found / len(samples), 1)}
    index.close()
    return report


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--scale", default="M", show_default=True, help="Generator scale: S, demo, M or L.")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path),
              help="Index directory, reused between runs.  [default: /tmp/unicorn-bench-engine-SCALE]")
@click.option("--queries", default=300, show_default=True, type=click.IntRange(min=1), help="Queries per class.")
@click.option("--classes", help=f"Comma-separated, of {', '.join(CLASSES)}.  [default: all]")
def main(scale: str, data: Path | None, queries: int, classes: str | None) -> None:
    """Query engine scenario: p50/p99 per query class in-process."""
    chosen = classes.split(",") if classes else None
    if chosen and set(chosen) - set(CLASSES):
        raise click.BadParameter(f"unknown {sorted(set(chosen) - set(CLASSES))}", param_hint="--classes")
    report = run(scale, data, queries, classes=chosen)
    click.echo(f"scale {report.pop('scale')}, {report.pop('queries')} queries per class")
    for cls, figures in report.items():
        click.echo(f"  {cls:<20} p50 {figures['p50_ms']:8.3f} ms  p99 {figures['p99_ms']:8.3f} ms  "
              f"mean total {figures['mean_total']:,}")


if __name__ == "__main__":
    main()
