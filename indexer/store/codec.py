"""How the store's values are packed (ARCHITECTURE.md, the index store): msgpack values, internal ids,
generations, static-order ranks, event times, posting values and `aux` keys."""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterator
from typing import Any

import msgpack
from pyroaring import BitMap, FrozenBitMap

from indexer.keys import is_digest_key, text_bytes, text_from_bytes
from vocabulary.schema import RANK_COUNT

IID = struct.Struct(">I")  # an internal id, as a key
GEN = struct.Struct(">Q")  # a generation: the stamp of a posting value, the key of a `rankdirty` record
RANK = struct.Struct("<qqQ")  # count, taken_at, external id
TIME = struct.Struct(">q")  # an event's ts
_LEN = struct.Struct(">I")
EDGE_GROUP = 5  # bytes of an edge time key that name its group: kind and source's internal id
_NARROW = struct.Struct("<q")  # base ts of a group whose times are 4-byte offsets from it
_U32 = struct.Struct("<I")
_WIDE = struct.Struct("<q")
_BIG_ENDIAN = sys.byteorder == "big"
_ALWAYS_SHORTER = 3  # ids up to which 1 + 4n bytes beat any serialization (15 bytes at least)
assert array("I").itemsize == 4


def pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def unpack(raw: bytes | memoryview) -> Any:
    return msgpack.unpackb(raw, raw=False, strict_map_key=False)


# The fields of each vertical's documents in the order Slipstream writes them (docs/events.md).
DOC_FIELDS = {
    "user": ("id", "username", "full_name", "is_private", "is_verified", "followers_count", "following_count",
             "media_count"),
    "media": ("id", "owner", "owner_username", "caption", "hashtags", "mentions", "place", "taken_at", "like_count"),
    "hashtag": ("id", "name", "media_count"),
    "place": ("id", "name", "city", "country", "lat", "lng", "media_count"),
}


def doc_value(vertical: str, doc: dict) -> bytes:
    """A document as stored: the msgpack array of its values when it has exactly DOC_FIELDS in
    that order (no field names stored), else the msgpack map."""
    if tuple(doc) == DOC_FIELDS[vertical]:
        return pack(list(doc.values()))
    return pack(doc)


def document(vertical: str, raw: bytes | memoryview) -> dict:
    """The document a `doc_value` holds."""
    value = unpack(raw)
    return dict(zip(DOC_FIELDS[vertical], value)) if isinstance(value, list) else value


def rank_value(vertical: str, doc: dict) -> bytes:
    """A document's static-order key; hashtags (external id 0) break ties by name instead."""
    ext = 0 if vertical == "hashtag" else doc["id"]
    return RANK.pack(doc[RANK_COUNT[vertical]], doc.get("taken_at", 0), ext)


def _u32(values: list[int]) -> array:
    """4-byte unsigned values as a little-endian array."""
    packed = array("I", values)
    if _BIG_ENDIAN:
        packed.byteswap()
    return packed


def _from_u32(raw: bytes | memoryview) -> array:
    """The 4-byte unsigned values of little-endian bytes."""
    values = array("I")
    values.frombytes(raw)
    if _BIG_ENDIAN:
        values.byteswap()
    return values


def edge_times_value(times: dict[int, int]) -> bytes:
    """The `edgetimes` value of one group, target internal id -> ts: the targets ascending, then their
    times as 4-byte offsets from a base not above the least (a 0x04 byte and that 8-byte base first)
    when they span less than 2**32 ms, else as 8-byte values (a 0x08 byte first); little-endian."""
    targets = sorted(times)
    stamps = [times[target] for target in targets]
    base = min(stamps)
    if max(stamps) - base < 2**32:
        return b"\x04" + _NARROW.pack(base) + _u32(targets).tobytes() + _u32([ts - base for ts in stamps]).tobytes()
    return b"\x08" + _u32(targets).tobytes() + struct.pack(f"<{len(stamps)}q", *stamps)


def edge_times(raw: bytes | memoryview) -> dict[int, int]:
    """The group an `edge_times_value` holds, target -> ts."""
    if raw[0] == 4:
        n = (len(raw) - 9) // 8
        base = _NARROW.unpack_from(raw, 1)[0]
        targets = _from_u32(raw[9:9 + 4 * n])
        return dict(zip(targets, [base + offset for offset in _from_u32(raw[9 + 4 * n:])]))
    n = (len(raw) - 1) // 12
    return dict(zip(_from_u32(raw[1:1 + 4 * n]), struct.unpack_from(f"<{n}q", raw, 1 + 4 * n)))


def _find_edge(raw: bytes, target: int) -> tuple[int, int, int, int]:
    """(offset of the targets, their count, bytes of a time, index of `target` or -1) in an `edgetimes` value."""
    start, n, width = (9, (len(raw) - 9) // 8, 4) if raw[0] == 4 else (1, (len(raw) - 1) // 12, 8)
    needle, end = _U32.pack(target), start + 4 * n
    at = raw.find(needle, start, end)
    while at >= 0 and (at - start) % 4:
        at = raw.find(needle, at + 1, end)
    return start, n, width, -1 if at < 0 else (at - start) // 4


def edge_time(raw: bytes, target: int) -> int | None:
    """The time of `target` in an `edgetimes` value, read in place."""
    start, n, width, i = _find_edge(raw, target)
    if i < 0:
        return None
    at = start + 4 * n + width * i
    if width == 4:
        return _NARROW.unpack_from(raw, 1)[0] + _U32.unpack_from(raw, at)[0]
    return _WIDE.unpack_from(raw, at)[0]


def edge_times_without(raw: bytes, target: int) -> bytes | None:
    """An `edgetimes` value without `target`, cut in place: `raw` itself when it does not hold it,
    None when it held only that."""
    start, n, width, i = _find_edge(raw, target)
    if i < 0:
        return raw
    if n == 1:
        return None
    at = start + 4 * n + width * i
    return raw[:start + 4 * i] + raw[start + 4 * i + 4:at] + raw[at + width:]


def posting_payload(bitmap: BitMap) -> bytes:
    """A posting list as stored: `BitMap.serialize()`, or when shorter (a short or sparse list) a 0x00
    byte and the ids ascending as 4-byte little-endian values (a serialization never starts with 0x00)."""
    count = len(bitmap)
    serialized = None if count <= _ALWAYS_SHORTER else bitmap.serialize()
    if serialized is None or 1 + 4 * count < len(serialized):
        ids = bitmap.to_array()
        if _BIG_ENDIAN:
            ids.byteswap()
        return b"\x00" + ids.tobytes()
    return serialized


def decode_posting(payload: bytes | memoryview, kind: type[BitMap | FrozenBitMap] = FrozenBitMap) -> BitMap | FrozenBitMap:
    """The posting list a `posting_payload` holds, as `kind`."""
    if payload[0] == 0:
        return kind(_from_u32(payload[1:]))
    return kind.deserialize(payload)


def posting_value(key: bytes, term: str, stamp: bytes, bitmap: BitMap) -> bytes:
    """Stamp, then (under a digest key) the whole term's length and utf-8, then the `posting_payload`."""
    if is_digest_key(key):
        whole = text_bytes(term)
        return stamp + _LEN.pack(len(whole)) + whole + posting_payload(bitmap)
    return stamp + posting_payload(bitmap)


def posting_stamp(raw: bytes | memoryview) -> bytes:
    """The generation stamp of a stored posting value."""
    return bytes(raw[:GEN.size])


def posting_bitmap(key: bytes, raw: bytes | memoryview) -> bytes | memoryview:
    """The `posting_payload` of a stored posting value."""
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
