"""LMDB keys of texts and external ids (ARCHITECTURE.md, the index store)."""

from __future__ import annotations

import hashlib

# LMDB refuses keys of more than KEY_MAX bytes and empty keys. A text whose utf-8 is empty or longer
# is keyed by its first whole characters up to KEY_HEAD bytes, DIGEST_MARK (a byte utf-8 never
# holds) and the blake2b-256 digest of the whole text; every other text is keyed by its utf-8.
KEY_MAX = 511
KEY_HEAD = 256
DIGEST_MARK = b"\xff"


def text_bytes(text: str) -> bytes:
    """The utf-8 of a stored text; a lone surrogate (from a command line's bytes) is kept, not refused."""
    return text.encode("utf-8", "surrogatepass")


def text_from_bytes(raw: bytes) -> str:
    return bytes(raw).decode("utf-8", "surrogatepass")


def head_bytes(text: str) -> bytes:
    """The utf-8 of `text` cut to whole characters within KEY_HEAD bytes."""
    raw = text_bytes(text)
    cut = min(len(raw), KEY_HEAD)
    while cut < len(raw) and raw[cut] & 0xC0 == 0x80:  # a continuation byte: inside a character
        cut -= 1
    return raw[:cut]


def text_key(text: str) -> bytes:
    """The LMDB key of a term or a hashtag name (see KEY_MAX)."""
    raw = text_bytes(text)
    if 0 < len(raw) <= KEY_MAX:
        return raw
    return head_bytes(text) + DIGEST_MARK + hashlib.blake2b(raw, digest_size=32).digest()


def is_digest_key(key: bytes) -> bool:
    """Whether a `text_key` ends with a digest (it holds DIGEST_MARK)."""
    return DIGEST_MARK in key


def ext_key(vertical: str, ext: int | str) -> bytes:
    """The `{v}.ids` key of an external id: 8-byte big-endian, or `text_key` of a hashtag's name."""
    if vertical == "hashtag":
        return text_key(str(ext))
    return int(ext).to_bytes(8, "big")


def ext_bytes(vertical: str, ext: int | str) -> bytes:
    """The `{v}.ext` value of an external id: 8-byte big-endian, or a hashtag's whole utf-8 name."""
    if vertical == "hashtag":
        return text_bytes(str(ext))
    return int(ext).to_bytes(8, "big")


def ext_from_bytes(vertical: str, raw: bytes) -> int | str:
    """The external id an `ext_bytes` value holds."""
    if vertical == "hashtag":
        return text_from_bytes(raw)
    return int.from_bytes(raw, "big")
