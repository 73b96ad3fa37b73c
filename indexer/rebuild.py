"""Build the whole index from one consistent PostgreSQL snapshot, then tail the firehose from there.

1. Block platform writes (their advisory lock), open a REPEATABLE READ snapshot and note the
   last outbox id X in it; relay the outbox up to X into the firehose and note the firehose's
   end offsets O; let writes go on. The firehose then holds exactly the events up to X before O.
2. Read the snapshot's tables back as the events that create their rows
   (`firehose.sources.postgres.TABLES`: entities, then the edges between them), at time `NEVER`,
   and apply them through Slipstream, the indexer's own write path, `BATCH` events per write batch,
   into a fresh index beside DATA/index. The last batch commits the offsets O.
3. Move the finished index into DATA/index: the indexer continues from exactly the snapshot, and
   nothing ever sees half a rebuild.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import psycopg
from rich.progress import Progress

from firehose.events import Event
from firehose.log import EmbeddedLog
from firehose.sources.postgres import PLATFORM_LOCK, TABLES
from firehose.sources.relay import OutboxRelay
from indexer.store import Index
from slipstream import Slipstream
from slipstream.apply import NEVER
from vocabulary import paths

SOURCE = "embedded"
BATCH = 100_000  # events per write batch
FETCH = 10_000  # rows per round trip of the snapshot's server-side cursors
DATA_FILE = "data.mdb"  # the LMDB environment's one data file


def _snapshot(dsn: str, log: EmbeddedLog) -> tuple[psycopg.Connection, dict[int, int]]:
    """A connection inside the snapshot transaction, and the firehose offsets that match it."""
    snapshot = psycopg.connect(dsn)
    with psycopg.connect(dsn, autocommit=True) as gate:
        gate.execute("SELECT pg_advisory_lock(%s)", (PLATFORM_LOCK,))
        try:
            snapshot.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            last = snapshot.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0]
            with log.producer() as producer, OutboxRelay(dsn, producer) as relay:
                relay.drain(until=last)
            offsets = log.end_offsets()
        finally:
            gate.execute("SELECT pg_advisory_unlock(%s)", (PLATFORM_LOCK,))
    return snapshot, offsets


def snapshot_events(conn: psycopg.Connection, bar: Progress) -> Iterator[Event]:
    """Every row of the snapshot as the event that creates it, table by table in `TABLES` order."""
    for table in TABLES:
        task = bar.add_task(table.name, total=None)
        with conn.cursor(name=f"rebuild_{table.name}") as cursor:
            cursor.itersize = FETCH
            cursor.execute(table.select_sql)
            for n, row in enumerate(cursor, 1):
                yield table.event(row, NEVER)
                if n % FETCH == 0:
                    bar.advance(task, FETCH)
            bar.update(task, completed=cursor.rownumber)


def _holds_index(path: Path) -> bool:
    if not (path / DATA_FILE).exists():
        return False
    index = Index(path, readonly=True)
    try:
        return index.gen > 0
    finally:
        index.close()


def rebuild(dsn: str, data_dir: str | Path, *, progress: bool = True, batch_events: int = BATCH) -> dict[int, int]:
    """Builds DATA/index from the PostgreSQL platform at `dsn`; returns the firehose offsets it starts from."""
    data = Path(data_dir)
    target = paths.index(data)
    if _holds_index(target):
        raise ValueError(f"{target} already holds an index; rebuild into an empty data directory")
    building = data / "index.rebuilding"
    shutil.rmtree(building, ignore_errors=True)
    conn, offsets = _snapshot(dsn, EmbeddedLog(paths.firehose(data)))
    index = Index(building)
    try:
        with conn, Progress(disable=not progress) as bar:
            events = snapshot_events(conn, bar)
            applied = batch_events
            while applied == batch_events:
                with index.writer() as batch:
                    slipstream = Slipstream(batch)
                    applied = 0
                    for event in islice(events, batch_events):
                        slipstream.apply(event)
                        applied += 1
                    if applied < batch_events:
                        batch.set_offsets(SOURCE, offsets)
        index.close()
        target.mkdir(parents=True, exist_ok=True)
        os.replace(building / DATA_FILE, target / DATA_FILE)
    finally:
        index.close()
        shutil.rmtree(building, ignore_errors=True)
    return offsets
