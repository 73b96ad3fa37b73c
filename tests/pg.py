"""A real PostgreSQL for tests (`bench.servers.Postgres`), on 127.0.0.1.

Fixtures (registered in tests/conftest.py): `postgres` is one
server per test session (temp data dir, removed afterwards); `pg_dsn` is a fresh empty
database per test.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.servers import FAST, Postgres

_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    root = Path(tempfile.mkdtemp(prefix="unicorn-pg-"))
    server = Postgres(root / "data", settings=FAST)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_dsn(postgres: Postgres) -> str:
    return postgres.create_database(f"t{os.getpid()}_{next(_databases)}")
