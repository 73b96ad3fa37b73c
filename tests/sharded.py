"""One index and N index shards built from the same events, as tests/test_slipstream_changes.py builds
them: Slipstream writes one index through slipstream.changes.Recorder, and each shard applies the changes
of the partitions it owns; and an in-process aggregator over the shards (unicorn.aggregator)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexer.store import Index
from slipstream import Slipstream
from slipstream.changes import Recorder, apply_changes
from tests.model.platform import Platform
from unicorn.aggregator import Aggregator
from unicorn.engine import Engine
from unicorn.shard import LocalShard
from vocabulary.shards import owned

SHARDS, PARTITIONS = 3, 5


def write_sharded(history: list[dict], whole: Index, shards: list[Index], partitions: int,
                  platform: Platform | None = None, aux: dict[tuple[str, bytes], bytes] | None = None) -> None:
    """`history` into `whole` through Slipstream, and `aux` values as the indexer's components put them (trending),
    and its changes into `shards` by partition."""
    with whole.writer() as batch:
        recorder = Recorder(batch)
        slip = Slipstream(recorder)
        for event in history:
            slip.apply(event)
            if platform is not None:
                platform.apply(event)
        for (name, key), value in (aux or {}).items():
            recorder.put_aux(name, key, value)
        records = list(recorder.encode(partitions))
    for s, shard in enumerate(shards):
        mine = set(owned(s, len(shards), partitions))
        with shard.writer() as batch:
            for partition, payload in records:
                if partition in mine:
                    apply_changes(batch, payload)


@contextmanager
def sharded(history: list[dict], shards: int = SHARDS, partitions: int = PARTITIONS
            ) -> Iterator[tuple[Index, list[Index], Platform]]:
    """(one index, its shards, the model platform) after `history`."""
    platform = Platform()
    with tempfile.TemporaryDirectory() as tmp:
        whole = Index(Path(tmp) / "whole")
        parts = [Index(Path(tmp) / f"shard{s}") for s in range(shards)]
        try:
            write_sharded(history, whole, parts, partitions, platform)
            yield whole, parts, platform
        finally:
            whole.close()
            for part in parts:
                part.close()


def aggregator(shards: list[Index], partitions: int = PARTITIONS) -> Aggregator:
    """An aggregator over one in-process replica of each shard."""
    return Aggregator([[LocalShard(Engine(index))] for index in shards], partitions)
