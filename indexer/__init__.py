"""The indexing daemon behind `unicorn index`: firehose -> Slipstream -> index, offsets committed with each batch."""

from indexer.daemon import Indexer, run
from indexer.stats import Stats, meta_key

__all__ = ["Indexer", "Stats", "meta_key", "run"]
