"""Text normalization and tokenization (docs/events.md), shared by indexing and querying."""

from __future__ import annotations

import re
import unicodedata

_TOKEN = re.compile(r"[^\W_]+")
_HASHTAG = re.compile(r"#(\w+)")
_MENTION = re.compile(r"@([\w.]+)")


class _Unmarked(dict):
    """A `str.translate` table that deletes combining marks, filled as code points are met."""

    def __missing__(self, code: int) -> int | None:
        kept = self[code] = None if unicodedata.combining(chr(code)) else code
        return kept


_UNMARKED = _Unmarked()


def normalize(text: str) -> str:
    """NFKC, casefold, then NFKD with combining marks removed: "Zoë Ångström" -> "zoe angstrom"."""
    if text.isascii():  # every step but casefold leaves ASCII as it is
        return text.lower()
    folded = unicodedata.normalize("NFKC", text).casefold()
    return unicodedata.normalize("NFKD", folded).translate(_UNMARKED)


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
