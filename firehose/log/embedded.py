"""`EmbeddedLog`: the embedded firehose, a durable partitioned log in a directory, no server."""

from __future__ import annotations

from firehose.log.consumer import LogConsumer
from firehose.log.producer import LogProducer
from firehose.log.segments import LogDirectory


class EmbeddedLog(LogDirectory):
    """A partitioned durable log in `path`; created with `partitions` if absent.

    By default it has one partition: a single indexer reads it, so more partitions buy no
    parallelism, and one keeps the platform's global order, which cross-entity effects depend
    on (a caption's `@mention` resolves against the users indexed before it).
    """

    def producer(self) -> LogProducer:
        return LogProducer(self)

    def consumer(self) -> LogConsumer:
        return LogConsumer(self)
