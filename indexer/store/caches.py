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
