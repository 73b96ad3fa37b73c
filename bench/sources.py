"""Data-source figures: generator events/s, COPY load, relay events/s, rebuild time (goal at M: <= 60 s).

`python -m bench.sources [--scale M]` starts an embedded PostgreSQL (bench.servers), prints the
figures and returns them as a dict from `run`.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import click

from firehose.endpoint import Endpoint
from firehose.sources.generator import SyntheticPlatform
from firehose.sources.postgres import PlatformDB
from firehose.sources.relay import OutboxRelay
from indexer.rebuild import rebuild


def run(dsn: str, scale: str, work: Path) -> dict[str, float]:
    figures: dict[str, float] = {}
    start = time.perf_counter()
    events = sum(1 for _ in SyntheticPlatform(scale, 1).events())
    figures["generator_events_per_s"] = events / (time.perf_counter() - start)
    start = time.perf_counter()
    with PlatformDB(dsn) as db:
        loaded = db.bulk_load(SyntheticPlatform(scale, 1).snapshot())
    figures["bulk_load_events_per_s"] = loaded / (time.perf_counter() - start)
    start = time.perf_counter()
    with Endpoint(work / "relay").producer() as producer, OutboxRelay(dsn, producer) as relay:
        relayed = relay.drain()
    figures["relay_events_per_s"] = relayed / (time.perf_counter() - start)
    start = time.perf_counter()
    rebuild(dsn, work / "data", progress=False)
    figures["rebuild_s"] = time.perf_counter() - start
    for name, value in figures.items():
        click.echo(f"{scale:>4} {name:<24} {value:>14,.1f}")
    return figures


@click.command()
@click.option("--scale", default="demo", show_default=True, help="S, demo, M or L.")
def main(scale: str) -> None:
    """Print generator, bulk load, relay and rebuild figures at SCALE."""
    from bench.servers import Postgres

    root = Path(tempfile.mkdtemp(prefix="unicorn-bench-"))
    server = Postgres(root / "pg")
    try:
        server.start()
        run(server.create_database("platform"), scale, root)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
