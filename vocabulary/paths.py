"""Where things live under a data directory (`--data`, default ./unicorn-data)."""

from __future__ import annotations

from pathlib import Path


def firehose(data: Path) -> Path:
    """The embedded firehose log."""
    return Path(data) / "firehose"


def dead_letters(data: Path) -> Path:
    """The embedded firehose's dead letters (a one-partition log)."""
    return Path(data) / "deadletter"


def index(data: Path) -> Path:
    """The LMDB index environment."""
    return Path(data) / "index"


def changes(data: Path) -> Path:
    """The embedded changes stream: Slipstream's per-document changes, partitioned for the shards."""
    return Path(data) / "changes"


def shard(data: Path, shard: int, replica: int = 0) -> Path:
    """The data directory of one replica of one index shard (its index is `index(shard(...))`)."""
    return Path(data) / "shards" / f"{shard}.{replica}"


def layout(data: Path) -> Path:
    """The shard layout of a sharded deployment (vocabulary.shards.Layout)."""
    return Path(data) / "shards" / "layout.json"
