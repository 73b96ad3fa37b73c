"""What the indexer reports: in the index meta (`indexer:<source>`, committed with each batch, so
any reader of the index sees it) and as Prometheus metrics of the indexer process."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("unicorn_indexer_events", "Firehose events applied to the index", ["source"])
DEAD_LETTERS = Counter("unicorn_indexer_dead_letters", "Firehose records dead-lettered", ["source"])
LAG = Gauge("unicorn_indexer_lag", "Records after the committed offset, per partition", ["source", "partition"],
            multiprocess_mode="livemax")
LAST_COMMIT = Gauge("unicorn_indexer_last_commit_timestamp_seconds", "Unix time of the last committed batch",
                    ["source"], multiprocess_mode="livemax")
BATCH_SECONDS = Histogram("unicorn_indexer_batch_seconds", "Time to apply and commit one batch", ["source"],
                          buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))

RATE_WINDOW = 10.0  # seconds over which events/s is measured


def meta_key(source: str) -> str:
    return f"indexer:{source}"


@dataclass
class Stats:
    """Counts of this run (`applied`, `dead_lettered`) and of the index's whole life (`*_total`)."""

    source: str
    applied: int = 0
    dead_lettered: int = 0
    applied_total: int = 0
    dead_lettered_total: int = 0
    batches: int = 0
    events_per_s: float = 0.0
    lag: dict[int, int] = field(default_factory=dict)
    last_commit: float | None = None
    _samples: deque = field(default_factory=deque, repr=False)

    @classmethod
    def resume(cls, source: str, meta: dict | None) -> Stats:
        meta = meta or {}
        return cls(source, applied_total=meta.get("applied_total", 0), dead_lettered_total=meta.get("dead_lettered_total", 0))

    def committed(self, applied: int, dead_lettered: int, lag: dict[int, int], seconds: float) -> None:
        """Account for a batch that has just committed."""
        now = time.time()
        self.applied += applied
        self.dead_lettered += dead_lettered
        self.applied_total += applied
        self.dead_lettered_total += dead_lettered
        self.batches += 1
        self.lag = lag
        self.last_commit = now
        self._samples.append((now, self.applied))
        while now - self._samples[0][0] > RATE_WINDOW:
            self._samples.popleft()
        first_time, first_applied = self._samples[0]
        self.events_per_s = (self.applied - first_applied) / (now - first_time) if now > first_time else 0.0
        EVENTS.labels(self.source).inc(applied)
        DEAD_LETTERS.labels(self.source).inc(dead_lettered)
        for partition, behind in lag.items():
            LAG.labels(self.source, str(partition)).set(behind)
        LAST_COMMIT.labels(self.source).set(now)
        BATCH_SECONDS.labels(self.source).observe(seconds)

    def meta_after(self, applied: int, dead_lettered: int, lag: dict[int, int]) -> dict:
        """The figures to store under `meta_key(source)` with a batch, as they will be once it commits."""
        return {
            "source": self.source,
            "applied_total": self.applied_total + applied,
            "dead_lettered_total": self.dead_lettered_total + dead_lettered,
            "events_per_s": self.events_per_s,
            "lag": lag,
            "last_commit": time.time(),
        }
