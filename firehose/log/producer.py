"""Appending to the embedded log.

Writers buffer in memory and, on `flush`, append under an exclusive `flock` on `DIR/LOCK` and
fsync, so several writer processes can share a log. A flush is all or nothing: its records are
written with the first one's CRC inverted, fsynced, and only then made valid by rewriting that
CRC in place; a flush that fails (a full disk) truncates what it wrote, which no reader has
seen. Any invalid tail a writer finds under the lock is what a crashed writer left behind: it is
truncated.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from firehose.log import segments
from firehose.log.records import LogError, count, encode
from firehose.log.segments import LogDirectory, Tail, fsync_dir, segment_name
from firehose.transport import Producer

FLUSH_BYTES = 4 << 20
LOCK_FILE = "LOCK"


class LogProducer(Producer):
    def __init__(self, log: LogDirectory):
        self.log = log
        self.partitions = log.partitions
        self._pending: dict[int, list[bytes]] = {}
        self._pending_bytes = 0
        self._tails = [Tail() for _ in range(log.partitions)]

    def send_raw(self, partition: int, key: bytes, payload: bytes) -> None:
        if not 0 <= partition < self.partitions:
            raise LogError(f"partition {partition} out of range 0..{self.partitions - 1}")
        record = encode(payload)
        self._pending.setdefault(partition, []).append(record)
        self._pending_bytes += len(record)
        if self._pending_bytes >= FLUSH_BYTES:
            self.flush()

    @property
    def pending_bytes(self) -> int:
        """Bytes buffered and not yet flushed."""
        return self._pending_bytes

    def flush(self) -> None:
        """Append everything buffered and fsync it; then it survives any crash.

        All or nothing: when it raises (OSError: a full disk), no reader sees any of it.
        """
        if not self._pending:
            return
        with open(self.log.path / LOCK_FILE, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            hidden: list[_Hidden] = []
            try:
                for partition, records in sorted(self._pending.items()):
                    hidden.append(self._write_hidden(partition, b"".join(records)))
            except BaseException:
                for chunk in hidden:
                    chunk.undo()
                raise
            for chunk in hidden:
                chunk.reveal()
                tail = self._tails[chunk.partition]
                tail.size += chunk.size
                tail.count += chunk.count
        self._pending.clear()
        self._pending_bytes = 0

    def _write_hidden(self, partition: int, data: bytes) -> _Hidden:
        """Write `data` at the partition's end with its first CRC inverted, so readers stop before it."""
        directory = self.log.partition_dir(partition)
        tail = self._tails[partition]
        tail.refresh(directory)
        if tail.start >= 0:
            last = directory / segment_name(tail.start)
            if last.stat().st_size > tail.size:
                os.truncate(last, tail.size)  # a crashed writer's torn tail
        created = tail.start < 0 or tail.size >= segments.SEGMENT_BYTES
        if created:
            tail.start, tail.size, tail.count = tail.end, 0, 0
        chunk = _Hidden(partition, directory / segment_name(tail.start), tail.size, len(data), count(data),
                        bytes(data[4:8]), created)
        hidden = bytearray(data[:8])
        hidden[4:8] = bytes(b ^ 0xFF for b in hidden[4:8])
        fd = os.open(chunk.path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.lseek(fd, tail.size, os.SEEK_SET)
            view = memoryview(bytes(hidden) + data[8:])
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            if created:
                fsync_dir(directory)
        except BaseException:
            chunk.undo()
            raise
        finally:
            os.close(fd)
        return chunk

    def close(self) -> None:
        self.flush()


@dataclass
class _Hidden:
    """Records written past a partition's valid end, invisible until `reveal`."""

    partition: int
    path: Path
    start: int  # file position of the first record
    size: int
    count: int
    crc: bytes  # the first record's true CRC
    created: bool  # the segment file was created for it

    def reveal(self) -> None:
        fd = os.open(self.path, os.O_WRONLY)
        try:
            os.pwrite(fd, self.crc, self.start + 4)  # overwrites allocated bytes: needs no free space
            os.fsync(fd)
        finally:
            os.close(fd)

    def undo(self) -> None:
        if self.created:
            self.path.unlink(missing_ok=True)
            fsync_dir(self.path.parent)
        else:
            os.truncate(self.path, self.start)
