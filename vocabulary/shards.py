"""Documents split by id across index shards (ARCHITECTURE.md "Shards").

Slipstream's per-document changes go to a changes stream of `partitions` partitions, a document's
partition chosen by its vertical and external id; shard s of N owns the partitions p with
p % N == s, so moving a shard is moving partitions, and a replica of a shard reads the same ones.
"""

from __future__ import annotations

import hashlib


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
