"""`python -m bench.trending`: the trending pipeline against a scenario with planted trends and
decoys (firehose.sources.trends), through the real Slipstream and index, as the indexer runs it.

After every batch the snapshot's top 10 per kind is checked against what was planted, from the
first planted trend on (before it, in the warm-up, the baselines are still being learnt):

- precision@10: of the items shown in a top 10, the share that are planted trends under way (or
  fading: ended less than a recent window ago); summed over batches and kinds;
- recall: planted trends that reached their top 10 before their burst ended;
- delay: event time from a trend's first post to its first appearance in the top 10;
- decoys: decoys that appeared in any top 10;
- throughput: events through the four stages per second, in the indexer's batches of 5,000
  events, each batch one index write transaction that also records the firehose offsets, as
  `unicorn index` commits them. The stream is held as firehose records (msgpack) and each batch
  is decoded just before it, untimed, as the indexer decodes it once for Slipstream and the
  stages: so only one batch of decoded events is alive at a time, as in the indexer (a whole
  decoded stream in memory would make every garbage collection the stages trigger walk it). The
  stages run over a copy of the index Slipstream built from the same events (the firehose read
  and decode, and Slipstream, are the indexer's own work; Slipstream's rate is beside as
  `slipstream_events_per_s`). `PASSES` passes, each on a fresh copy; the median pass is
  reported, by wall clock and by the process's CPU time (which the machine's other load inflates
  less), with every pass beside. The checked pass, one small batch per minute of event time, is
  timed too and reported beside.
"""

from __future__ import annotations

import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import click

from firehose.events import from_msgpack, to_msgpack
from firehose.sources.trends import TrendScenario
from indexer.store import Index
from slipstream import Slipstream
from trending import Pipeline
from trending.scorer import BUCKET_MS, RECENT

TOP = 10
INDEXER_BATCH = 5000  # the indexer's default batch size
PASSES = 3
OFFSETS_SOURCE = "bench"
GOALS = {"precision_at_10": 0.9, "recall": 0.9, "max_delay_minutes": 5.0, "decoys_in_top_10": 0, "events_per_s": 100_000}


def run(scenario: TrendScenario, batch_minutes: float = 1.0, data: Path | None = None) -> dict:
    """Index the scenario with Slipstream (untimed), then run the pipeline over its events, one
    batch (one index transaction) per `batch_minutes` of event time, timed and checked after each.

    The pre-processor so reads each owner as the final index has them, not as of the event; the
    scenario never changes an account's privacy, so that is the same thing (the indexer runs the
    stages after each event's Slipstream apply, tests/test_trending_indexer.py)."""
    records = [to_msgpack(event) for event in scenario.events()]
    first_start = min(p.start for p in scenario.planted)
    fade = RECENT * BUCKET_MS
    decoy_ids = {(d.kind, d.id): d.what for d in scenario.decoys}
    detected: dict[tuple[str, str], int] = {}
    seen_decoys: set[tuple[str, str]] = set()
    shown = relevant = 0
    wall = cpu = 0.0
    with tempfile.TemporaryDirectory(prefix="bench-trending-") as tmp:
        index = Index(Path(data or tmp) / "index")
        slipstream_wall = 0.0
        for events in _batches(records):
            w0 = time.perf_counter()
            with index.writer() as batch:
                slipstream = Slipstream(batch)
                for event in events:
                    slipstream.apply(event)
            slipstream_wall += time.perf_counter() - w0
        passes = []
        for n in range(PASSES):
            index.backup(Path(tmp) / f"copy{n}")
            passes.append(_throughput(Index(Path(tmp) / f"copy{n}"), records))
        pipeline = Pipeline()
        for chunk in _by_event_time(map(from_msgpack, records), int(batch_minutes * 60_000)):
            w0, c0 = time.perf_counter(), time.process_time()
            with index.writer() as batch:
                run_batch = pipeline.begin(batch)
                for event in chunk:
                    run_batch.observe(event)
                snapshots = run_batch.finish()
            wall, cpu = wall + time.perf_counter() - w0, cpu + time.process_time() - c0
            as_of = snapshots["hashtag"]["as_of"]
            if as_of is None or as_of < first_start:
                continue
            live = {(p.kind, p.id): p for p in scenario.planted if p.start <= as_of < p.end + fade}
            for kind, snapshot in snapshots.items():
                for result in snapshot["results"][:TOP]:
                    key = (kind, result["id"])
                    shown += 1
                    if key in live:
                        relevant += 1
                        if key not in detected and as_of < live[key].end:
                            detected[key] = as_of - live[key].start
                    seen_decoys |= {key} & decoy_ids.keys()
        index.close()
    delays = [ms / 60_000 for ms in detected.values()]
    return {
        "events": len(records),
        "stream_minutes": scenario.minutes,
        "planted": len(scenario.planted),
        "precision_at_10": round(relevant / shown, 4) if shown else 0.0,
        "recall": round(len(detected) / len(scenario.planted), 4),
        "median_delay_minutes": round(statistics.median(delays), 2) if delays else None,
        "max_delay_minutes": round(max(delays), 2) if delays else None,
        "decoys_in_top_10": len(seen_decoys),
        "decoys_seen": sorted(decoy_ids[d] for d in seen_decoys),
        "events_per_s": statistics.median(wall for wall, _ in passes),
        "events_per_cpu_s": statistics.median(cpu for _, cpu in passes),
        "passes_events_per_s": [wall for wall, _ in passes],
        "passes_events_per_cpu_s": [cpu for _, cpu in passes],
        "slipstream_events_per_s": round(len(records) / slipstream_wall),
        "batch_minutes": batch_minutes,
        "per_minute_batches_events_per_s": round(len(records) / wall),
        "per_minute_batches_events_per_cpu_s": round(len(records) / cpu),
        "machine_loop_ns": _loop_ns(),
    }


