"""SPEC §6 typos in plain Python: optimal string alignment distance and the edit rule."""

from __future__ import annotations

import functools


def _table(a: str, b: str) -> list[list[int]]:
    """d[i][j]: the optimal string alignment distance between a[:i] and b[:j]."""
    d = [[i + j if i == 0 or j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d


def osa(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, swaps of neighbours."""
    return _table(a, b)[len(a)][len(b)]


def edits_allowed(typed: str) -> int:
    return 0 if len(typed) < 4 else 1 if len(typed) < 8 else 2


@functools.cache
def starts_within(typed: str, name_token: str, typos: bool = True) -> bool:
    """Whether `name_token` starts with `typed`, or (typos on) with something within the allowed edits
    of it: some prefix name_token[:m] within those edits (the table's last row holds every m)."""
    if name_token.startswith(typed):
        return True
    edits = edits_allowed(typed) if typos else 0
    return edits > 0 and min(_table(typed, name_token)[len(typed)]) <= edits


def match(wanted: list[str], name_tokens: list[str], typos: bool = True) -> str | None:
    """"exact" when every wanted token starts a name token, "typo" when every one does only with its
    allowed edits, else None."""
    if not wanted:
        return None
    if all(any(t.startswith(w) for t in name_tokens) for w in wanted):
        return "exact"
    if typos and all(any(starts_within(w, t) for t in name_tokens) for w in wanted):
        return "typo"
    return None
