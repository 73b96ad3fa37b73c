"""The ranker's snapshots in PostgreSQL (table `trending.snapshot.TABLE`, one row per kind), for
the API's read-through cache. A snapshot replaces the previous one, so writing one again is
harmless: it is written before its batch commits, and a batch lost in a crash is redone and
written again. A failed write is logged and retried with the next batch, never stopping indexing."""

from __future__ import annotations

import logging

import orjson
import psycopg

from trending.snapshot import DDL, TABLE

log = logging.getLogger(__name__)


class PostgresSnapshots:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn: psycopg.Connection | None = None
        self._written: dict[str, tuple] = {}

    def write(self, kind: str, as_of: int | None, results: list[dict]) -> None:
        if self._written.get(kind) == (as_of, results):
            return
        try:
            conn = self._connect()
            with conn.transaction():
                conn.execute(
                    f"INSERT INTO {TABLE} (kind, as_of, results) VALUES (%s, %s, %s::jsonb) "
                    "ON CONFLICT (kind) DO UPDATE SET as_of = EXCLUDED.as_of, results = EXCLUDED.results, "
                    "written_at = now()", (kind, as_of, orjson.dumps(results).decode()))
        except psycopg.Error as exc:
            log.warning("trending: snapshot not written to PostgreSQL (retried with the next batch): %s", exc)
            self.close()
            return
        self._written[kind] = (as_of, results)

    def _connect(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
            self._conn.execute(DDL)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