def _loop_ns() -> float:
    """CPU ns per iteration of a plain dict-lookup loop, to scale the throughput between machines
    (lower on a faster or less loaded machine)."""
    table = {i: i for i in range(1000)}
    started = time.process_time()
    for i in range(1_000_000):
        table.get(i % 1000)
    return round((time.process_time() - started) * 1000, 1)


def _batches(records: list[bytes]) -> Iterator[list[dict]]:
    """The records decoded, INDEXER_BATCH at a time."""
    for lo in range(0, len(records), INDEXER_BATCH):
        yield [from_msgpack(record) for record in records[lo:lo + INDEXER_BATCH]]


def _throughput(index: Index, records: list[bytes]) -> tuple[int, int]:
    """Events per second (wall, CPU) through the stages in batches of INDEXER_BATCH events, as
    `unicorn index` batches a backlog: each batch one transaction with its offsets."""
    pipeline = Pipeline()
    wall = cpu = 0.0
    done = 0
    for events in _batches(records):
        w0, c0 = time.perf_counter(), time.process_time()
        with index.writer() as batch:
            run = pipeline.begin(batch)
            for event in events:
                run.observe(event)
            run.finish()
            done += len(events)
            batch.set_offsets(OFFSETS_SOURCE, {0: done})
        wall, cpu = wall + time.perf_counter() - w0, cpu + time.process_time() - c0
    index.close()
    return round(len(records) / wall), round(len(records) / cpu)


def _by_event_time(events: Iterable[dict], span_ms: int) -> Iterator[list[dict]]:
    """Consecutive runs of events whose `ts` fall in the same `span_ms` slot."""
    chunk: list[dict] = []
    slot = None
    for event in events:
        here = event["ts"] // span_ms
        if chunk and here != slot:
            yield chunk
            chunk = []
        slot = here
        chunk.append(event)
    if chunk:
        yield chunk


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--seed", default=0, show_default=True)
@click.option("--users", default=4000, show_default=True, type=click.IntRange(min=1))
@click.option("--media-per-minute", default=200, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-minutes", default=1.0, show_default=True, help="Event time per index batch.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the report (JSON) to this file.")
def main(seed: int, users: int, media_per_minute: int, batch_minutes: float, out: Path | None) -> None:
    """The trending pipeline against planted trends and decoys: precision, recall, delay, throughput."""
    report = run(TrendScenario(seed=seed, users=users, media_per_minute=media_per_minute), batch_minutes)
    report["goals"] = GOALS
    report["command"] = "python -m bench.trending " + shlex.join(sys.argv[1:])
    report["load_average"] = os.getloadavg()
    text = json.dumps(report, indent=2)
    click.echo(text)
    if out is not None:
        out.write_text(text + "\n")


if __name__ == "__main__":
    main()
