"""Issue 10 items 6 and 2 (machine failures): oversize lines are dead-lettered like any invalid
line, `--strict` appends nothing, a full disk (a real, small tmpfs) names itself in `unicorn
ingest` and `unicorn index`, and running the same command again continues without doubling."""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from firehose.deadletter import EmbeddedDeadLetters
from firehose.events import from_msgpack, to_json_line, validate
from firehose.ingest import ingest_jsonl
from firehose.log import EmbeddedLog
from indexer import meta_key
from indexer.store import Index
from tests.test_firehose_log import read_all

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
MAX_LINE = 16 << 20  # SPEC: a line longer than a firehose record (16 MiB) is not an event


def unicorn(data: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console.cli", *args, "--data", str(data)], env=ENV,
                          capture_output=True, text=True, timeout=600)


def user(i: int, name_bytes: int = 10) -> dict:
    return validate({"op": "user.upsert", "ts": i, "user": {"id": i, "username": f"u{i}", "full_name": "n" * name_bytes}})


def logged_events(data: Path) -> list[dict]:
    log = EmbeddedLog(data / "firehose")
    return [from_msgpack(payload) for payload in read_all(log, 0)]


@contextmanager
def small_filesystem(path: Path, size: str) -> Iterator[Callable[[str], None]]:
    """A tmpfs of `size` mounted at `path`; yields a function that resizes it."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield lambda new: subprocess.run(["mount", "-o", f"remount,size={new}", str(path)], check=True)
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=True)


def write_with_oversize_line(path: Path, oversize: int, not_json: bool = True) -> bytes:
    """Events 1, 2, 3 with a valid event of `oversize` bytes on line 2 and, if `not_json`, line 4 not JSON."""
    huge = orjson.dumps({"op": "user.upsert", "ts": 9, "user": {"id": 9, "username": "big", "full_name": "x" * oversize}})
    path.write_bytes(to_json_line(user(1)) + huge + b"\n" + to_json_line(user(2)) + (b"{oops\n" if not_json else b"")
                     + to_json_line(user(3)))
    return huge


def test_an_oversize_line_is_dead_lettered_and_the_rest_appended(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    huge = write_with_oversize_line(source, MAX_LINE + 1000)
    result = unicorn(tmp_path, "ingest", str(source))
    assert result.returncode == 0, result.stderr
    assert f"{source}:2: line of {len(huge):,} bytes is over the {MAX_LINE:,}-byte limit" in result.stderr
    assert f"{source}:4: not JSON" in result.stderr
    assert "appended 3 events, dead-lettered 2" in result.stderr
    assert logged_events(tmp_path) == [user(1), user(2), user(3)]
    letters = list(EmbeddedDeadLetters(tmp_path).read())
    assert [letter["offset"] for letter in letters] == [2, 4]
    assert huge.startswith(letters[0]["payload"]) and len(letters[0]["payload"]) == 64 << 10


def test_strict_appends_nothing_when_one_line_is_oversize(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    write_with_oversize_line(source, MAX_LINE + 1000, not_json=False)  # the oversize line is the only invalid one
    result = unicorn(tmp_path, "ingest", "--strict", str(source))
    assert result.returncode == 1
    assert f"{source}:2: line of" in result.stderr and "1 invalid lines, nothing appended" in result.stderr
    assert logged_events(tmp_path) == [] and EmbeddedDeadLetters(tmp_path).count() == 0


def test_an_oversize_line_is_never_held_whole(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    write_with_oversize_line(source, 6 * MAX_LINE)
    log, dead = EmbeddedLog(tmp_path / "firehose"), EmbeddedDeadLetters(tmp_path)
    tracemalloc.start()
    try:
        report = ingest_jsonl(source, log.producer(), dead)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (report.appended, report.dead_lettered) == (3, 2)
    assert peak < 3 * MAX_LINE  # the 96 MiB line was read in pieces of at most MAX_LINE


def test_a_full_disk_names_itself_and_the_same_ingest_again_does_not_double(tmp_path: Path) -> None:
    lines, expected, invalid = [], [], []
    for i in range(6000):  # about 12 MiB of events, more than the 6 MiB filesystem holds
        if i % 1000 == 500:
            lines.append(b"{not json\n")
            invalid.append(i + 1)
        else:
            lines.append(to_json_line(user(i, 2000)))
            expected.append(user(i, 2000))
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"".join(lines))
    data = tmp_path / "data"
    with small_filesystem(data, "6m") as resize:
        failed = unicorn(data, "ingest", str(source))
        assert failed.returncode == 1
        assert "no space left on device" in failed.stderr and "Traceback" not in failed.stderr
        assert "events appended" in failed.stderr and "run it again to continue after line" in failed.stderr
        partial = logged_events(data)
        assert partial == expected[: len(partial)]  # a prefix, no torn or half-visible flush
        assert 0 < len(partial) < len(expected)
        resize("64m")
        again = unicorn(data, "ingest", str(source))
        assert again.returncode == 0, again.stderr
        assert "continued" in again.stderr
        assert logged_events(data) == expected  # every event once, in file order
        assert {letter["offset"] for letter in EmbeddedDeadLetters(data).read()} == set(invalid)


def test_a_full_disk_stops_the_indexer_naming_it_and_a_restart_continues(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"".join(to_json_line(user(i, 2000)) for i in range(3000)))
    assert unicorn(tmp_path, "ingest", str(source)).returncode == 0
    with small_filesystem(tmp_path / "index", "2m") as resize:
        stopped = unicorn(tmp_path, "index", "--once", "--batch-size", "500")
        assert stopped.returncode == 1
        assert "no space left on device" in stopped.stderr and "Traceback" not in stopped.stderr
        assert "nothing is lost" in stopped.stderr
        resize("256m")
        resumed = unicorn(tmp_path, "index", "--once", "--batch-size", "500")
        assert resumed.returncode == 0, resumed.stderr
        index = Index(tmp_path / "index", readonly=True)
        try:
            with index.reader() as view:
                assert len(view.posting("user", "_live")) == 3000
                assert view.meta(meta_key("embedded"))["applied_total"] == 3000
        finally:
            index.close()
    assert EmbeddedDeadLetters(tmp_path).count() == 0  # the disk's fault is no event's
