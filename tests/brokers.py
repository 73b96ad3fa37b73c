"""A real Kafka-protocol broker for tests (`bench.servers.Tansu`), on 127.0.0.1.

Fixture (registered in tests/conftest.py): `tansu`, one broker per test session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bench.servers import Tansu, free_port


@pytest.fixture(scope="session")
def tansu() -> Iterator[Tansu]:
    broker = Tansu(free_port())
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def unique_topic(prefix: str = "t") -> str:
    unique_topic.counter = getattr(unique_topic, "counter", 0) + 1
    return f"{prefix}-{os.getpid()}-{unique_topic.counter}"
