"""Shards scenario: per query class, one index in-process beside the aggregator (unicorn.aggregator) over N
index shards, in-process (unicorn.shard.LocalShard) and as shard server processes over HTTP (api.shard),
for each N; answers compared with the one index's, query by query.

    python -m bench.shards [--scale S] [--shards 1,2,4] [--queries 1000] [--out FILE] [--profile DIR]
    python -m bench.shards --deployment DATA [--queries 1000] [--out FILE]

The platform of the generator at (scale, seed) goes through Slipstream once into one index, and its
per-document changes (slipstream.changes) into the shards of every N, as `unicorn index --shards`
writes them: one changes stream of PARTITIONS partitions, shard s of N owning the partitions p % N == s
(vocabulary.shards). Everything is built under DATA (a fresh temporary directory unless `--data`) and
reused when present. With `--deployment DATA`, nothing is built: the indexes of a sharded deployment
that `unicorn index --shards N` (or `unicorn demo --shards N`) made are measured, its documents stage's
index as the one index (it holds every document and posting) and replica 0 of each shard (the scale-L
run of ARCHITECTURE.md). The workload is the harness's (bench/workload.py: typing sessions for the
typeahead classes, a new viewer per cold session), the same items for every mode; every 20th item (not
a cold session's) runs once before measuring. Per mode: p50/p99 per class, and the aggregator's overhead (its
p50 minus the one index's). For the HTTP mode, the RSS of each shard server after the workload.
`--profile DIR` writes a cProfile of the main thread per mode (the aggregator's own work; its fan-out
threads are not in it).
"""

from __future__ import annotations

import cProfile
import itertools
import json
import pstats
import random
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from bench import workload
from bench.dataset import dataset_stats
from bench.machine import machine, versions
from bench.options import COMMA_INTS
from bench.scenarios import CLASSES, ours
from bench.servers import free_port
from bench.timing import percentiles
from firehose.sources.generator import SyntheticPlatform
from indexer.store import Index
from slipstream import Slipstream
from slipstream.changes import Recorder, apply_changes
from unicorn.aggregator import Aggregator
from unicorn.engine import Engine
from unicorn.shard import LocalShard
from unicorn.shard_http import HttpShard, wait_ready
from vocabulary import paths
from vocabulary.shards import Layout, find_layout

PARTITIONS = 8  # of the changes stream: enough for the largest N measured by default
BATCH = 20_000  # events per index transaction
BUILT = "bench-shards"  # offsets source marking a finished build


def build(data: Path, scale: str, seed: int, counts: tuple[int, ...], partitions: int) -> Path:
    """One index under DATA/one and, for each N, its shards under DATA/N<n> (laid out as `index --shards`
    lays them out); reused when already built."""
    whole_path = data / "one"
    layouts = {n: Layout(n, 1, partitions, "embedded") for n in counts}
    whole = Index(whole_path)
    shards = {n: [Index(layouts[n].index(data / f"N{n}", s)) for s in range(n)] for n in counts}
    try:
        done = [i for i in (whole, *itertools.chain(*shards.values())) if i.offsets(BUILT) != {0: 1}]
        if not done:
            return whole_path
        started = time.perf_counter()
        events = SyntheticPlatform(scale, seed).snapshot()
        while True:
            chunk = list(itertools.islice(events, BATCH))
            with whole.writer() as batch:
                recorder = Recorder(batch)
                slip = Slipstream(recorder)
                for event in chunk:
                    slip.apply(event)
                records = list(recorder.encode(partitions))
                if len(chunk) < BATCH:
                    batch.set_offsets(BUILT, {0: 1})
            for n, parts in shards.items():
                for s, shard in enumerate(parts):
                    mine = set(layouts[n].owned(s))
                    with shard.writer() as batch:
                        for partition, payload in records:
                            if partition in mine:
                                apply_changes(batch, payload)
                        if len(chunk) < BATCH:
                            batch.set_offsets(BUILT, {0: 1})
            if len(chunk) < BATCH:
                break
        print(f"built one index and shards {list(counts)} at scale {scale} in {time.perf_counter() - started:.1f} s",
              flush=True)
        return whole_path
    finally:
        for index in (whole, *itertools.chain(*shards.values())):
            index.close()


