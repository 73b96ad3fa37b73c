"""One interface over the two firehose transports (embedded log, Kafka).

A record's partition is `partition_for(key, partitions)`: crc32 of the 8-byte big-endian
docs/events.md key, modulo the number of partitions, the same for both transports. Offsets are
record indices within a partition; a consumer position is the next offset to read.
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from typing import NamedTuple

from firehose.events import Event, partition_key, to_msgpack

DEFAULT_PARTITIONS = 8


def key_bytes(key: int) -> bytes:
    return key.to_bytes(8, "big")


def partition_for(key: int, partitions: int) -> int:
    """The partition of a docs/events.md key: stable across processes, machines and transports."""
    return zlib.crc32(key_bytes(key)) % partitions


class Record(NamedTuple):
    """One record of a partition (a tuple: made for every record a consumer reads)."""

    partition: int
    offset: int
    payload: bytes


class Producer(ABC):
    """Appends payloads to partitions; `flush` makes everything sent so far durable."""

    partitions: int

    def send(self, event: Event) -> int:
        """Send one canonical event (msgpack, keyed per docs/events.md); returns its partition."""
        key = partition_key(event)
        partition = partition_for(key, self.partitions)
        self.send_raw(partition, key_bytes(key), to_msgpack(event))
        return partition

    @abstractmethod
    def send_raw(self, partition: int, key: bytes, payload: bytes) -> None:
        """Append an already encoded payload (also used to inject bytes that are not events)."""

    @abstractmethod
    def flush(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Consumer(ABC):
    """Reads assigned partitions from explicit positions; never commits anything itself."""

    partitions: int

    @abstractmethod
    def assign(self, positions: dict[int, int]) -> None:
        """Read exactly these partitions, each from the given next offset."""

    @abstractmethod
    def poll(self, max_records: int, timeout: float) -> list[Record]:
        """Up to `max_records` records, in offset order per partition; waits up to `timeout` s for the first."""

    @abstractmethod
    def positions(self) -> dict[int, int]:
        """Next offset to read per assigned partition."""

    @abstractmethod
    def end_offsets(self) -> dict[int, int]:
        """Offset after the last record per assigned partition (lag = end - position)."""

    @abstractmethod
    def at_end(self) -> bool:
        """True once every assigned partition has been read to its end."""

    @abstractmethod
    def close(self) -> None: ...

    def lag(self) -> dict[int, int]:
        positions = self.positions()
        return {p: max(0, end - positions[p]) for p, end in self.end_offsets().items()}

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
