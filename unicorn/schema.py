"""Verticals, term prefixes and how verticals connect (docs/events.md, §3, §4)."""

from __future__ import annotations

import hashlib

VERTICALS = ("user", "media", "hashtag", "place")

# `name:` postings exist for token prefixes up to this many characters; longer prefixes are
# verified against the document.
PREFIX_MAX = 8

# Prefixes a query may use, per vertical (docs/query-language.md). Internal terms start with "_".
PREFIXES: dict[str, frozenset[str]] = {
    "user": frozenset({"name", "username", "following", "follower", "is"}),
    "media": frozenset({"owner", "hashtag", "place", "mention", "liker", "word"}),
    "hashtag": frozenset({"name"}),
    "place": frozenset({"name", "city"}),
}

# Edge terms whose visibility depends on the viewer's relation to the value (docs/privacy.md).
EDGE_PREFIXES = frozenset({"following", "follower", "liker"})

# apply PREFIX: -> (inner vertical, outer vertical)
APPLY: dict[str, tuple[str, str]] = {
    "following": ("user", "user"),
    "follower": ("user", "user"),
    "owner": ("user", "media"),
    "mention": ("user", "media"),
    "liker": ("user", "media"),
    "place": ("place", "media"),
    "hashtag": ("hashtag", "media"),
}

# extract FIELD: -> (inner vertical, outer vertical)
EXTRACT: dict[str, tuple[str, str]] = {
    "owner": ("media", "user"),
    "mention": ("media", "user"),
    "place": ("media", "place"),
    "hashtag": ("media", "hashtag"),
}

# The count that leads each vertical's static order (docs/query-language.md).
RANK_COUNT = {"user": "followers_count", "media": "like_count", "hashtag": "media_count", "place": "media_count"}

LIVE = "_live"


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
