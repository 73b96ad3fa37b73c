"""SPEC §1 text rules in plain Python, from the SPEC's words (no product code).

- normalize: Unicode NFKC, casefold, NFKD, then every combining mark (General Category M) dropped.
- tokens: maximal runs of letters or digits (str.isalnum) of the normalized text.
- hashtag_name: normalized, kept whole (`_` stays), a leading `#` dropped.
- caption_hashtags: each `#` followed by letters, digits or `_`; caption_mentions: each `@` followed
  by letters, digits, `_` or `.` (a username's characters), a sentence's final dots not included.
"""

from __future__ import annotations

import unicodedata


def normalize(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(c for c in decomposed if not unicodedata.category(c).startswith("M"))


def _runs(text: str, member) -> list[str]:
    runs, current = [], ""
    for c in text:
        if member(c):
            current += c
        elif current:
            runs.append(current)
            current = ""
    return runs + [current] if current else runs


def tokens(text: str) -> list[str]:
    return _runs(normalize(text), str.isalnum)


def hashtag_name(text: str) -> str:
    return normalize(text[1:] if text.startswith("#") else text)


def _after(caption: str, sign: str, member) -> list[str]:
    found = []
    for i, c in enumerate(caption):
        if c == sign:
            j = i + 1
            while j < len(caption) and member(caption[j]):
                j += 1
            if j > i + 1:
                found.append(caption[i + 1:j])
    return found


def caption_hashtags(caption: str) -> list[str]:
    """Distinct names of the caption's `#tags`, first appearance first."""
    names = (hashtag_name(t) for t in _after(caption, "#", lambda c: c.isalnum() or c == "_"))
    return list(dict.fromkeys(n for n in names if n))


def caption_mentions(caption: str) -> list[str]:
    """Distinct normalized names of the caption's `@names`, first appearance first."""
    names = (normalize(m.rstrip(".")) for m in _after(caption, "@", lambda c: c.isalnum() or c in "_."))
    return list(dict.fromkeys(n for n in names if n))


def prefixes(token: str, longest: int | None = None) -> list[str]:
    """Every prefix of `token`, shortest first, up to `longest` characters."""
    return [token[:n] for n in range(1, min(len(token), longest or len(token)) + 1)]
