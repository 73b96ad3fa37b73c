"""A record of the embedded log: `<u32 length><u32 crc32(length + payload)>payload`, little-endian."""

from __future__ import annotations

import struct
import zlib

HEADER = struct.Struct("<II")
MAX_RECORD = 16 << 20


class LogError(RuntimeError):
    """The log on disk does not match what was asked of it."""


def crc(length: bytes, payload: bytes | memoryview) -> int:
    """The CRC of a record: over its 4 length bytes, then its payload."""
    return zlib.crc32(payload, zlib.crc32(length))


def encode(payload: bytes) -> bytes:
    if len(payload) > MAX_RECORD:
        raise LogError(f"record of {len(payload)} bytes exceeds the {MAX_RECORD}-byte limit")
    length = len(payload).to_bytes(4, "little")
    return length + crc(length, payload).to_bytes(4, "little") + payload


def parse(buf: bytes, pos: int, limit: int | None = None) -> tuple[list[bytes], int, bool]:
    """Complete valid records of `buf` from `pos`: (payloads, end position, stopped on a bad record)."""
    out: list[bytes] = []
    size = len(buf)
    unpack = HEADER.unpack_from
    while limit is None or len(out) < limit:
        if size - pos < HEADER.size:
            return out, pos, False
        length, stored = unpack(buf, pos)
        if length > MAX_RECORD:
            return out, pos, True
        end = pos + HEADER.size + length
        if end > size:
            return out, pos, False
        payload = buf[pos + HEADER.size : end]
        if crc(buf[pos : pos + 4], payload) != stored:
            return out, pos, True
        out.append(payload)
        pos = end
    return out, pos, False


def count(data: bytes) -> int:
    """How many records `data`, a run of whole encoded records, holds."""
    records, pos = 0, 0
    while pos < len(data):
        (length,) = struct.unpack_from("<I", data, pos)
        pos += HEADER.size + length
        records += 1
    return records
