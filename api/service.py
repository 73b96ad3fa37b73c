"""What one server process serves from: the index under a data directory, once it can be opened,
with the engine (the Searcher) over it, and the readiness figures (docs/http-api.md `/readyz`)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from firehose.endpoint import EMBEDDED, Endpoint
from indexer import meta_key
from indexer.store import Index, StoreError
from trending.snapshot import DSN_ENV
from api.shard import aggregator_from_env
from unicorn.engine import Engine
from unicorn.searcher import Searcher
from vocabulary import paths


class Service:
    def __init__(self, data: Path | None = None, index: Index | None = None) -> None:
        self.data = None if data is None else Path(data)
        self.index: Index | None = None
        self.searcher: Searcher | None = None
        self.firehose = None if data is None else Endpoint(self.data)  # the embedded firehose
        self._log = None
        self._lock = threading.Lock()
        if index is not None:
            self._serve(index)
        elif (aggregator := aggregator_from_env()) is not None:
            self.searcher = aggregator  # over the shard servers of `unicorn serve --shards` (api/shard.py)

    @property
    def ready(self) -> bool:
        return self.searcher is not None

    def try_open(self) -> bool:
        """Open the index if it exists (read-only: the indexer is its only writer); True once open."""
        if self.ready or self.data is None:
            return self.ready
        path = paths.index(self.data)
        with self._lock:
            if not self.ready and Index.exists(path):
                try:
                    index = Index(path, readonly=True)
                except StoreError:  # the indexer is still creating it
                    return False
                self._serve(index)
        return self.ready

    def _serve(self, index: Index) -> None:
        engine = Engine(index, trending_dsn=os.environ.get(DSN_ENV) or None)
        engine.warm()  # rank columns, popular users and typo vocabularies now rather than in the first requests
        self.index = index
        self.searcher = engine

    def state(self) -> dict:
        """{"index_open", "index_generation", "index_size_bytes", "firehose_lag", "indexer"}.

        `firehose_lag` counts the embedded firehose's events after the offsets committed with the
        index (None without an embedded firehose); `indexer` is what the indexer recorded with its
        last batch (indexer.stats: totals, events/s, lag, last commit), or None.
        """
        if self.ready and self.index is None:  # the aggregator of index shards
            return {"index_open": True, "index_generation": None, "index_size_bytes": None, "firehose_lag": None,
                    "indexer": None}
        if not self.try_open():
            return {"index_open": False, "index_generation": None, "index_size_bytes": None, "firehose_lag": None,
                    "indexer": None}
        with self.index.reader() as view:
            gen, recorded = view.gen, view.meta(meta_key(EMBEDDED))
        return {"index_open": True, "index_generation": gen, "index_size_bytes": self.index.size_bytes(),
                "firehose_lag": self._lag(), "indexer": recorded}

    def _lag(self) -> int | None:
        """Events in the embedded firehose after the offsets committed with the index."""
        if self.firehose is None or not self.firehose.exists():
            return None
        if self._log is None:
            self._log = self.firehose.log()
        committed = self.index.offsets(EMBEDDED)
        return sum(max(0, end - committed.get(p, 0)) for p, end in self._log.end_offsets().items())
