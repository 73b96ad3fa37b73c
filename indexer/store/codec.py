"""How the store's values are packed (ARCHITECTURE.md, the index store): msgpack values, internal ids,
generations, static-order ranks, event times, posting values and `aux` keys."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import msgpack
from pyroaring import BitMap

from indexer.keys import is_digest_key, text_bytes, text_from_bytes
from vocabulary.schema import RANK_COUNT

IID = struct.Struct(">I")  # an internal id, as a key
GEN = struct.Struct(">Q")  # a generation: the stamp of a posting value, the key of a `rankdirty` record
RANK = struct.Struct("<qqQ")  # count, taken_at, external id
TIME = struct.Struct(">q")  # an event's ts
_LEN = struct.Struct(">I")


def pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def unpack(raw: bytes | memoryview) -> Any:
    return msgpack.unpackb(raw, raw=False, strict_map_key=False)


def rank_value(vertical: str, doc: dict) -> bytes:
    """A document's static-order key; hashtags (external id 0) break ties by name instead."""
    ext = 0 if vertical == "hashtag" else doc["id"]
    return RANK.pack(doc[RANK_COUNT[vertical]], doc.get("taken_at", 0), ext)


def posting_value(key: bytes, term: str, stamp: bytes, bitmap: BitMap) -> bytes:
    """Stamp, then (under a digest key) the whole term's length and utf-8, then the bitmap."""
    if is_digest_key(key):
        whole = text_bytes(term)
        return stamp + _LEN.pack(len(whole)) + whole + bitmap.serialize()
    return stamp + bitmap.serialize()


def posting_stamp(raw: bytes | memoryview) -> bytes:
    """The generation stamp of a stored posting value."""
    return bytes(raw[:GEN.size])


def posting_bitmap(key: bytes, raw: bytes | memoryview) -> bytes | memoryview:
    """The serialized bitmap of a stored posting value."""
    if is_digest_key(key):
        return raw[GEN.size + _LEN.size + _LEN.unpack_from(raw, GEN.size)[0]:]
    return raw[GEN.size:]


def posting_term(key: bytes, raw: bytes | memoryview) -> str:
    """The whole term of a stored posting."""
    if is_digest_key(key):
        size = _LEN.unpack_from(raw, GEN.size)[0]
        return text_from_bytes(raw[GEN.size + _LEN.size:GEN.size + _LEN.size + size])
    return text_from_bytes(key)


def offsets_key(source: str) -> str:
    """The `meta` key of a firehose source's committed offsets."""
    return f"offsets:{source}"


def next_id_key(vertical: str) -> str:
    """The `meta` key of a vertical's next internal id."""
    return f"next_id:{vertical}"


def aux_key(name: str, key: bytes) -> bytes:
    """The `aux` key of a component's key: the component's name, 0x00, its key."""
    return name.encode() + b"\0" + key


def aux_scan(txn, db, name: str, prefix: bytes, below: bytes | None) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) pairs of component `name` whose key starts with `prefix` (and is below `below`)."""
    start = aux_key(name, prefix)
    stop = None if below is None else aux_key(name, below)
    skip = len(name) + 1
    cursor = txn.cursor(db=db)
    if not cursor.set_range(start):
        return
    for key, value in cursor.iternext():
        key = bytes(key)
        if not key.startswith(start) or (stop is not None and key >= stop):
            return
        yield key[skip:], bytes(value)
