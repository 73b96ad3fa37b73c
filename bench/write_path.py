"""Write-path benchmark: CPU time per stage of ingest, in-process, on one firehose backlog.

`python -m bench.write_path [--scale S] [--shards 3] [--profile DIR]` prints, per stage, CPU seconds
(process time, so a loaded machine does not blur it), events per CPU-second and per wall-second:

- decode: `firehose.events.from_msgpack` over every record of the firehose;
- documents stage (`indexer.daemon.Indexer`), unsharded, then with the changes stream of P
  partitions: decode, Slipstream apply (with the Recorder when sharded), trending observe and
  finish, the outbox (Recorder.encode and the outbox's puts), commit (the LMDB write), send;
- shard apply: each shard indexer (`indexer.shard.ShardIndexer`) over its partitions, in turn.

With `--profile DIR`, each documents-stage run and the shard runs are also profiled (cProfile: a
.prof file, and the top functions by own and by cumulative time as text); the timings of a
profiled run are the profiler's, not the figures.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import click

from firehose.endpoint import Endpoint
from firehose.events import from_msgpack
from firehose.log import EmbeddedLog
from firehose.sources.generator import generate
from indexer.changes import SOURCE, ChangesStream
from indexer.daemon import Indexer
from indexer.shard import ShardIndexer
from indexer.store import Index
from vocabulary import paths
from vocabulary.shards import Layout, write_layout

FIREHOSE_PARTITIONS = 1
cpu = time.process_time


class Timers:
    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, stage: str):
        started = cpu()
        try:
            yield
        finally:
            self.cpu[stage] += cpu() - started


class TimedIndexer(Indexer):
    """The documents stage with a CPU timer around each of its stages."""

    def __init__(self, *args, timers: Timers, **kwargs) -> None:
        self.timers = timers
        super().__init__(*args, **kwargs)

    def _begin(self, batch) -> None:
        super()._begin(batch)
        commit, timers = batch.commit, self.timers

        def timed_commit() -> None:
            with timers("commit"):
                commit()
        batch.commit = timed_commit

    def _record(self, payload: bytes) -> None:
        started = cpu()
        event = from_msgpack(payload)
        decoded = cpu()
        self._slipstream.apply(event)
        applied = cpu()
        self._trending.observe(event)
        observed = cpu()
        timers = self.timers.cpu
        timers["decode"] += decoded - started
        timers["slipstream"] += applied - decoded
        timers["trending observe"] += observed - applied

    def _finish(self, batch) -> None:
        with self.timers("trending finish"):
            self._trending.finish()
        if self.outbox is not None:
            with self.timers("outbox (encode + puts)"):
                self.outbox.stage(batch, self._recorder)

    def _published(self) -> None:
        with self.timers("send"):
            super()._published()


@contextmanager
def profiled(path: Path | None):
    if path is None:
        yield
        return
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(path.with_suffix(".prof"))
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(40)
            path.with_name(f"{path.name}.{order}.txt").write_text(out.getvalue())


def _line(name: str, seconds: float, events: int, wall: float | None = None) -> None:
    rate = events / seconds if seconds else float("inf")
    walls = f"   {events / wall:>9,.0f} events/wall-s" if wall else ""
    click.echo(f"  {name:<26} {seconds:>8.2f} CPU-s  {rate:>10,.0f} events/CPU-s{walls}")


def documents(data: Path, partitions: int | None, batch_size: int, profile: Path | None) -> dict:
    firehose = Endpoint(data)
    consumer, dead_letters = firehose.consumer(), firehose.dead_letters()
    index = Index(paths.index(data))
    changes = ChangesStream(data, partitions).producer() if partitions else None
    timers = Timers()
    try:
        stage = TimedIndexer(index, consumer, dead_letters, firehose.source, batch_size, 0.05, changes,
                             timers=timers)
        started_cpu, started = cpu(), time.perf_counter()
        with profiled(profile):
            stage.drain(threading.Event())
            stage.close()
        total_cpu, wall = cpu() - started_cpu, time.perf_counter() - started
        sent = stage.outbox.sent_bytes if stage.outbox is not None else 0
        events = stage.stats.applied
    finally:
        if changes is not None:
            changes.close()
        consumer.close()
        dead_letters.close()
        index.close()
    title = f"documents stage, changes in {partitions} partitions" if partitions else "documents stage, unsharded"
    click.echo(f"{title}: {events:,} events")
    _line("total", total_cpu, events, wall)
    for name, seconds in timers.cpu.items():
        _line(name, seconds, events)
    _line("rest (loop, reads, offsets)", total_cpu - sum(timers.cpu.values()), events)
    if partitions:
        click.echo(f"  changes: {sent:,} bytes, {sent / max(events, 1):.0f} bytes per event")
    return {"events": events, "cpu_s": total_cpu, "wall_s": wall, "stages": dict(timers.cpu), "change_bytes": sent}


def shards(data: Path, layout: Layout, events: int, batch_size: int, profile: Path | None) -> dict:
    firehose = Endpoint(data)
    figures = {}
    total = 0.0
    with profiled(profile):
        for shard in range(layout.shards):
            consumer = ChangesStream(data, layout.partitions).consumer()
            dead_letters = firehose.dead_letters()
            index = Index(layout.index(data, shard))
            try:
                started_cpu, started = cpu(), time.perf_counter()
                stage = ShardIndexer(index, consumer, dead_letters, SOURCE, batch_size, 0.05,
                                     partitions=layout.owned(shard))
                stage.drain(threading.Event())
                seconds, wall = cpu() - started_cpu, time.perf_counter() - started
            finally:
                consumer.close()
                dead_letters.close()
                index.close()
            figures[shard] = {"cpu_s": seconds, "wall_s": wall, "records": stage.stats.applied}
            total += seconds
    click.echo(f"shard apply, {layout.shards} shards over {layout.partitions} partitions "
               f"(events: the documents stage's, per shard and in all)")
    for shard, figure in figures.items():
        _line(f"shard {shard} ({figure['records']} records)", figure["cpu_s"], events, figure["wall_s"])
    _line("all shards", total, events)
    return {"shards": figures, "cpu_s": total}


def decode(data: Path) -> dict:
    log = EmbeddedLog(paths.firehose(data))
    consumer = log.consumer()
    consumer.assign({p: 0 for p in range(consumer.partitions)})
    payloads = []
    while batch := consumer.poll(100_000, 0):
        payloads += [record.payload for record in batch]
    consumer.close()
    started = cpu()
    for payload in payloads:
        from_msgpack(payload)
    seconds = cpu() - started
    click.echo(f"decode alone: {len(payloads):,} records")
    _line("from_msgpack", seconds, len(payloads))
    return {"events": len(payloads), "cpu_s": seconds}


def run(scale: str = "S", seed: int = 1, shard_count: int = 3, partitions: int | None = None,
        batch_size: int = 5000, shard_batch_size: int = 100, profile: Path | None = None) -> dict:
    partitions = partitions or shard_count
    results: dict = {"scale": scale}
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="unicorn-bench-write-") as tmp:
        with (EmbeddedLog(paths.firehose(Path(tmp) / "one"), FIREHOSE_PARTITIONS).producer() as one,
              EmbeddedLog(paths.firehose(Path(tmp) / "sharded"), FIREHOSE_PARTITIONS).producer() as sharded):
            for event in generate(scale, seed):  # streamed: no event list in memory while stages run
                one.send(event)
                sharded.send(event)
        results["decode"] = decode(Path(tmp) / "one")
        results["unsharded"] = documents(Path(tmp) / "one", None, batch_size,
                                         profile and profile / "documents-unsharded")
        data = Path(tmp) / "sharded"
        layout = Layout(shard_count, 1, partitions, "embedded")
        write_layout(data, layout)
        results["sharded"] = documents(data, partitions, batch_size, profile and profile / "documents-sharded")
        results["shards"] = shards(data, layout, results["sharded"]["events"], shard_batch_size,
                                   profile and profile / "shards")
    return results


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--scale", default="S", show_default=True, help="Generator scale: S, demo, M or L.")
@click.option("--seed", default=1, show_default=True)
@click.option("--shards", "shard_count", default=3, show_default=True)
@click.option("--partitions", type=int, help="Changes partitions.  [default: --shards]")
@click.option("--batch-size", default=5000, show_default=True, help="Firehose records per documents-stage batch.")
@click.option("--shard-batch-size", default=100, show_default=True, help="Changes records per shard batch.")
@click.option("--profile", type=click.Path(file_okay=False, path_type=Path),
              help="Write pyinstrument profiles of each run into this directory.")
def main(scale: str, seed: int, shard_count: int, partitions: int | None, batch_size: int, shard_batch_size: int,
         profile: Path | None) -> None:
    """CPU time per stage of the write path: decode, documents stage, outbox, commit, shard apply."""
    run(scale, seed, shard_count, partitions, batch_size, shard_batch_size, profile)


if __name__ == "__main__":
    main()
