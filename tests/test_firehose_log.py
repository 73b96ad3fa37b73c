"""The embedded log on disk: segments, torn tails, crashes, and the `unicorn ingest` appender."""

from __future__ import annotations

import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import firehose.log.segments
from firehose.deadletter import EmbeddedDeadLetters
from firehose.events import from_msgpack, to_json_line, validate
from firehose.ingest import ingest_jsonl
from firehose.log import EmbeddedLog, LogError
from firehose.transport import Consumer
from tests.processes import started, wait_for_line


def read_all(log: EmbeddedLog, partition: int = 0, offset: int = 0) -> list[bytes]:
    consumer = log.consumer()
    consumer.assign({partition: offset})
    out = []
    while batch := consumer.poll(1000, 0):
        out += [r.payload for r in batch]
    consumer.close()
    return out


def segment_files(log: EmbeddedLog, partition: int = 0) -> list[Path]:
    return sorted(log.partition_dir(partition).glob("*.seg"))


payloads = st.lists(st.binary(max_size=40), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(before=payloads, after=payloads, data=st.data())
def test_torn_tail_is_truncated_and_appends_continue(before, after, data):
    with tempfile.TemporaryDirectory() as tmp:
        log = EmbeddedLog(tmp, 1)
        producer = log.producer()
        for p in before:
            producer.send_raw(0, b"", p)
        producer.flush()
        (segment,) = segment_files(log)
        size = segment.stat().st_size
        cut = data.draw(st.integers(0, size), label="cut")
        garbage = data.draw(st.binary(max_size=20), label="garbage")
        original = segment.read_bytes()
        with open(segment, "r+b") as f:  # what a writer killed mid-write leaves behind
            f.truncate(cut)
            f.seek(cut)
            f.write(garbage)
        torn = original[:cut] + garbage
        ends, kept = 0, 0
        for p in before:  # records whose bytes all survived (garbage may happen to rewrite the cut-off ones)
            start, ends = ends, ends + 8 + len(p)
            if torn[start:ends] != original[start:ends]:
                break
            kept += 1
        survivors = before[:kept]
        assert read_all(log) == survivors  # readers stop before the torn record
        assert log.end_offsets() == {0: kept}
        producer = EmbeddedLog(tmp).producer()
        for p in after:
            producer.send_raw(0, b"", p)
        producer.flush()
        assert read_all(log) == survivors + after
        assert read_all(log, offset=kept) == after


@settings(max_examples=20, deadline=None)
@given(sizes=st.lists(st.integers(0, 60), min_size=1, max_size=80), flush_every=st.integers(1, 10), data=st.data())
def test_segments_roll_and_any_offset_is_reachable(sizes, flush_every, data):
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setattr(firehose.log.segments, "SEGMENT_BYTES", 100)
        log = EmbeddedLog(tmp, 2)
        producer = log.producer()
        records = [bytes([i % 256]) * n for i, n in enumerate(sizes)]
        for i, r in enumerate(records):
            producer.send_raw(1, b"", r)
            if i % flush_every == 0:
                producer.flush()
        producer.flush()
        starts = [int(f.stem) for f in segment_files(log, 1)]
        assert starts[0] == 0 and starts == sorted(set(starts))
        assert log.end_offsets() == {0: 0, 1: len(records)}
        offset = data.draw(st.integers(0, len(records)), label="offset")
        assert read_all(log, 1, offset) == records[offset:]
        with pytest.raises(LogError, match="beyond the end"):
            log.consumer().assign({1: len(records) + 1})


def test_reader_follows_a_live_writer_across_segments(tmp_path, monkeypatch):
    monkeypatch.setattr(firehose.log.segments, "SEGMENT_BYTES", 64)
    log = EmbeddedLog(tmp_path, 1)
    consumer: Consumer = log.consumer()
    consumer.assign({0: 0})
    producer = log.producer()
    seen: list[bytes] = []
    for i in range(50):
        producer.send_raw(0, b"", f"r{i}".encode())
        producer.flush()
        seen += [r.payload for r in consumer.poll(100, 0)]
    assert seen == [f"r{i}".encode() for i in range(50)]
    assert len(segment_files(log)) > 5
    assert consumer.at_end()


def test_partition_count_is_fixed_at_creation(tmp_path):
    assert EmbeddedLog(tmp_path, 3).partitions == 3
    assert EmbeddedLog(tmp_path).partitions == 3
    with pytest.raises(LogError, match="has 3 partitions"):
        EmbeddedLog(tmp_path, 4)


def test_oversized_record_is_refused(tmp_path):
    with pytest.raises(LogError, match="exceeds"):
        EmbeddedLog(tmp_path, 1).producer().send_raw(0, b"", bytes(firehose.log.MAX_RECORD + 1))


WRITER = """
import sys
from firehose.log import EmbeddedLog
log = EmbeddedLog(sys.argv[1], 2)
producer = log.producer()
next_ = [int(sys.argv[2]), int(sys.argv[3])]
i = 0
while True:
    p = i % 2
    producer.send_raw(p, b"", (b"%d:" % next_[p]) + bytes(next_[p] % 3000))
    next_[p] += 1
    if i % 97 == 0:
        producer.flush()
        print(i, flush=True)
    i += 1
"""


def test_sigkilled_writers_leave_an_intact_prefix(tmp_path):
    """Kill writers with SIGKILL mid-stream; each partition keeps an intact prefix and restarts resume it."""
    rng = random.Random(7)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    log = EmbeddedLog(tmp_path, 2)
    for run in range(6):
        ends = log.end_offsets()
        output = tmp_path / f"writer{run}.out"
        with started([sys.executable, "-c", WRITER, str(tmp_path), str(ends[0]), str(ends[1])], output, env=env) as writer:
            wait_for_line(output, r"\d", writer, 60)  # it is writing
            time.sleep(rng.uniform(0, 0.3))
            writer.send_signal(signal.SIGKILL)
            writer.wait()
    producer = log.producer()
    producer.send_raw(0, b"", b"last")
    producer.flush()
    for p in (0, 1):
        got = read_all(log, p)
        if p == 0:
            assert got.pop() == b"last"
        assert len(got) > 100
        assert got == [(b"%d:" % n) + bytes(n % 3000) for n in range(len(got))]  # in order, once, none torn


def event(i: int) -> dict:
    return validate({"op": "follow.add", "ts": i, "follower": i, "followee": i + 1})


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines))


