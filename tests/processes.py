"""Child processes of tests: output to a file (never an unread pipe), each in its own process
group, and the whole group stopped when the `with` block ends, also when an assertion failed."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
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


def kill_at_random_instants(args: Callable[[random.Random], list[str]], log: Path, env: dict,
                            committed: Callable[[], int], total: int, kills: int, pause: float,
                            rng: random.Random) -> int:
    """Run `args(rng)` again and again, SIGKILL it at a random instant (up to `pause` s) once it has
    committed something new, `kills` times, then let one run finish; returns how many kills landed
    before everything (`total`) was committed."""
    landed = 0
    for attempt in range(kills + 1):
        before = committed()
        with started(args(rng), log, env=env) as daemon:
            if attempt == kills:  # enough kills: let it finish
                assert daemon.wait(300) == 0
                break
            deadline = time.monotonic() + 60
            while committed() == before and daemon.poll() is None:  # kill only once it is working
                assert time.monotonic() < deadline
                time.sleep(0.01)
            time.sleep(rng.uniform(0, pause))
            if daemon.poll() is not None:
                assert daemon.returncode == 0
                break
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
        landed += committed() < total
    return landed
