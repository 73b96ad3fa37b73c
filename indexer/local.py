"""The local form of a sharded deployment (`unicorn index --shards N`): the documents stage and
N x R shard indexers as separate processes on this machine, under one supervising process.

Each child is `python -m indexer.local documents|shard ... --supervised` with a pipe on its stdin: when the
pipe closes (the supervisor closed it, or died however it died) the documents stage stops at a
batch boundary and a shard indexer drains what is there and exits, so no child outlives it for
long. With `once`, the supervisor closes the shards' pipes once the documents stage has drained
the firehose and exited, and returns when every shard has caught up. SIGTERM/SIGINT stop every
child (SIGTERM, then SIGKILL after CHILD_STOP_SECONDS), reaped before `run_local` returns.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import click

from firehose.endpoint import DEFAULT_TOPIC
from indexer.batches import stop_on_signals
from indexer.store import Index
from vocabulary import paths
from vocabulary.shards import Layout, LayoutConflict, find_layout, write_layout

CHILD_STOP_SECONDS = 30
POLL_SECONDS = 0.1


class ShardsFailed(RuntimeError):
    """A process of the sharded deployment exited with an error; the others were stopped."""


def lay_out(data: str | Path, layout: Layout) -> None:
    """Record `layout` for `data` (vocabulary.shards.write_layout). LayoutConflict when `data` has another
    layout, or already an unsharded index: its shards would miss every change it applied before."""
    if find_layout(data) is None and Index.exists(paths.index(Path(data))):
        index = Index(paths.index(Path(data)), readonly=True)
        try:
            applied = index.gen > 0
        finally:
            index.close()
        if applied:
            raise LayoutConflict(f"{paths.index(Path(data))} was indexed without shards, and its shards would miss "
                                 "what it applied: shard a fresh --data (or `unicorn rebuild` into one)")
    write_layout(data, layout)


def _child(args: list[str], bootstrap: str | None, topic: str) -> subprocess.Popen:
    kafka = ["--kafka", bootstrap, "--topic", topic] if bootstrap else []
    return subprocess.Popen([sys.executable, "-m", "indexer.local", *args, *kafka, "--supervised"],
                            stdin=subprocess.PIPE)


def _stop(children: dict[str, subprocess.Popen]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + CHILD_STOP_SECONDS
    for child in children.values():
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stdin is not None:
            child.stdin.close()


def run_local(data: str | Path, layout: Layout, *, once: bool = False, bootstrap: str | None = None,
              topic: str = DEFAULT_TOPIC, batch_size: int = 5000, stop: threading.Event | None = None) -> None:
    """Run the documents stage and every shard replica of `layout` until `stop`, SIGTERM or SIGINT,
    or with `once` until every shard has caught up with the drained firehose. Raises ShardsFailed
    when a child fails (after stopping the others)."""
    stop = stop or threading.Event()
    data = str(data)
    children: dict[str, subprocess.Popen] = {}
    finishing = False
    with stop_on_signals(stop):
        try:
            children["documents stage"] = _child(["documents", data, "--batch-size", str(batch_size)]
                                                 + (["--once"] if once else []), bootstrap, topic)
            for shard in range(layout.shards):
                for replica in range(layout.replicas):
                    children[f"shard {shard}.{replica}"] = _child(["shard", data, str(shard), str(replica)],
                                                                  bootstrap, topic)
            while not stop.is_set():
                for name, child in children.items():
                    code = child.poll()
                    if code is None or (code == 0 and (name == "documents stage" and once or finishing)):
                        continue
                    if stop.is_set():  # a terminal's signal reached the child too
                        return
                    raise ShardsFailed(f"the {name} exited with status {code}: stopping the shards")
                if once and not finishing and children["documents stage"].poll() == 0:
                    finishing = True  # the changes stream is complete: shards drain it and exit
                    for name, child in children.items():
                        if name != "documents stage":
                            child.stdin.close()
                if finishing and all(child.poll() == 0 for child in children.values()):
                    return
                time.sleep(POLL_SECONDS)
        finally:
            _stop(children)


def _until_eof(event: threading.Event) -> None:
    """Set `event` once stdin closes (the supervisor's pipe)."""
    def watch() -> None:
        while os.read(0, 4096):  # the raw descriptor: a buffered stdin would block interpreter exit
            pass
        event.set()
    threading.Thread(target=watch, daemon=True).start()


def _layout(data: Path) -> Layout:
    layout = find_layout(data)
    if layout is None:
        raise click.ClickException(f"{data} has no shard layout: run `unicorn index --shards N`")
    return layout


@click.group()
def main() -> None:
    """Processes of the local sharded form (started by `unicorn index --shards`)."""


_kafka = click.option("--kafka", "bootstrap", default=None)
_topic = click.option("--topic", default=DEFAULT_TOPIC)
_supervised = click.option("--supervised", is_flag=True, help="Stdin is the supervisor's pipe: stop (a shard: "
                                                               "drain and exit) once it closes.")


@main.command()
@click.argument("data", type=click.Path(file_okay=False, path_type=Path))
@click.option("--once", is_flag=True)
@click.option("--batch-size", default=5000, type=int)
@_kafka
@_topic
@_supervised
def documents(data: Path, once: bool, batch_size: int, bootstrap: str | None, topic: str, supervised: bool) -> None:
    """The documents stage: firehose -> Slipstream -> DATA/index and the changes stream."""
    from indexer.daemon import run

    stop = threading.Event()
    if supervised:
        _until_eof(stop)
    stats = run(data, once=once, bootstrap=bootstrap, topic=topic, batch_size=batch_size, stop=stop,
                progress=False, partitions=_layout(data).partitions)
    click.echo(f"documents stage: applied {stats.applied} events, dead-lettered {stats.dead_lettered}", err=True)


@main.command()
@click.argument("data", type=click.Path(file_okay=False, path_type=Path))
@click.argument("shard", type=int)
@click.argument("replica", type=int)
@click.option("--once", is_flag=True, help="Drain the shard's partitions, then exit.")
@click.option("--batch-size", default=100, type=int, help="Changes records per commit at most.")
@_kafka
@_topic
@_supervised
def shard(data: Path, shard: int, replica: int, once: bool, batch_size: int, bootstrap: str | None, topic: str,
          supervised: bool) -> None:
    """One replica of one shard: its changes partitions -> its index."""
    from indexer.shard import run_shard

    finish = threading.Event()
    if supervised:
        _until_eof(finish)
    stats = run_shard(data, _layout(data), shard, replica, once=once, bootstrap=bootstrap, topic=topic,
                      batch_size=batch_size, finish=finish)
    click.echo(f"shard {shard}.{replica}: applied {stats.applied} changes records, "
               f"dead-lettered {stats.dead_lettered}", err=True)


if __name__ == "__main__":
    main()