def measure(searcher, items: list[workload.Item], expected: dict[int, list[str]] | None,
            profile: Path | None = None) -> tuple[dict, dict[int, list[str]], int]:
    """Per class p50/p99; the answers by item; how many differ from `expected`."""
    for item in items[::20]:
        if item.cls not in workload.COLD_SESSIONS:  # a cold session's viewer stays new to the searcher
            ours(searcher, item)
    samples: dict[str, list[float]] = {}
    answers: dict[int, list[str]] = {}
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    for n, item in enumerate(items):
        answer, ms, _ = ours(searcher, item)  # wall ms: the aggregator's fan-out threads have the CPU
        samples.setdefault(item.cls, []).append(ms)
        answers[n] = answer
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    mismatches = 0 if expected is None else sum(answers[n] != expected[n] for n in answers)
    figures = {cls: percentiles(s) | {"n": len(s)} for cls, s in samples.items()}
    figures["all"] = percentiles(list(itertools.chain(*samples.values()))) | {"n": len(items)}
    return figures, answers, mismatches


class ShardServers:
    """One shard server process (`python -m api.shard_server`) per shard of a layout, ready to answer."""

    def __init__(self, data: Path, layout: Layout) -> None:
        self.processes: list[subprocess.Popen] = []
        self.urls: list[str] = []
        try:
            for s in range(layout.shards):
                port = free_port()
                self.processes.append(subprocess.Popen([sys.executable, "-m", "api.shard_server", "--index",
                                                        str(layout.index(data, s)), "--port", str(port)]))
                self.urls.append(f"http://127.0.0.1:{port}")
            wait_ready(list(zip(self.urls, self.processes)))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))


def run(scale: str, data: Path, counts: tuple[int, ...], queries: int, seed: int = 0,
        classes: list[str] | None = None, modes: tuple[str, ...] = ("local", "http"),
        profile: Path | None = None, log=print, deployment: Path | None = None) -> dict:
    """With `deployment` (the DATA of `unicorn index --shards`), its documents stage's index is the one index
    and its shards (replica 0) the shards: nothing is built, and `scale`, `data` and `counts` are not used."""
    if deployment is not None:
        layout = find_layout(deployment)
        if layout is None:
            raise click.ClickException(f"{deployment} holds no sharded deployment (no shards/layout.json)")
        partitions, whole_path, setups = layout.partitions, paths.index(deployment), [(layout, deployment)]
    else:
        partitions = max(PARTITIONS, *counts)
        whole_path = build(data, scale, seed, counts, partitions)
        setups = [(Layout(n, 1, partitions, "embedded"), data / f"N{n}") for n in counts]
    index = Index(whole_path, readonly=True)
    rng = random.Random(seed)
    chosen = list(classes or CLASSES)
    sessions = -(-queries // len(workload.PREFIX_LENGTHS)) if set(chosen) & set(workload.COLD_SESSIONS) else 0
    with index.reader() as view:
        inputs = workload.sample_inputs(view, rng, fresh=sessions)  # a new viewer per cold session
    documents = dataset_stats(index)
    items = workload.items(inputs, chosen, queries, rng)
    if profile:
        profile.mkdir(parents=True, exist_ok=True)
    report: dict = {"scale": scale, "seed": seed, "queries_per_class": queries, "partitions": partitions,
                    "deployment": deployment and str(deployment), "dataset": documents,
                    "machine": machine(), "versions": versions(), "modes": {}}
    engine = Engine(index)
    engine.warm()
    log(f"one index: {len(items)} queries")
    one, expected, _ = measure(engine, items, None, profile and profile / "one.prof")
    report["modes"]["one"] = one
    index.close()
    for layout, shards_data in setups:
        n = layout.shards
        if "local" in modes:
            shard_indexes = [Index(layout.index(shards_data, s), readonly=True) for s in range(n)]
            engines = [Engine(i) for i in shard_indexes]
            for e in engines:
                e.warm()
            aggregator = Aggregator([[LocalShard(e)] for e in engines], partitions)
            log(f"aggregator over {n} in-process shards")
            try:
                figures, _, mismatches = measure(aggregator, items, expected, profile and profile / f"local{n}.prof")
            finally:
                aggregator.close()
                for i in shard_indexes:
                    i.close()
            report["modes"][f"local{n}"] = figures | {"mismatches": mismatches}
        if "http" in modes:
            servers = ShardServers(shards_data, layout)
            clients = [HttpShard(url) for url in servers.urls]
            aggregator = Aggregator([[client] for client in clients], partitions)
            log(f"aggregator over {n} shard servers (HTTP)")
            try:
                figures, _, mismatches = measure(aggregator, items, expected, profile and profile / f"http{n}.prof")
                shard_rss = [rss(p.pid) for p in servers.processes]
            finally:
                aggregator.close()
                for client in clients:
                    client.close()
                servers.stop()
            report["modes"][f"http{n}"] = figures | {"mismatches": mismatches, "shard_rss_bytes": shard_rss}
    for name, figures in report["modes"].items():
        if name != "one":
            figures["overhead_p50_ms"] = {cls: round(f["p50_ms"] - one[cls]["p50_ms"], 3)
                                          for cls, f in figures.items() if isinstance(f, dict) and cls in one}
    return report


def print_report(report: dict) -> None:
    modes = report["modes"]
    classes = [c for c in modes["one"]]
    where = f"deployment {report['deployment']}" if report["deployment"] else f"scale {report['scale']}"
    click.echo(f"{where}: {report['dataset']}")
    click.echo(f"{report['queries_per_class']} queries per class, "
               f"{report['partitions']} partitions; p50 / p99 ms")
    click.echo(f"  {'class':<19}" + "".join(f"{name:>17}" for name in modes))
    for cls in classes:
        click.echo(f"  {cls:<19}" + "".join(f"{m[cls]['p50_ms']:8.2f} /{m[cls]['p99_ms']:7.2f}" for m in modes.values()))
    for name, m in modes.items():
        if name == "one":
            continue
        extra = f", shard RSS {[round(b / 2**20, 1) for b in m['shard_rss_bytes']]} MiB" if "shard_rss_bytes" in m else ""
        click.echo(f"  {name}: {m['mismatches']} answers differ from one index's{extra}")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--scale", default="S", show_default=True, help="Generator scale: S, demo, M or L.")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path),
              help="Where the index and shards are built, reused between runs.  [default: a temporary directory]")
