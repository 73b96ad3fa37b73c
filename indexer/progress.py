"""The `--once` progress display: a rich bar over the lag there was at the start, on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from firehose.transport import Consumer
from indexer.stats import Stats


@contextmanager
def drain_progress(consumer: Consumer, enabled: bool | None = None) -> Iterator[Callable[[Stats], None] | None]:
    """Yields a per-batch callback that advances the bar, or None when there is no display."""
    if not (sys.stderr.isatty() if enabled is None else enabled):
        yield None
        return
    total = sum(consumer.lag().values())
    columns = (TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]:>9,.0f} events/s"),
               TextColumn("dead-lettered {task.fields[dead]}"), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("index", total=total, rate=0.0, dead=0)

        def on_batch(stats: Stats) -> None:
            done = stats.applied + stats.dead_lettered
            bar.update(task, completed=done, total=max(total, done + sum(stats.lag.values())),
                       rate=stats.events_per_s, dead=stats.dead_lettered)

        yield on_batch
