"""Text normalization and tokenization (docs/events.md), shared by indexing and querying."""

from __future__ import annotations

import re
import unicodedata

_TOKEN = re.compile(r"[^\W_]+")
_HASHTAG = re.compile(r"#(\w+)")
_MENTION = re.compile(r"@([\w.]+)")


def normalize(text: str) -> str:
    """NFKC, casefold, then NFKD with combining marks removed: "Zoë Ångström" -> "zoe angstrom"."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    """Maximal runs of Unicode letters or digits of the normalized text."""
    return _TOKEN.findall(normalize(text))


def hashtag_name(text: str) -> str:
    """A hashtag normalized but kept whole: "#Café_Paris" -> "cafe_paris"."""
    return normalize(text.removeprefix("#"))


def caption_hashtags(caption: str) -> list[str]:
    """Distinct normalized `#tags` of a caption, in order of first appearance."""
    return list(dict.fromkeys(hashtag_name(t) for t in _HASHTAG.findall(caption)))


def caption_mentions(caption: str) -> list[str]:
    """Distinct normalized `@usernames` of a caption, in order of first appearance."""
    return list(dict.fromkeys(normalize(m.rstrip(".")) for m in _MENTION.findall(caption)))
