"""The embedded log on disk: `DIR/partitions` (the partition count), `DIR/LOCK`, and per partition
`DIR/NN/` holding append-only segments named by the offset of their first record
(`00000000000000000000.seg`)."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from firehose.log.records import LogError, parse

SEGMENT_BYTES = 64 << 20  # a writer starts a new segment once the last one holds this much
CHUNK = 1 << 20
EMBEDDED_PARTITIONS = 1
COUNT_FILE = "partitions"


def segment_name(start: int) -> str:
    return f"{start:020d}.seg"


def segments(directory: Path) -> list[int]:
    """Start offsets of a partition's segments, ascending."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(int(n[:-4]) for n in names if n.endswith(".seg"))


@dataclass
class Tail:
    """What is known valid at the end of a partition: its last segment up to `size` bytes."""

    start: int = -1
    size: int = 0
    count: int = 0

    def refresh(self, directory: Path) -> None:
        starts = segments(directory)
        if not starts:
            self.start, self.size, self.count = -1, 0, 0
            return
        last = starts[-1]
        path = directory / segment_name(last)
        if last != self.start or path.stat().st_size < self.size:
            self.start, self.size, self.count = last, 0, 0
        if path.stat().st_size != self.size:
            added, self.size = scan_from(path, self.size)
            self.count += added

    @property
    def end(self) -> int:
        return max(self.start, 0) + self.count


def scan_from(path: Path, pos: int) -> tuple[int, int]:
    """(valid records, end position) of the segment at `path` from file position `pos`."""
    count = 0
    with open(path, "rb") as f:
        f.seek(pos)
        buf = b""
        while chunk := f.read(CHUNK):
            buf += chunk
            records, end, bad = parse(buf, 0)
            count += len(records)
            pos += end
            buf = buf[end:]
            if bad:
                break
    return count, pos


class LogDirectory:
    """The directory of an embedded log, created with `partitions` (default EMBEDDED_PARTITIONS) if absent."""

    def __init__(self, path: str | os.PathLike, partitions: int | None = None):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        count_file = self.path / COUNT_FILE
        if not count_file.exists():
            tmp = self.path / f".{COUNT_FILE}.{os.getpid()}"
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
        self._tails = [Tail() for _ in range(self.partitions)]

    @staticmethod
    def exists(path: str | os.PathLike) -> bool:
        """Whether there is an embedded log at `path`."""
        return (Path(path) / COUNT_FILE).exists()

    def partition_dir(self, partition: int) -> Path:
        return self.path / f"{partition:02d}"

    def end_offsets(self) -> dict[int, int]:
        """Offset after the last complete record of every partition."""
        for p, tail in enumerate(self._tails):
            tail.refresh(self.partition_dir(p))
        return {p: tail.end for p, tail in enumerate(self._tails)}


def fsync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def cause(exc: OSError) -> str:
    """A storage error in words, a full disk named as such."""
    if exc.errno == errno.ENOSPC:
        return f"no space left on device ({exc})"
    if exc.errno == errno.EFBIG:
        return f"file too large: the process's file size limit was reached ({exc})"
    return str(exc)
