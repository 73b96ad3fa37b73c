"""The four stages in a line, run by the indexer inside each batch's write transaction.

    pipeline = Pipeline(dsn)                  # once per indexer
    run = pipeline.begin(batch)               # per batch
    run.observe(event)                        # per event, right after Slipstream applied it
    run.finish()                              # before the batch commits with its offsets

`observe` runs the pre-processor, which attaches the owner and the clock as of that event and
queues the media events; `finish` runs the parser, the scorer and the ranker over the whole
batch at once, and writes the snapshot (ids and titles, best first) into the batch, and to
PostgreSQL when a DSN is configured. Everything the pipeline writes into the index commits in the batch's
transaction, with the firehose offsets: a crash loses or doubles nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple

from firehose.events import Event
from trending.parser import KINDS, parse
from trending.preprocess import Preprocessor
from trending.ranker import Ranked, rank
from trending.scorer import Scorer
from trending.snapshot import DSN_ENV, SNAPSHOT, encode


class Run(NamedTuple):
    """The pipeline over one batch."""

    observe: Callable[[Event], None]  # the pre-processor's, called as is: no hop per event
    finish: Callable[[], dict[str, dict]]


class Pipeline:
    def __init__(self, dsn: str | None = None) -> None:
        self.preprocess = Preprocessor()
        self.scorer = Scorer()
        self.sink = None
        if dsn:
            from trending.sink import PostgresSnapshots

            self.sink = PostgresSnapshots(dsn)
        self._batch = None

    @classmethod
    def from_env(cls) -> Pipeline:
        return cls(os.environ.get(DSN_ENV) or None)

    def begin(self, batch) -> Run:
        self._batch = batch
        self.preprocess.begin(batch)
        self.scorer.begin(batch)
        return Run(self.preprocess.observe, self.finish)

    def finish(self) -> dict[str, dict]:
        """Count, rank and store the snapshots; returns them per kind ({"as_of", "results"})."""
        clock, enriched = self.preprocess.finish()
        self.scorer.flush(clock, parse(enriched))
        ranked = rank(self.scorer)
        snapshots = {}
        for kind in KINDS:
            results = self._described(kind, ranked[kind])
            self._batch.put_aux(SNAPSHOT, kind.encode(), encode(clock.as_of, results))
            if self.sink is not None:
                self.sink.write(kind, clock.as_of, results)
            snapshots[kind] = {"as_of": clock.as_of, "results": results}
        return snapshots

    def _described(self, kind: str, ranked: list[Ranked]) -> list[dict]:
        """The API's form of the ranked items that exist (a live hashtag, an upserted place)."""
        batch, results = self._batch, []
        for item in ranked:
            doc = batch.doc(kind, item.iid)
            if doc is None:
                continue
            title = f"#{doc['name']}" if kind == "hashtag" else doc["name"]
            results.append({"id": str(doc["id"]), "title": title, "score": round(item.score, 6),
                            "recent": item.recent, "baseline": round(item.baseline, 6)})
        return results
