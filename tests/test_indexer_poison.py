"""Issue 10 item 2, the indexer's side: no storage error on one event stops `unicorn index`.

The events are SPEC-valid values of 600 bytes, which today make LMDB keys over 511 bytes: a
username fails when the batch commits (the event is not known, the batch is halved until it
is), a hashtag fails while the event is applied. Where the store accepts them, they are
indexed; where it does not, they are dead-lettered alone. Either way the run ends with exit 0,
each event counted once, and the index equals a clean run over the events that were not
dead-lettered.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from firehose.deadletter import EmbeddedDeadLetters
from firehose.events import to_json_line, validate
from indexer import meta_key
from indexer.store import Index
from tests.test_indexer_daemon import index_state

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
LONG = 600


def unicorn(data: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console.cli", *args, "--data", str(data)], env=ENV,
                          capture_output=True, text=True, timeout=600)


def stream() -> tuple[list[dict], list[dict]]:
    """Events with two long-valued ones among them, and those two."""
    long_user = validate({"op": "user.upsert", "ts": 50, "user": {"id": 50, "username": "u" * LONG}})
    long_tag = validate({"op": "media.upsert", "ts": 51, "media": {"id": 900, "owner": 3, "caption": "#" + "h" * LONG,
                                                                   "taken_at": 1}})
    events = [validate({"op": "user.upsert", "ts": i, "user": {"id": i, "username": f"user{i}"}}) for i in range(20)]
    events[7:7] = [long_user]
    events[13:13] = [long_tag]
    events += [validate({"op": "follow.add", "ts": 100 + i, "follower": i, "followee": 50}) for i in range(10)]
    events += [validate({"op": "media.upsert", "ts": 200, "media": {"id": 901, "owner": 4, "caption": "#sunset",
                                                                   "taken_at": 2}})]
    return events, [long_user, long_tag]


def ingest(data: Path, events: list[dict]) -> None:
    source = data.parent / f"{data.name}.jsonl"
    source.write_bytes(b"".join(to_json_line(e) for e in events))
    assert unicorn(data, "ingest", str(source)).returncode == 0


def test_a_storage_error_of_one_event_dead_letters_it_alone(tmp_path: Path) -> None:
    events, long_ones = stream()
    data = tmp_path / "hostile"
    ingest(data, events)
    first = unicorn(data, "index", "--once")
    assert first.returncode == 0, first.stderr
    letters = list(EmbeddedDeadLetters(data).read())
    dead = [events[letter["offset"]] for letter in letters]
    assert all(event in long_ones for event in dead) and len(set(map(str, dead))) == len(dead)
    assert all(letter["reason"].startswith(("storage:", "slipstream:")) for letter in letters)
    index = Index(data / "index", readonly=True)
    try:
        with index.reader() as view:
            figures = view.meta(meta_key("embedded"))
        assert (figures["applied_total"], figures["dead_lettered_total"]) == (len(events) - len(dead), len(dead))
        assert sum(index.offsets("embedded").values()) == len(events)
        hostile = index_state(index)
    finally:
        index.close()
    again = unicorn(data, "index", "--once")  # a restart does not meet the same events again
    assert again.returncode == 0 and "applied 0 events, dead-lettered 0" in again.stderr

    clean_data = tmp_path / "clean"
    ingest(clean_data, [e for e in events if e not in dead])
    assert unicorn(clean_data, "index", "--once").returncode == 0
    clean = Index(clean_data / "index", readonly=True)
    try:
        assert hostile == index_state(clean)
    finally:
        clean.close()