def consumed_events(log: EmbeddedLog) -> list[dict]:
    return sorted((from_msgpack(x) for p in range(log.partitions) for x in read_all(log, p)), key=lambda e: e["ts"])


def test_ingest_appends_valid_lines_and_dead_letters_the_rest(tmp_path):
    lines = [
        to_json_line(event(1)),
        b"{not json",
        b"",
        orjson.dumps({"op": "follow.add", "ts": 2, "follower": -1, "followee": 3}),
        to_json_line(event(3)),
        orjson.dumps({"op": "nope", "ts": 4}),
        orjson.dumps([1, 2]),
        to_json_line(event(5)),
    ]
    write_lines(tmp_path / "events.jsonl", lines)
    log = EmbeddedLog(tmp_path / "firehose", 4)
    dead = EmbeddedDeadLetters(tmp_path)
    report = ingest_jsonl(tmp_path / "events.jsonl", log.producer(), dead)
    assert (report.appended, report.dead_lettered) == (3, 4)
    assert [n for n, _ in report.errors] == [2, 4, 6, 7]
    assert "not JSON" in report.errors[0][1] and "follower" in report.errors[1][1]
    assert consumed_events(log) == [event(1), event(3), event(5)]
    letters = list(dead.read())
    assert dead.count() == 4
    assert [(d["offset"], d["payload"], d["partition"]) for d in letters] == [(2, lines[1], None), (4, lines[3], None), (6, lines[5], None), (7, lines[6], None)]
    assert all(d["source"].endswith("events.jsonl") and d["reason"] and d["ts"] > 0 for d in letters)


def test_strict_ingest_rejects_the_whole_file(tmp_path):
    write_lines(tmp_path / "bad.jsonl", [to_json_line(event(1)), b"[]", to_json_line(event(2))])
    log = EmbeddedLog(tmp_path / "firehose", 4)
    dead = EmbeddedDeadLetters(tmp_path)
    report = ingest_jsonl(tmp_path / "bad.jsonl", log.producer(), dead, strict=True)
    assert report.rejected and report.appended == 0 and [n for n, _ in report.errors] == [2]
    assert consumed_events(log) == [] and dead.count() == 0
    write_lines(tmp_path / "good.jsonl", [to_json_line(event(i)) for i in range(10)])
    report = ingest_jsonl(tmp_path / "good.jsonl", log.producer(), dead, strict=True)
    assert not report.rejected and report.appended == 10
    assert consumed_events(log) == [event(i) for i in range(10)]
