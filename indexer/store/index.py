"""`Index`: the handle of one index directory, which opens it and hands out views and batches."""

from __future__ import annotations

from pathlib import Path

import lmdb

from indexer.store import environment
from indexer.store.codec import offsets_key, unpack
from indexer.store.environment import Environment
from indexer.store.errors import raises_store_errors, translated
from indexer.store.reads import ReadView
from indexer.store.writes import WriteBatch


class Index:
    """One LMDB environment holding every vertical's postings, id maps, documents and ranks.

    `readonly` opens an existing index (IndexNotFound when there is none yet); otherwise what is
    missing is created. Any failure of the store is a StoreError.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        readonly: bool = False,
        map_size: int = 1 << 38,
        cache_bytes: int = 256 << 20,
    ) -> None:
        self._env = Environment(path, readonly=readonly, map_size=map_size, cache_bytes=cache_bytes)
        self.path = self._env.path

    @staticmethod
    def exists(path: str | Path) -> bool:
        """Whether there is an index at `path` (or one is being created there)."""
        return environment.exists(path)

    @property
    @raises_store_errors
    def gen(self) -> int:
        with self._env.lmdb.begin() as txn:
            raw = txn.get(b"gen", db=self._env.meta)
        return unpack(raw) if raw is not None else 0

    @raises_store_errors
    def offsets(self, source: str) -> dict[int, int]:
        """Committed next offset per partition of a firehose source."""
        with self._env.lmdb.begin() as txn:
            raw = txn.get(offsets_key(source).encode(), db=self._env.meta)
        return unpack(raw) if raw is not None else {}

    def reader(self) -> ReadView:
        return ReadView(self._env)

    def writer(self) -> WriteBatch:
        return WriteBatch(self._env)

    def backup(self, dest: str | Path) -> None:
        """Copy the index, compacted, to the empty or new directory `dest`: one consistent snapshot
        (whole batches with their firehose offsets), taken while readers and the writer go on."""
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        try:
            self._env.lmdb.copy(str(dest), compact=True)
        except lmdb.Error as exc:
            raise translated(exc, dest) from exc

    @raises_store_errors
    def size_bytes(self) -> int:
        info = self._env.lmdb.info()
        return info["last_pgno"] * self._env.lmdb.stat()["psize"]

    def close(self) -> None:
        self._env.close()
