"""The index store: roaring-bitmap posting lists, id maps and documents in one LMDB environment.

Writers apply a whole batch in one `WriteBatch` (one LMDB write transaction) together with the
firehose offsets it consumed; readers take `ReadView` snapshots and never see half a batch. The
store raises StoreError (errors.py), never LMDB's errors. Layout: ARCHITECTURE.md.

Modules: codec (value packing), caches (the posting cache), columns (reader-side numpy columns),
environment (the LMDB environment and its databases), reads (ReadView), writes (WriteBatch),
index (Index), errors.
"""

from indexer.store.columns import LinkColumns, RankColumns
from indexer.store.environment import SCHEMA_VERSION
from indexer.store.errors import IndexIncompatible, IndexNotFound, StorageFull, StoreError, Unstorable
from indexer.store.index import Index
from indexer.store.reads import EMPTY, ReadView
from indexer.store.writes import WriteBatch

__all__ = [
    "EMPTY",
    "SCHEMA_VERSION",
    "Index",
    "IndexIncompatible",
    "IndexNotFound",
    "LinkColumns",
    "RankColumns",
    "ReadView",
    "StorageFull",
    "StoreError",
    "Unstorable",
    "WriteBatch",
]
