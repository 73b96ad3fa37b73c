"""Documents split by id across index shards (ARCHITECTURE.md "Shards").

Slipstream's per-document changes go to a changes stream of `partitions` partitions, a document's
partition chosen by its vertical and external id; shard s of N owns the partitions p with
p % N == s, so moving a shard is moving partitions, and a replica of a shard reads the same ones.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from vocabulary import paths


def partition_of(vertical: str, ext: int | str, partitions: int) -> int:
    """The changes partition of a document: stable across processes, machines and transports."""
    digest = hashlib.blake2b(f"{vertical}:{ext}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


def shard_of(partition: int, shards: int) -> int:
    """The shard that owns a partition."""
    return partition % shards


def owned(shard: int, shards: int, partitions: int) -> list[int]:
    """The partitions shard `shard` of `shards` consumes."""
    if not 0 <= shard < shards <= partitions:
        raise ValueError(f"shard {shard} of {shards} over {partitions} partitions")
    return [p for p in range(partitions) if p % shards == shard]


def document_shard(vertical: str, ext: int | str, shards: int, partitions: int) -> int:
    """The shard that holds a document."""
    return shard_of(partition_of(vertical, ext, partitions), shards)


class LayoutConflict(ValueError):
    """A layout that differs from the one a data directory already has."""


@dataclass(frozen=True)
class Layout:
    """How a data directory is sharded: written by `unicorn index --shards`, read by `serve --shards`.

    `source` is where the changes stream is: "embedded" (`paths.changes(data)`) or "kafka:<topic>"
    (the topic `<topic>.changes`).
    """

    shards: int
    replicas: int
    partitions: int
    source: str

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise ValueError(f"{self.replicas} replicas: at least 1")
        owned(0, self.shards, self.partitions)  # 1 <= shards <= partitions

    def index(self, data: str | os.PathLike, shard: int, replica: int = 0) -> Path:
        """The index directory of one replica of one shard."""
        if not (0 <= shard < self.shards and 0 <= replica < self.replicas):
            raise ValueError(f"shard {shard} replica {replica} is not in {self}")
        return paths.index(paths.shard(Path(data), shard, replica))

    def owned(self, shard: int) -> list[int]:
        return owned(shard, self.shards, self.partitions)


def find_layout(data: str | os.PathLike) -> Layout | None:
    """The layout of the sharded deployment under `data`, or None when it is not sharded."""
    try:
        raw = paths.layout(Path(data)).read_text()
    except FileNotFoundError:
        return None
    return Layout(**json.loads(raw))


def write_layout(data: str | os.PathLike, layout: Layout) -> None:
    """Record `layout` under `data`; LayoutConflict when a different one is there already."""
    found = find_layout(data)
    if found == layout:
        return
    if found is not None:
        raise LayoutConflict(f"{Path(data)} is laid out as {_words(found)}, not {_words(layout)}: "
                             "use another --data, or the same layout")
    path = paths.layout(Path(data))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(asdict(layout)) + "\n")
    os.replace(tmp, path)


def _words(layout: Layout) -> str:
    return (f"{layout.shards} shards x {layout.replicas} replicas over {layout.partitions} partitions "
            f"of the {layout.source} changes stream")
