"""The embedded firehose: a durable partitioned log in a directory, no server.

Modules: records (a record's bytes: length, CRC, payload), segments (the directory, its
partitions and segment files), producer (all-or-nothing appends under a lock), consumer
(lock-free readers), embedded (`EmbeddedLog`, which opens both).
"""

from firehose.log.consumer import LogConsumer
from firehose.log.embedded import EmbeddedLog
from firehose.log.producer import FLUSH_BYTES, LogProducer
from firehose.log.records import HEADER, MAX_RECORD, LogError, encode
from firehose.log.segments import CHUNK, cause, fsync_dir

__all__ = [
    "CHUNK",
    "FLUSH_BYTES",
    "HEADER",
    "MAX_RECORD",
    "EmbeddedLog",
    "LogConsumer",
    "LogError",
    "LogProducer",
    "cause",
    "encode",
    "fsync_dir",
]
