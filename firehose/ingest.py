"""JSON-lines ingest into the embedded log: valid lines appended, invalid ones dead-lettered."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from firehose.deadletter import DeadLetters
from firehose.events import EventError, parse_json_line, partition_key, to_msgpack
from firehose.log import CHUNK, FLUSH_BYTES, HEADER, MAX_RECORD, LogProducer, cause, fsync_dir
from firehose.transport import key_bytes, partition_for

MAX_LINE = MAX_RECORD  # a longer line cannot be one event's record
LINE_HEAD = 64 << 10  # what a dead letter keeps of an oversize line

INGEST_JOURNALS = "ingesting"  # DIR/ingesting/<sha256 of a file>: how far a failed ingest got


@dataclass(frozen=True)
class IngestReport:
    appended: int
    dead_lettered: int
    errors: list[tuple[int, str]]  # (line number, reason) of every invalid line
    resumed_after: int = 0  # lines an earlier, failed ingest of the same content had already done

    @property
    def rejected(self) -> bool:
        """True when a strict ingest refused the file."""
        return self.appended == 0 and self.dead_lettered == 0 and bool(self.errors)


class IngestFailed(RuntimeError):
    """A storage error stopped an ingest; everything through `lines` is durably in, nothing after.

    `appended` and `dead_lettered` count every run on this content so far. Running the same
    content again continues after line `lines`.
    """

    def __init__(self, path: Path, lines: int, appended: int, dead_lettered: int, error: OSError):
        self.lines, self.appended, self.dead_lettered = lines, appended, dead_lettered
        super().__init__(f"ingest of {path} failed: {cause(error)}; {appended} events appended and "
                         f"{dead_lettered} lines dead-lettered so far, through line {lines}; "
                         f"run it again to continue after line {lines} (nothing is appended twice)")


class _Journal:
    """How far the ingest of one file content has durably got: lines done, events appended, lines
    dead-lettered. A fixed-size record overwritten in place, so saving needs no free space; it
    is removed when the ingest completes."""

    SIZE = 64

    def __init__(self, log_path: Path, digest: str):
        self.path = log_path / INGEST_JOURNALS / digest
        self._fd: int | None = None

    def load(self) -> tuple[int, int, int]:
        try:
            lines, appended, dead = map(int, self.path.read_bytes().split())
        except (FileNotFoundError, ValueError):
            return 0, 0, 0
        return lines, appended, dead

    def save(self, lines: int, appended: int, dead: int) -> None:
        if self._fd is None:
            self.path.parent.mkdir(exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            os.ftruncate(self._fd, self.SIZE)
            fsync_dir(self.path.parent)
        os.pwrite(self._fd, f"{lines} {appended} {dead}".encode().ljust(self.SIZE), 0)
        os.fsync(self._fd)

    def close(self, complete: bool) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if complete:
            self.path.unlink(missing_ok=True)


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def _lines(path: Path, after: int = 0) -> Iterable[tuple[int, bytes, int]]:
    """(number, line, oversize) of every non-blank line after line `after`. A line longer than
    MAX_LINE is never held whole: it comes as its first LINE_HEAD bytes, `oversize` its length."""
    with open(path, "rb") as f:
        number = 0
        while line := f.readline(MAX_LINE + 1):
            number += 1
            oversize = 0
            if len(line) > MAX_LINE and not line.endswith(b"\n"):
                head, oversize = line[:LINE_HEAD], len(line)
                while (rest := f.readline(CHUNK)) and not rest.endswith(b"\n"):
                    oversize += len(rest)
                oversize += len(rest.rstrip(b"\r\n"))
                line = head
            if number > after and (oversize or line.strip()):
                yield number, line, oversize


def _record(line: bytes, oversize: int) -> tuple[int, bytes]:
    """The partition key and log record of a line's event, or EventError."""
    if oversize:
        raise EventError(f"line of {oversize:,} bytes is over the {MAX_LINE:,}-byte limit")
    event = parse_json_line(line)
    payload = to_msgpack(event)
    if len(payload) > MAX_RECORD:
        raise EventError(f"event of {len(payload):,} bytes is over the {MAX_RECORD:,}-byte record limit")
    return partition_key(event), payload


def ingest_jsonl(path: str | os.PathLike, producer: LogProducer, dead_letters: DeadLetters, strict: bool = False) -> IngestReport:
    """docs/configuration.md `unicorn ingest`: append the valid events of a JSON Lines file, dead-letter the rest.

    With `strict`, one invalid line rejects the whole file: nothing is appended or dead-lettered.
    Progress is made durable every FLUSH_BYTES of events (dead letters first, then the events,
    all or nothing, then the journal). When a storage error stops it, IngestFailed says how far
    it got, and ingesting the same content again continues from there. A process killed between
    a flush and its journal update repeats that one flush's events on the next run.
    """
    path = Path(path)
    source = f"file:{path}"
    errors: list[tuple[int, str]] = []
    if strict:
        for number, line, oversize in _lines(path):
            try:
                _record(line, oversize)
            except EventError as exc:
                errors.append((number, str(exc)))
        if errors:
            return IngestReport(0, 0, errors)
    journal = _Journal(producer.log.path, _digest(path))
    resumed_after, appended_before, dead_before = journal.load()
    done, appended, dead = resumed_after, appended_before, dead_before  # durable so far

    def checkpoint(through: int, appended_through: int, dead_through: int) -> None:
        nonlocal done, appended, dead
        dead_letters.flush()
        producer.flush()
        journal.save(through, appended_through, dead_through)
        done, appended, dead = through, appended_through, dead_through

    sent, lettered, last = appended, dead, done
    try:
        journal.save(done, appended, dead)  # allocated before anything is appended
        for number, line, oversize in _lines(path, resumed_after):
            try:
                key, payload = _record(line, oversize)
            except EventError as exc:
                errors.append((number, str(exc)))
                dead_letters.record(str(exc), line.rstrip(b"\r\n"), source, None, number)
                lettered += 1
                last = number
                continue
            if producer.pending_bytes and producer.pending_bytes + len(payload) + HEADER.size >= FLUSH_BYTES:
                checkpoint(last, sent, lettered)
            producer.send_raw(partition_for(key, producer.partitions), key_bytes(key), payload)
            sent += 1
            last = number
            if not producer.pending_bytes:  # a record big enough to be flushed on its own
                checkpoint(last, sent, lettered)
        checkpoint(last, sent, lettered)
    except OSError as exc:
        journal.close(complete=False)
        raise IngestFailed(path, done, appended, dead, exc) from exc
    journal.close(complete=True)
    return IngestReport(sent - appended_before, lettered - dead_before, errors, resumed_after)
