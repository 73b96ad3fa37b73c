"""The posting cache every view of one index shares in this process."""

from __future__ import annotations

import threading

from cachetools import LRUCache
from pyroaring import FrozenBitMap

from indexer.store.codec import decode_posting


class PostingCache:
    """Decoded posting lists by (vertical, term key), each valid for the generation stamp it was
    decoded at; the least recently used go beyond `max_bytes` of serialized bitmaps."""

    def __init__(self, max_bytes: int) -> None:
        # entry: (stamp, bitmap, serialized size)
        self._entries: LRUCache = LRUCache(maxsize=max_bytes, getsizeof=lambda entry: entry[2])
        self._lock = threading.Lock()  # cachetools caches are not thread-safe

    def get(self, key: tuple[str, bytes], stamp: bytes, payload: bytes | memoryview) -> FrozenBitMap:
        """The posting list stored as `payload` (`codec.posting_payload`) at `stamp`, decoded once per stamp."""
        with self._lock:
            try:
                hit = self._entries[key]
            except KeyError:
                hit = None
        if hit is not None and hit[0] == stamp:
            return hit[1]
        bitmap = decode_posting(payload)
        with self._lock:
            try:
                self._entries[key] = (stamp, bitmap, len(payload))
            except ValueError:  # larger than the whole cache: not kept, nor its stale decoding
                self._entries.pop(key, None)
        return bitmap


class GenerationMemo:
    """Posting lists by (vertical, term) as of one generation, the newest asked for: any view of that
    generation reads the same lists, so a hit needs no LMDB read. At most `max_bytes` of serialized
    bitmaps are kept; past that it starts over. A view of an older generation neither reads nor fills it."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._at: tuple[int, dict[tuple[str, str], FrozenBitMap], list[int]] = (-1, {}, [0])

    def get(self, gen: int, key: tuple[str, str]) -> FrozenBitMap | None:
        at, entries, _ = self._at
        return entries.get(key) if at == gen else None

    def put(self, gen: int, key: tuple[str, str], bitmap: FrozenBitMap, size: int) -> None:
        at, entries, used = self._at
        if at < gen or used[0] + size > self.max_bytes:
            if at > gen:
                return
            at, entries, used = self._at = (gen, {}, [0])
        elif at > gen:
            return
        entries[key] = bitmap
        used[0] += size
