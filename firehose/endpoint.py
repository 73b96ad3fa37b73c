"""Where the firehose is, and what opens it: the embedded log under a data directory, or a Kafka
topic. The indexer, the console and bench open consumers, producers and dead letters here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from firehose.deadletter import DeadLetters, EmbeddedDeadLetters, KafkaDeadLetters
from firehose.kafka import KafkaConsumer, KafkaProducer
from firehose.log import EmbeddedLog
from firehose.transport import Consumer, Producer
from vocabulary import paths

DEFAULT_TOPIC = "unicorn.events"
EMBEDDED = "embedded"  # the source name of the embedded log


@dataclass(frozen=True)
class Endpoint:
    """The embedded log at `paths.firehose(data)` with dead letters beside it, or with `bootstrap`
    the Kafka `topic` with dead letters in `<topic>.deadletter`."""

    data: Path
    bootstrap: str | None = None
    topic: str = DEFAULT_TOPIC

    @property
    def source(self) -> str:
        """The name the indexer commits this firehose's offsets under."""
        return EMBEDDED if self.bootstrap is None else f"kafka:{self.topic}"

    def exists(self) -> bool:
        """Whether there is a firehose to read: the embedded log has been created (a Kafka topic is
        created by its first user)."""
        return self.bootstrap is not None or EmbeddedLog.exists(paths.firehose(self.data))

    def log(self) -> EmbeddedLog:
        """The embedded log (created if absent)."""
        if self.bootstrap is not None:
            raise ValueError(f"the firehose of {self.source} is not an embedded log")
        return EmbeddedLog(paths.firehose(self.data))

    def producer(self) -> Producer:
        if self.bootstrap is None:
            return self.log().producer()
        return KafkaProducer(self.bootstrap, self.topic)

    def consumer(self) -> Consumer:
        if self.bootstrap is None:
            return self.log().consumer()
        return KafkaConsumer(self.bootstrap, self.topic)

    def dead_letters(self) -> DeadLetters:
        if self.bootstrap is None:
            return EmbeddedDeadLetters(self.data)
        return KafkaDeadLetters(self.bootstrap, self.topic)
