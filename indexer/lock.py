"""One writer per index: an exclusive `flock` on `INDEX/writer.lock`, held for the writer's life.

The holder writes its pid, host, command line and start time into the file, so a refused
writer can name it. The kernel drops the lock when the holder exits, however it exits.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

LOCK_NAME = "writer.lock"


class IndexLocked(RuntimeError):
    """Another process holds the index's writer lock."""


@contextmanager
def writer_lock(index_dir: str | os.PathLike) -> Iterator[None]:
    """Hold the writer lock of the index at `index_dir`, or raise IndexLocked naming the holder."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexLocked(f"another indexer is writing the index at {index_dir}: {_holder(fd)}") from None
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv),
                  "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        os.ftruncate(fd, 0)
        os.pwrite(fd, orjson.dumps(holder), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def _holder(fd: int) -> str:
    try:
        holder = orjson.loads(os.pread(fd, 65536, 0))
        return f"pid {holder['pid']} on {holder['host']} ({holder['command']}), since {holder['since']}"
    except (orjson.JSONDecodeError, KeyError, TypeError):  # the holder is still writing its name
        return "a process that has not written its name yet"
