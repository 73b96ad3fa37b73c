"""The embedded firehose: a durable partitioned log in a directory, no server.

Layout: `DIR/partitions` (the partition count), `DIR/LOCK`, and per partition `DIR/NN/`
holding append-only segments named by the offset of their first record
(`00000000000000000000.seg`). A record is `<u32 length><u32 crc32(length + payload)>payload`.

Writers buffer in memory and, on `flush`, append under an exclusive `flock` and fsync, so
several writer processes can share a log. A flush is all or nothing: its records are written
with the first one's CRC inverted, fsynced, and only then made valid by rewriting that CRC in
place; a flush that fails (a full disk) truncates what it wrote, which no reader has seen.
Any invalid tail a writer finds under the lock is what a crashed writer left behind: it is
truncated. Readers take no lock and stop before an incomplete or invalid record, which is
either being written or about to be truncated.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from firehose.transport import Consumer, Producer, Record

HEADER = struct.Struct("<II")
MAX_RECORD = 16 << 20
SEGMENT_BYTES = 64 << 20
FLUSH_BYTES = 4 << 20
CHUNK = 1 << 20
POLL_INTERVAL = 0.002
EMBEDDED_PARTITIONS = 1


class LogError(RuntimeError):
    """The log on disk does not match what was asked of it."""


def _crc(header_len: bytes, payload: bytes | memoryview) -> int:
    return zlib.crc32(payload, zlib.crc32(header_len))


def encode(payload: bytes) -> bytes:
    if len(payload) > MAX_RECORD:
        raise LogError(f"record of {len(payload)} bytes exceeds the {MAX_RECORD}-byte limit")
    length = len(payload).to_bytes(4, "little")
    return length + _crc(length, payload).to_bytes(4, "little") + payload


def _parse(buf: bytes, pos: int, limit: int | None = None) -> tuple[list[bytes], int, bool]:
    """Complete valid records of `buf` from `pos`: (payloads, end position, stopped on a bad record)."""
    out: list[bytes] = []
    size = len(buf)
    unpack = HEADER.unpack_from
    while limit is None or len(out) < limit:
        if size - pos < 8:
            return out, pos, False
        length, crc = unpack(buf, pos)
        if length > MAX_RECORD:
            return out, pos, True
        end = pos + 8 + length
        if end > size:
            return out, pos, False
        payload = buf[pos + 8 : end]
        if zlib.crc32(payload, zlib.crc32(buf[pos : pos + 4])) != crc:
            return out, pos, True
        out.append(payload)
        pos = end
    return out, pos, False


def _segment_name(start: int) -> str:
    return f"{start:020d}.seg"


def _segments(directory: Path) -> list[int]:
    """Start offsets of a partition's segments, ascending."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(int(n[:-4]) for n in names if n.endswith(".seg"))


@dataclass
class _Tail:
    """What is known valid at the end of a partition: its last segment up to `size` bytes."""

    start: int = -1
    size: int = 0
    count: int = 0

    def refresh(self, directory: Path) -> None:
        segments = _segments(directory)
        if not segments:
            self.start, self.size, self.count = -1, 0, 0
            return
        last = segments[-1]
        path = directory / _segment_name(last)
        if last != self.start or path.stat().st_size < self.size:
            self.start, self.size, self.count = last, 0, 0
        if path.stat().st_size != self.size:
            added, self.size = _scan_from(path, self.size)
            self.count += added

    @property
    def end(self) -> int:
        return max(self.start, 0) + self.count


def _scan_from(path: Path, pos: int) -> tuple[int, int]:
    count = 0
    with open(path, "rb") as f:
        f.seek(pos)
        buf = b""
        while chunk := f.read(CHUNK):
            buf += chunk
            records, end, bad = _parse(buf, 0)
            count += len(records)
            pos += end
            buf = buf[end:]
            if bad:
                break
    return count, pos


class EmbeddedLog:
    """A partitioned durable log in `path`; created with `partitions` if absent.

    By default it has one partition: a single indexer reads it, so more partitions buy no
    parallelism, and one keeps the platform's global order, which cross-entity effects depend
    on (a caption's `@mention` resolves against the users indexed before it).
    """

    def __init__(self, path: str | os.PathLike, partitions: int | None = None):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        count_file = self.path / "partitions"
        if not count_file.exists():
            tmp = self.path / f".partitions.{os.getpid()}"
            tmp.write_text(f"{partitions or EMBEDDED_PARTITIONS}\n")
            try:
                os.link(tmp, count_file)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        self.partitions = int(count_file.read_text())
        if partitions is not None and partitions != self.partitions:
            raise LogError(f"{self.path} has {self.partitions} partitions, not {partitions}")
        for p in range(self.partitions):
            self.partition_dir(p).mkdir(exist_ok=True)
        self._tails = [_Tail() for _ in range(self.partitions)]

    def partition_dir(self, partition: int) -> Path:
        return self.path / f"{partition:02d}"

    def end_offsets(self) -> dict[int, int]:
        """Offset after the last complete record of every partition."""
        for p, tail in enumerate(self._tails):
            tail.refresh(self.partition_dir(p))
        return {p: tail.end for p, tail in enumerate(self._tails)}

    def producer(self) -> LogProducer:
        return LogProducer(self)

    def consumer(self) -> LogConsumer:
        return LogConsumer(self)


class LogProducer(Producer):
    def __init__(self, log: EmbeddedLog):
        self.log = log
        self.partitions = log.partitions
        self._pending: dict[int, list[bytes]] = {}
        self._pending_bytes = 0
        self._tails = [_Tail() for _ in range(log.partitions)]

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
        with open(self.log.path / "LOCK", "a+b") as lock:
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
            last = directory / _segment_name(tail.start)
            if last.stat().st_size > tail.size:
                os.truncate(last, tail.size)  # a crashed writer's torn tail
        created = tail.start < 0 or tail.size >= SEGMENT_BYTES
        if created:
            tail.start, tail.size, tail.count = tail.end, 0, 0
        chunk = _Hidden(partition, directory / _segment_name(tail.start), tail.size, len(data), _count(data),
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


def fsync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _count(data: bytes) -> int:
    count, pos = 0, 0
    while pos < len(data):
        (length,) = struct.unpack_from("<I", data, pos)
        pos += 8 + length
        count += 1
    return count


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
    segments: list[int] = field(default_factory=list)

    def seek(self) -> None:
        segments = _segments(self.directory)
        starts = [s for s in segments if s <= self.offset]
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
        self.file = open(self.directory / _segment_name(start), "rb", buffering=0)
        self.segment, self.base, self.buf, self.pos = start, 0, b"", 0

    def read(self, limit: int) -> list[bytes]:
        if self.file is None:
            if not (self.directory / _segment_name(self.offset)).exists():
                return []
            self._open(self.offset)
        out: list[bytes] = []
        while len(out) < limit:
            records, self.pos, bad = _parse(self.buf, self.pos, limit - len(out))
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
            if bad or self.offset == self.segment or not (self.directory / _segment_name(self.offset)).exists():
                break
            self._open(self.offset)
        return out

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class LogConsumer(Consumer):
    def __init__(self, log: EmbeddedLog):
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


def cause(exc: OSError) -> str:
    """A storage error in words, a full disk named as such."""
    if exc.errno == errno.ENOSPC:
        return f"no space left on device ({exc})"
    if exc.errno == errno.EFBIG:
        return f"file too large: the process's file size limit was reached ({exc})"
    return str(exc)
