"""Trending hashtags and places, read side (docs/http-api.md `/v1/trending`).

The indexer's trending pipeline (`trending/`) writes one ranked snapshot per kind with every batch,
into the index (`SNAPSHOT` in the store's `aux` db) and, when a PostgreSQL DSN is configured, into
the table `trending_snapshot` as well. `Trending` reads it from PostgreSQL through an in-process
read-through cache (cachetools TTLCache) when it has a DSN, else from the index, and applies the
viewer's privacy (docs/privacy.md): places are public; a hashtag is shown only while some media visible to
the viewer carries it.
"""

from __future__ import annotations

import threading
from typing import Any

from cachetools import TTLCache

from trending.snapshot import DDL, KINDS, SNAPSHOT, TABLE, decode
from unicorn.query import privacy
from vocabulary import terms

LIMIT_MAX = 50


class Trending:
    def __init__(self, index, dsn: str | None = None, ttl_seconds: float = 1.0) -> None:
        self._index = index
        self._dsn = dsn
        self._privacy = privacy.Cache()
        self._cache: TTLCache = TTLCache(maxsize=len(KINDS), ttl=ttl_seconds)
        self._lock = threading.Lock()
        self._table_ready = False

    def snapshot(self, kind: str, view) -> dict[str, Any]:
        if self._dsn is None:
            return decode(view.aux(SNAPSHOT, kind.encode()))
        with self._lock:
            hit = self._cache.get(kind)
        if hit is None:
            hit = self._from_postgres(kind)
            with self._lock:
                self._cache[kind] = hit
        return hit

    def _from_postgres(self, kind: str) -> dict[str, Any]:
        import psycopg

        with psycopg.connect(self._dsn, connect_timeout=5) as conn:
            if not self._table_ready:  # the server may start before the indexer made it
                conn.execute(DDL)
                self._table_ready = True
            row = conn.execute(f"SELECT as_of, results FROM {TABLE} WHERE kind = %s", (kind,)).fetchone()
        return {"as_of": None, "results": []} if row is None else {"as_of": row[0], "results": row[1]}

    def part(self, kind: str, viewer: int | None, context=None) -> dict[str, Any]:
        """An index shard's part of `top` (every shard holds the snapshot): the whole snapshot and, for hashtags
        and a viewer, the hashtags some visible media here carries (from the viewer's context, unicorn.context)."""
        with self._index.reader() as view:
            snapshot = self.snapshot(kind, view)
            visible = None
            if kind == "hashtag" and viewer is not None:
                media = self._privacy.get(view, viewer, context).visible["media"]
                visible = [r["id"] for r in snapshot["results"]
                           if view.posting("media", terms.hashtag(r["id"])).intersect(media)]
        return {"as_of": snapshot["as_of"], "results": snapshot["results"], "visible": visible}

    def top(self, kind: str, limit: int, viewer: int | None) -> dict[str, Any]:
        """docs/http-api.md: {"kind", "results": [{"id", "title", "score", "recent", "baseline"}], "as_of"}."""
        with self._index.reader() as view:
            snapshot = self.snapshot(kind, view)
            results = snapshot["results"]
            if kind == "hashtag" and viewer is not None:
                media = self._privacy.get(view, viewer).visible["media"]
                results = [r for r in results if view.posting("media", f"hashtag:{r['id']}").intersect(media)]
        return {"kind": kind, "results": results[:limit], "as_of": snapshot["as_of"]}
