"""The real servers that the tests and the bench start (bench/servers.py) pick their own free port, and
another one when the first is taken before the server binds it."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

from bench import servers
from bench.servers import FAST, Postgres


def test_postgres_starts_on_another_port_when_its_free_port_is_taken(monkeypatch):
    # not under tmp_path: pytest keeps its base readable by root alone, and PostgreSQL runs as its own user
    with socket.socket() as held, tempfile.TemporaryDirectory(prefix="unicorn-pg-") as root:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        picks, free_port = iter([taken]), servers.free_port
        monkeypatch.setattr(servers, "free_port", lambda: next(picks, None) or free_port())  # the first is taken
        server = Postgres(Path(root) / "pg", settings=FAST).start()
        try:
            assert server.port != taken
            assert server.version()
        finally:
            server.stop()
