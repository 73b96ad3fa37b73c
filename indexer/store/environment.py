"""The LMDB environment of an index and its named databases (ARCHITECTURE.md, the index store),
with what every view of it shares in this process."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import lmdb

from indexer.store.caches import GenerationMemo, PostingCache
from indexer.store.codec import pack, unpack
from indexer.store.columns import LinkColumns, NameColumn, RankColumns
from indexer.store.errors import IndexIncompatible, IndexNotFound, translated
from vocabulary.schema import VERTICALS

SCHEMA_VERSION = 2
DATA_FILE = "data.mdb"  # LMDB's file in the index directory
KINDS = ("ids", "ext", "docs", "post", "rank", "links", "rankdirty")  # the named databases of each vertical


def exists(path: str | Path) -> bool:
    """Whether an index is (or is being) created at `path`."""
    return (Path(path) / DATA_FILE).exists()


class Environment:
    """Opens (read-only, or creating what is missing) the index at `path`; raises StoreError.

    Views share `postings` (decoded posting lists), `memo` (those of the newest generation read), `ids`
    (committed id map entries, which never change) and the reader-side columns `ranks`, `links` and
    `hashtag_names`, refreshed under `columns_lock`.
    """

    def __init__(self, path: str | Path, *, readonly: bool, map_size: int, cache_bytes: int) -> None:
        self.path = Path(path)
        if not readonly:
            self.path.mkdir(parents=True, exist_ok=True)
        try:
            self._open(readonly, map_size)
        except lmdb.NotFoundError as exc:  # a read-only open while the writer creates the databases
            raise IndexNotFound(f"the index at {self.path} is still being created") from exc
        except lmdb.Error as exc:
            if readonly and not exists(self.path):
                raise IndexNotFound(f"no index at {self.path}") from exc
            raise translated(exc, self.path) from exc
        self.postings = PostingCache(cache_bytes)
        self.memo = GenerationMemo(cache_bytes // 4)
        self.ids: dict[tuple[str, int | str], int] = {}
        self.ranks = {vertical: RankColumns() for vertical in VERTICALS}
        self.links = LinkColumns()
        self.hashtag_names = NameColumn()
        self.columns_lock = threading.Lock()

    def _open(self, readonly: bool, map_size: int) -> None:
        self.lmdb = lmdb.open(
            str(self.path),
            map_size=map_size,
            max_dbs=8 * len(VERTICALS) + 4,
            max_readers=1024,
            readonly=readonly,
            readahead=False,
            metasync=False,
        )
        try:
            self._open_dbs(create=not readonly)
        except BaseException:
            self.lmdb.close()
            raise

    def _open_dbs(self, create: bool) -> None:
        # A writer opens every database in one write transaction (one commit and sync, not 32); a
        # read-only open cannot keep handles opened in a read transaction, so each opens on its own.
        txn = self.lmdb.begin(write=True) if create else None
        try:
            try:  # created before `meta`, so that a reader that finds `meta` finds `aux`
                self.aux = self.lmdb.open_db(b"aux", txn=txn, create=create)
            except lmdb.NotFoundError:  # a read-only open of an index written before `aux` existed
                self.aux = None
            self.meta = self.lmdb.open_db(b"meta", txn=txn, create=create)
            self._check_schema(txn)
            self.times = self.lmdb.open_db(b"times", txn=txn, create=create)
            self.edge_times = self.lmdb.open_db(b"edgetimes", txn=txn, create=create)
            self.dbs: dict[tuple[str, str], Any] = {}
            for vertical in VERTICALS:
                for kind in KINDS:
                    self.dbs[vertical, kind] = self.lmdb.open_db(f"{vertical}.{kind}".encode(), txn=txn, create=create)
            if txn is not None:
                txn.commit()
        except BaseException:
            if txn is not None:
                txn.abort()
            raise

    def _check_schema(self, txn: lmdb.Transaction | None) -> None:
        """Raise IndexIncompatible when the index was written with another schema; a writer marks a
        new index with this one."""
        if txn is None:
            with self.lmdb.begin() as reading:
                schema = reading.get(b"schema", db=self.meta)
        else:
            schema = txn.get(b"schema", db=self.meta)
            if schema is None:
                txn.put(b"schema", pack(SCHEMA_VERSION), db=self.meta)
                txn.put(b"gen", pack(0), db=self.meta)
                return
        if schema is not None and unpack(schema) != SCHEMA_VERSION:
            raise IndexIncompatible(
                f"index at {self.path} has schema {unpack(schema)}, expected {SCHEMA_VERSION}: it was written "
                "by another version; rebuild it (`unicorn rebuild`, or remove the index directory and let "
                "`unicorn index` apply the firehose again)")

    def close(self) -> None:
        self.lmdb.close()