@click.option("--shards", "counts", default="1,2,4", show_default=True, type=COMMA_INTS, help="Shard counts N.")
@click.option("--queries", default=1000, show_default=True, type=click.IntRange(min=1), help="Queries per class.")
@click.option("--classes", help=f"Comma-separated, of {', '.join(CLASSES)}.  [default: all]")
@click.option("--modes", default="local,http", show_default=True, help="Of local (in-process shards), http.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the report as JSON here.")
@click.option("--profile", type=click.Path(file_okay=False, path_type=Path),
              help="Write a cProfile of each mode's main thread into this directory.")
@click.option("--deployment", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Measure this sharded deployment's indexes instead of building (--scale, --data, --shards unused).")
def main(scale: str, data: Path | None, counts: tuple[int, ...], queries: int, classes: str | None, modes: str,
         seed: int, out: Path | None, profile: Path | None, deployment: Path | None) -> None:
    """One index beside the aggregator over N shards (in-process and over HTTP): p50/p99 per query class."""
    chosen = classes.split(",") if classes else None
    if chosen and set(chosen) - set(CLASSES):
        raise click.BadParameter(f"unknown {sorted(set(chosen) - set(CLASSES))}", param_hint="--classes")
    with tempfile.TemporaryDirectory(prefix="bench-shards-") as tmp:
        report = run(scale, data or Path(tmp), counts, queries, seed, chosen, tuple(modes.split(",")), profile,
                     deployment=deployment)
    report["command"] = f"python -m bench.shards {shlex.join(sys.argv[1:])}"
    print_report(report)
    if profile:
        for prof in sorted(profile.glob("*.prof")):
            click.echo(f"--- {prof.name}")
            pstats.Stats(str(prof)).sort_stats("tottime").print_stats(12)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
