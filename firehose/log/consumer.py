"""Reading the embedded log. Readers take no lock and stop before an incomplete or invalid record,
which is either being written or about to be truncated by the next writer."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from firehose.log.records import LogError, parse
from firehose.log.segments import CHUNK, LogDirectory, segment_name, segments
from firehose.transport import Consumer, Record

POLL_INTERVAL = 0.002


@dataclass
class _Cursor:
    """Sequential buffered reader of one partition from `offset`."""

    directory: Path
    offset: int
    segment: int = -1
    file: object = None
    base: int = 0  # file position of buf[0]
    buf: bytes = b""
    pos: int = 0

    def seek(self) -> None:
        starts = [s for s in segments(self.directory) if s <= self.offset]
        if not starts:
            if self.offset != 0:
                raise LogError(f"{self.directory}: offset {self.offset} is beyond the end of the log")
            return
        self._open(starts[-1])
        skip = self.offset - self.segment
        self.offset = self.segment
        while skip:
            got = self.read(min(skip, 65536))
            if not got:
                raise LogError(f"{self.directory}: offset {self.offset + skip} is beyond the end of the log")
            skip -= len(got)

    def _open(self, start: int) -> None:
        self.close()
        self.file = open(self.directory / segment_name(start), "rb", buffering=0)
        self.segment, self.base, self.buf, self.pos = start, 0, b"", 0

    def read(self, limit: int) -> list[bytes]:
        if self.file is None:
            if not (self.directory / segment_name(self.offset)).exists():
                return []
            self._open(self.offset)
        out: list[bytes] = []
        while len(out) < limit:
            records, self.pos, bad = parse(self.buf, self.pos, limit - len(out))
            out.extend(records)
            self.offset += len(records)
            if len(out) >= limit:
                break
            chunk = b"" if bad else self.file.read(CHUNK)
            if chunk:
                self.base += self.pos
                self.buf = self.buf[self.pos :] + chunk
                self.pos = 0
                continue
            # Nothing complete left in this segment: rewind to the partial record, then
            # move on only if the writer has already started the next segment.
            self.file.seek(self.base + self.pos)
            self.base, self.buf, self.pos = self.base + self.pos, b"", 0
            if bad or self.offset == self.segment or not (self.directory / segment_name(self.offset)).exists():
                break
            self._open(self.offset)
        return out

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class LogConsumer(Consumer):
    def __init__(self, log: LogDirectory):
        self.log = log
        self.partitions = log.partitions
        self._cursors: dict[int, _Cursor] = {}
        self._next = 0

    def assign(self, positions: dict[int, int]) -> None:
        self._close_cursors()
        for partition, offset in sorted(positions.items()):
            if not 0 <= partition < self.partitions:
                raise LogError(f"partition {partition} out of range 0..{self.partitions - 1}")
            cursor = _Cursor(self.log.partition_dir(partition), offset)
            cursor.seek()
            self._cursors[partition] = cursor

    def poll(self, max_records: int, timeout: float) -> list[Record]:
        deadline = time.monotonic() + timeout
        while True:
            records = self._read(max_records)
            if records or time.monotonic() >= deadline:
                return records
            time.sleep(POLL_INTERVAL)

    def _read(self, max_records: int) -> list[Record]:
        order = sorted(self._cursors)
        if not order:
            return []
        self._next = (self._next + 1) % len(order)
        order = order[self._next :] + order[: self._next]
        share = max(1, max_records // len(order))
        out: list[Record] = []
        for cap in (share, max_records):  # a fair share each first, then fill up
            for partition in order:
                if len(out) >= max_records:
                    return out
                cursor = self._cursors[partition]
                first = cursor.offset
                got = cursor.read(min(cap, max_records - len(out)))
                out.extend(Record(partition, first + i, payload) for i, payload in enumerate(got))
        return out

    def positions(self) -> dict[int, int]:
        return {p: c.offset for p, c in self._cursors.items()}

    def end_offsets(self) -> dict[int, int]:
        ends = self.log.end_offsets()
        return {p: ends[p] for p in self._cursors}

    def at_end(self) -> bool:
        ends = self.end_offsets()
        return all(c.offset >= ends[p] for p, c in self._cursors.items())

    def _close_cursors(self) -> None:
        for cursor in self._cursors.values():
            cursor.close()
        self._cursors.clear()

    def close(self) -> None:
        self._close_cursors()
