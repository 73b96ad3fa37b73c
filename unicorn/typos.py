"""Typo tolerance of the typeahead (docs/http-api.md `typos=auto`).

A typed token of MIN_LENGTH to 7 characters also matches a name token that starts within one
edit of it, one of TWO_EDITS_FROM or more characters within two, where an edit inserts,
deletes or substitutes a character or swaps two neighbours: the optimal string alignment (OSA)
distance between the typed token and some prefix of the name token is at most `allowed(token)`.

The stored `name:` terms of a vertical are exactly the token prefixes of up to PREFIX_MAX
characters. A typed token within k edits of a prefix p of a name token is within k edits of
the stored p when p has at most PREFIX_MAX characters (`sure` terms: every document of their
posting matches); otherwise some prefix of the typed token is within k edits of p's first
PREFIX_MAX characters (`partial` terms: their documents are checked with `matches_any`).

`Vocabulary` keeps a vertical's stored prefixes in buckets by (length, position, character)
for positions 0..2: a term within k edits of t has, among its first k + 1 characters, one of
t's first k + 1 characters, so a lookup scores (rapidfuzz OSA, in C) only the buckets of those
characters at lengths len(t) - k .. len(t) + k. It is built by one scan of the `name:` terms,
then follows newer snapshots through the documents changed since (a removed term may stay: its
posting is empty). Lookups are cached per vocabulary version. Figures: bench/typos.py.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from cachetools import LRUCache
from rapidfuzz import process
from rapidfuzz.distance import OSA

from vocabulary import terms, text
from vocabulary.schema import PREFIX_MAX

MIN_LENGTH = 4
TWO_EDITS_FROM = 8
MAX_EDITS = 2
LOOKUPS = 4096  # cached lookups per vertical
NAME = terms.name("")  # the `name:` terms' common start


def allowed(token: str) -> int:
    """Edits a typed token of this length may carry (docs/http-api.md)."""
    if len(token) < MIN_LENGTH:
        return 0
    return 1 if len(token) < TWO_EDITS_FROM else 2


def matches_token(typed: str, name_token: str, edits: int) -> bool:
    """Whether some prefix of `name_token` is within `edits` edits (OSA) of `typed`."""
    n = len(typed)
    return any(OSA.distance(typed, name_token[:m], score_cutoff=edits) <= edits
               for m in range(max(0, n - edits), min(len(name_token), n + edits) + 1))


def matches_any(typed: str, name_tokens: list[str]) -> bool:
    """Whether `typed` starts one of `name_tokens` exactly or through its allowed edits."""
    edits = allowed(typed)
    return any(token.startswith(typed) or (edits and matches_token(typed, token, edits)) for token in name_tokens)


@dataclass(frozen=True)
class Nearby:
    """Stored `name:` prefixes near a typed token (see the module's doc)."""

    sure: tuple[str, ...]
    partial: tuple[str, ...]


class Vocabulary:
    """One vertical's stored `name:` prefixes, bucketed for lookups, following newer snapshots."""

    def __init__(self, vertical: str) -> None:
        self.vertical = vertical
        self.gen = -1
        self.version = 0  # counts the refreshes that added terms
        self._terms: set[str] = set()
        self._buckets: dict[tuple[int, int, str], list[str]] = {}
        self._lookups: LRUCache = LRUCache(LOOKUPS)
        self._lock = threading.Lock()

    def refresh(self, view) -> None:
        """Bring the vocabulary to `view`'s generation (never back to an older one)."""
        with self._lock:
            if view.gen <= self.gen:
                return
            changed = view.changed_since(self.vertical, self.gen) if self.gen >= 0 else None
            if changed is None:
                self._terms, self._buckets = set(), {}
                added = self._add(term[len(NAME):] for term in view.terms(self.vertical, NAME))
            else:
                added = self._add(p for iid in changed for p in self._prefixes(view.doc(self.vertical, iid)))
            self.gen = view.gen
            if added:
                self.version += 1
                self._lookups.clear()

    def nearby(self, typed: str) -> Nearby:
        """The stored prefixes within `allowed(typed)` edits of `typed` (sure), or of a prefix of it (partial)."""
        with self._lock:
            hit = self._lookups.get(typed)
            if hit is None:
                hit = self._lookups[typed] = self._nearby(typed)
            return hit

    def _nearby(self, typed: str) -> Nearby:
        edits, n = allowed(typed), len(typed)
        sure = self._within(typed, edits, range(max(1, n - edits), min(n + edits, PREFIX_MAX) + 1))
        partial: set[str] = set()
        if n + edits > PREFIX_MAX:
            for cut in range(PREFIX_MAX - edits, min(n, PREFIX_MAX + edits) + 1):
                partial |= self._within(typed[:cut], edits, (PREFIX_MAX,))
        sure_outer = _outermost(sure)
        covered = lambda term: any(term.startswith(s) for s in sure_outer)
        return Nearby(tuple(sure_outer), tuple(sorted(p for p in partial if not covered(p))))

    def _within(self, typed: str, edits: int, lengths) -> set[str]:
        found: set[str] = set()
        firsts = set(typed[:edits + 1])
        for length in lengths:
            for position in range(min(edits + 1, length)):
                for char in firsts:
                    bucket = self._buckets.get((length, position, char))
                    if bucket:
                        found.update(m[0] for m in process.extract(typed, bucket, scorer=OSA.distance,
                                                                   score_cutoff=edits, limit=None))
        return found

    def _add(self, prefixes) -> bool:
        added = False
        for prefix in prefixes:
            if prefix in self._terms:
                continue
            self._terms.add(prefix)
            added = True
            for position in range(min(MAX_EDITS + 1, len(prefix))):
                self._buckets.setdefault((len(prefix), position, prefix[position]), []).append(prefix)
        return added

    def _prefixes(self, doc: dict | None) -> list[str]:
        """The `name:` prefixes a document of this vertical indexes (docs/query-language.md)."""
        if doc is None:
            return []
        if self.vertical == "hashtag":
            names = [doc["name"]]
        else:
            fields = ("username", "full_name") if self.vertical == "user" else ("name",)
            names = [token for field in fields for token in text.tokens(doc[field])]
        return [name[:m] for name in names for m in range(1, min(len(name), PREFIX_MAX) + 1)]


def _outermost(prefixes: set[str]) -> list[str]:
    """The prefixes that no shorter one of them starts (a prefix's posting holds its extensions')."""
    kept: list[str] = []
    for prefix in sorted(prefixes):
        if not kept or not prefix.startswith(kept[-1]):
            kept.append(prefix)
    return kept


class Typos:
    """A Vocabulary per vertical, brought to each request's snapshot."""

    def __init__(self) -> None:
        self._vocabularies = {vertical: Vocabulary(vertical) for vertical in ("user", "hashtag", "place")}

    def refresh(self, view) -> None:
        """Bring every vocabulary to `view` (the first build scans the `name:` terms: do it before serving)."""
        for vocabulary in self._vocabularies.values():
            vocabulary.refresh(view)

    def nearby(self, view, vertical: str, typed: str) -> Nearby:
        vocabulary = self._vocabularies[vertical]
        vocabulary.refresh(view)
        return vocabulary.nearby(typed)
