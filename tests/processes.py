"""Child processes of tests: output to a file (never an unread pipe), each in its own process
group, and the whole group stopped when the `with` block ends, also when an assertion failed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STOP_SECONDS = 30


@contextmanager
def started(args: list[str], log: Path, **popen) -> Iterator[subprocess.Popen]:
    """`args` running with stdout and stderr appended to `log`; SIGTERM then SIGKILL to its group on exit."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **popen)
    try:
        yield proc
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen) -> None:
    """Stop `proc` and everything in its process group; returns once the leader is reaped."""
    _signal_group(proc, signal.SIGTERM)
    try:
        proc.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)
        proc.wait()
    _signal_group(proc, signal.SIGKILL)  # what outlived its leader


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def group_members(pgid: int) -> list[int]:
    """Live processes of process group `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split() if entry.name.isdigit() else None
        except OSError:
            continue
        if fields and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def wait_for_line(log: Path, pattern: str, proc: subprocess.Popen, seconds: float) -> re.Match:
    """The first match of `pattern` in `log`, waiting while `proc` runs; fails with the log otherwise."""
    deadline = time.monotonic() + seconds
    while True:
        text = log.read_text(errors="replace") if log.exists() else ""
        if match := re.search(pattern, text):
            return match
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"no {pattern!r} in the output (exit {proc.poll()}):\n{text}")
        time.sleep(0.05)
