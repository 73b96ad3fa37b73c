"""A ranked trending snapshot as the pipeline writes it and the read side (`unicorn/trending.py`) reads it:
in the index's `aux` db under SNAPSHOT and, with a DSN, in the PostgreSQL table TABLE."""

from __future__ import annotations

from typing import Any

import msgpack

DSN_ENV = "UNICORN_TRENDING_DSN"  # PostgreSQL for the snapshots, for the indexer and the server
SNAPSHOT = "trending.snapshot"  # aux name; key: the kind, utf-8
KINDS = ("hashtag", "place")
TABLE = "trending_snapshot"
DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    kind text PRIMARY KEY,
    as_of bigint NOT NULL,
    results jsonb NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now())"""


def encode(as_of: int | None, results: list[dict]) -> bytes:
    """A snapshot: `results` are {"id", "title", "score", "recent", "baseline"}, best first."""
    return msgpack.packb({"as_of": as_of, "results": results})


def decode(raw: bytes | None) -> dict[str, Any]:
    return msgpack.unpackb(raw) if raw is not None else {"as_of": None, "results": []}
