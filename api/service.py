"""What one server process serves from: the index under a data directory, once it can be opened,
with the engine and the typeahead over it, and the readiness figures (docs/http-api.md `/readyz`)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import lmdb

from indexer import meta_key
from indexer.store import Index
from trending.snapshot import DSN_ENV
from unicorn.engine import Engine
from unicorn.social import Social
from unicorn.trending import Trending
from unicorn.typeahead import Typeahead, rankers
from vocabulary import paths
from vocabulary.schema import VERTICALS

SOURCE = "embedded"  # the firehose source whose offsets the indexer commits with each batch


class Service:
    def __init__(self, data: Path | None = None, index: Index | None = None) -> None:
        self.data = None if data is None else Path(data)
        self.index: Index | None = None
        self.engine: Engine | None = None
        self.typeahead: Typeahead | None = None
        self.trending: Trending | None = None
        self._log = None
        self._lock = threading.Lock()
        if index is not None:
            self._serve(index)

    @property
    def ready(self) -> bool:
        return self.typeahead is not None

    def try_open(self) -> bool:
        """Open the index if it exists (read-only: the indexer is its only writer); True once open."""
        if self.ready or self.data is None:
            return self.ready
        path = paths.index(self.data)
        with self._lock:
            if not self.ready and (path / "data.mdb").exists():
                try:
                    index = Index(path, readonly=True)
                except lmdb.Error:  # the indexer is still creating it
                    return False
                self._serve(index)
        return self.ready

    def _serve(self, index: Index) -> None:
        social = Social()
        with index.reader() as view:  # load the rank columns now rather than in the first request
            for vertical in VERTICALS:
                view.rank(vertical)
            social.popular(view)
            social.graph.at(view)
        self.index = index
        self.engine = Engine(index, rankers=rankers(social))
        self.trending = Trending(index, dsn=os.environ.get(DSN_ENV) or None)
        self.typeahead = Typeahead(index, social)
        with index.reader() as view:  # the typo vocabularies too
            self.typeahead.typos.refresh(view)

    def state(self) -> dict:
        """{"index_open", "index_generation", "index_size_bytes", "firehose_lag", "indexer"}.

        `firehose_lag` counts the embedded firehose's events after the offsets committed with the
        index (None without an embedded firehose); `indexer` is what the indexer recorded with its
        last batch (indexer.stats: totals, events/s, lag, last commit), or None.
        """
        if not self.try_open():
            return {"index_open": False, "index_generation": None, "index_size_bytes": None, "firehose_lag": None,
                    "indexer": None}
        with self.index.reader() as view:
            gen, recorded = view.gen, view.meta(meta_key(SOURCE))
        return {"index_open": True, "index_generation": gen, "index_size_bytes": self.index.size_bytes(),
                "firehose_lag": self._lag(), "indexer": recorded}

    def _lag(self) -> int | None:
        """Events in the embedded firehose after the offsets committed with the index."""
        if self.data is None or not (paths.firehose(self.data) / "partitions").exists():
            return None
        if self._log is None:
            from firehose.log import EmbeddedLog

            self._log = EmbeddedLog(paths.firehose(self.data))
        committed = self.index.offsets(SOURCE)
        return sum(max(0, end - committed.get(p, 0)) for p, end in self._log.end_offsets().items())
