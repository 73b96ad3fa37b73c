"""The Searcher: what the API, the console and bench call, one index's engine (unicorn.engine.Engine)
implements, and an aggregator over several index shards can implement the same way.

    searcher.search("user", "(term name:jo)", viewer=7)        -> SearchResult
    searcher.typeahead("jo", viewer=7)                          -> TypeaheadResult
    searcher.document("user", "42", viewer=7)                   -> dict | None
    searcher.trending("hashtag", 10, viewer=7)                  -> dict

What an implementation promises, so that several can be merged:
- results name documents by external id, with documents as docs/http-api.md shows them; no
  index's internal ids leave it;
- `keys[i]` is result i's sort key: a tuple of plain values (numbers, strings), ascending = better,
  that compares across indexes of one platform. Results come in key order; keys are unique (they
  end in the document's id or name). Static order: user (-followers, id), media (-likes,
  -taken_at, -id), hashtag (-media_count, name), place (-media_count, id); social order (-score,
  -followers, id) with the unrounded score; typeahead (-score, the vertical's place in
  VERTICALS, the vertical's own key) (unicorn/typeahead.py);
- `truncated`: an apply was cut to `apply_fanout_max` inner ids; `partial`: some part of the
  platform did not answer (never set by one index), `missing` names those parts (shard numbers);
- the viewer's context (privacy sets, circle) is resolved once per request and every stage of
  that request reads it.

`merge_search` and `merge_typeahead` combine the answers of parts that each hold some of the
documents to the same request: the best `limit` by key, as one index holding all of them would
answer, when every part answered with the same viewer context. A typeahead that searches several
verticals blends them (unicorn.typeahead): merge each vertical's answers, then `blend_answers`. Steps that need the whole
platform (an apply's or an extract's inner ids, weak-and and strong-or, which are top-k over all
documents) are the aggregator's to run in rounds.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

SortKey = tuple


@dataclass
class SearchResult:
    """docs/http-api.md's search response, with each result's sort key."""

    vertical: str
    total: int
    truncated: bool
    results: list[dict] = field(default_factory=list)  # {"id": str, "score", "doc", "why"?}
    took_ms: float = 0.0
    keys: list[SortKey] = field(default_factory=list)
    partial: bool = False
    missing: list[int] = field(default_factory=list)  # the shards that did not answer, when partial

    def to_dict(self) -> dict:
        out = {"vertical": self.vertical, "total": self.total, "truncated": self.truncated, "results": self.results,
               "took_ms": self.took_ms}
        if self.partial:
            out.update(partial=True, missing_shards=self.missing)
        return out


@dataclass
class TypeaheadResult:
    """docs/http-api.md's typeahead response, with each result's sort key."""

    q: str
    results: list[dict] = field(default_factory=list)  # {"vertical", "id", "title", "subtitle", "score", ...}
    took_ms: float = 0.0
    keys: list[SortKey] = field(default_factory=list)
    partial: bool = False
    missing: list[int] = field(default_factory=list)  # the shards that did not answer, when partial

    def to_dict(self) -> dict:
        out = {"q": self.q, "results": self.results, "took_ms": self.took_ms}
        if self.partial:
            out.update(partial=True, missing_shards=self.missing)
        return out


class Searcher(Protocol):
    def search(self, vertical: str, query: str | dict, viewer: int | str | None = None, limit: int = 20,
               order: str = "static", explain: bool = False, timeout_ms: float = 200,
               apply_fanout_max: int = 100_000, arrived: float | None = None) -> SearchResult:
        """A set query (docs/query-language.md) in `order`; the budget `timeout_ms` counts from `arrived`
        (a `time.perf_counter()` taken when the request came in; by default now)."""

    def typeahead(self, q: str, viewer: int | None = None, limit: int = 10,
                  verticals: tuple[str, ...] = ("user", "hashtag", "place"), timeout_ms: float = 200,
                  arrived: float | None = None, typos: str = "auto") -> TypeaheadResult:
        """docs/http-api.md typeahead."""

    def document(self, vertical: str, id: int | str, viewer: int | str | None = None, timeout_ms: float = 200,
                 arrived: float | None = None) -> dict | None:
        """One document (ids as strings), or None when absent or not visible to `viewer`."""

    def trending(self, kind: str, limit: int, viewer: int | None) -> dict:
        """docs/http-api.md `/v1/trending`: {"kind", "results", "as_of"}."""


def _merged(parts: Sequence, limit: int) -> tuple[list[SortKey], list[dict]]:
    best = list(itertools.islice(heapq.merge(*(zip(p.keys, p.results) for p in parts), key=lambda kr: kr[0]), limit))
    return [key for key, _ in best], [result for _, result in best]


def merge_search(parts: Sequence[SearchResult], limit: int) -> SearchResult:
    """The answer of the parts together: their best `limit` results by key; totals add up (each document lives
    in one part)."""
    keys, results = _merged(parts, limit)
    return SearchResult(parts[0].vertical, sum(p.total for p in parts), any(p.truncated for p in parts), results,
                        max(p.took_ms for p in parts), keys, any(p.partial for p in parts))


def merge_typeahead(parts: Sequence[TypeaheadResult], limit: int) -> TypeaheadResult:
    """The typeahead answer of the parts together: their best `limit` results by key."""
    keys, results = _merged(parts, limit)
    return TypeaheadResult(parts[0].q, results, max(p.took_ms for p in parts), keys, any(p.partial for p in parts))
