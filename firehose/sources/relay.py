"""The outbox relay: PostgreSQL `outbox` rows, in id order, to a firehose producer, at least once.

Each batch runs in one transaction holding the relay's `relay_position` row lock: read the
rows after the stored position, publish them, `flush` (durable), then store the new
position and commit. A crash after the flush re-publishes the batch, never skips it; applying
an event again changes nothing (docs/events.md). Two relays of the same name never interleave.
`python -m firehose.sources.relay DSN LOG_DIR` relays into an embedded log.
"""

from __future__ import annotations

import threading

import click
import msgpack
import orjson
import psycopg

from firehose.events import EventError, validate
from firehose.transport import Producer

BATCH = 10_000


def publish(producer: Producer, raw: bytes) -> None:
    """One outbox event to the firehose; one that is not a docs/events.md event goes to partition 0 for the indexer to dead-letter."""
    obj = orjson.loads(raw)
    try:
        producer.send(validate(obj))
    except EventError:
        producer.send_raw(0, b"", msgpack.packb(obj, use_bin_type=True))


class OutboxRelay:
    def __init__(self, dsn: str, producer: Producer, *, name: str = "firehose", batch: int = BATCH) -> None:
        self.dsn, self.producer, self.name, self.batch = dsn, producer, name, batch
        self.conn = psycopg.connect(dsn, autocommit=True)
        with self.conn.transaction():
            self.conn.execute("INSERT INTO relay_position VALUES (%s, 0) ON CONFLICT DO NOTHING", (name,))

    def position(self) -> int:
        """The last outbox id known durable in the firehose."""
        with self.conn.transaction():
            return self.conn.execute("SELECT outbox_id FROM relay_position WHERE name = %s", (self.name,)).fetchone()[0]

    def step(self, until: int | None = None) -> int:
        """Relays one batch (ids up to `until` if given); returns how many rows it published."""
        with self.conn.transaction():
            position = self.conn.execute("SELECT outbox_id FROM relay_position WHERE name = %s FOR UPDATE",
                                         (self.name,)).fetchone()[0]
            rows = self.conn.execute(
                "SELECT id, event::text FROM outbox WHERE id > %s AND id <= %s ORDER BY id LIMIT %s",
                (position, until if until is not None else 2**63 - 1, self.batch)).fetchall()
            if not rows:
                return 0
            for _, raw in rows:
                publish(self.producer, raw)
            self.producer.flush()
            self.conn.execute("UPDATE relay_position SET outbox_id = %s WHERE name = %s", (rows[-1][0], self.name))
        return len(rows)

    def drain(self, until: int | None = None) -> int:
        """Relays everything committed now (or up to `until`); returns how many rows it published."""
        total = 0
        while published := self.step(until):
            total += published
        return total

    def run(self, stop: threading.Event, idle: float = 0.1) -> None:
        """Relays until `stop` is set, polling every `idle` seconds when caught up."""
        while not stop.is_set():
            if not self.step():
                stop.wait(idle)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> OutboxRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@click.command()
@click.argument("dsn")
@click.argument("log_dir", type=click.Path(file_okay=False))
@click.option("--once", is_flag=True, help="Relay what is committed now, then exit.")
@click.option("--batch", default=BATCH, show_default=True, help="Rows per published, flushed batch.")
def main(dsn: str, log_dir: str, once: bool, batch: int) -> None:
    """Relay the PostgreSQL outbox at DSN into the embedded firehose log in LOG_DIR."""
    from firehose.log import EmbeddedLog

    with EmbeddedLog(log_dir).producer() as producer, OutboxRelay(dsn, producer, batch=batch) as relay:
        if once:
            click.echo(f"relayed {relay.drain()} events, position {relay.position()}")
        else:
            relay.run(threading.Event())


if __name__ == "__main__":
    main()
