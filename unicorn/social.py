"""The social score of users: the typeahead order and the engine's `order: "social"` ranker.

For viewer V, with F the live followees of V that are not hidden from V (SPEC §5; V's circle,
unicorn/circle.py), a user c scores

    8 * (c's username equals the typed text)            -- typeahead only
  + 4 * (V follows c)
  + 3 * m / (1 + m)      m = how many of F follow c
  + popularity(followers_count) * w(m)                  popularity in [0, 1)
      w(0) = 1, w(m) = 3 / ((1 + m) (2 + m)): the step from m to m + 1, so popularity orders only
      users of one m

so an exact username beats everyone, a followee beats every non-followee, more mutuals beat fewer
(docs/http-api.md: "more of them first"), popularity orders the rest. A result found only
through a typo scores the same and comes after an otherwise equal exact match.
Ties break by the static order (followers desc, id asc): a result's sort key is
(-score, typo, -followers_count, id). Ranking touches only F & M, the 2-hop set & M, the exact matches
and the best strangers by static order (which the generation's `popular` list usually
supplies), never a whole large match set M.
"""

from __future__ import annotations

import math

import numpy as np
from pyroaring import AbstractBitMap, FrozenBitMap

from unicorn.circle import Circle
from unicorn.query import rank
from vocabulary import terms

EXACT, FOLLOWED, MUTUAL = 8.0, 4.0, 3.0
TYPO = 0.0005  # hashtags and places: what a typo match scores less than an exact one (unicorn.typeahead)
POPULAR = 2048  # best users by static order, kept per generation
CAP = 0.999


def popularity(count: int) -> float:
    """log10(1 + count) / 7, capped below 1."""
    return min(math.log10(1.0 + count) / 7.0, CAP)


def _popularities(counts: np.ndarray) -> np.ndarray:
    return np.minimum(np.log10(1.0 + counts.astype(np.float64)) / 7.0, CAP)


def _member(ids: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """Whether each of `ids` is in the sorted array `sorted_ids` (cheaper than np.isin on small arrays)."""
    if not len(sorted_ids):
        return np.zeros(len(ids), bool)
    at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return sorted_ids[at] == ids


class Social:
    """Social ranking over a viewer's circle, with the best users by static order kept per generation."""

    def __init__(self) -> None:
        self._popular: tuple[int, FrozenBitMap] = (-1, FrozenBitMap())

    def popular(self, view) -> FrozenBitMap:
        gen, best = self._popular
        if gen != view.gen:
            best = FrozenBitMap(rank.top_k(view, "user", view.posting("user", terms.LIVE), POPULAR))
            self._popular = (view.gen, best)
        return best

    def rank(self, view, circle: Circle, matches: AbstractBitMap, limit: int, exact: AbstractBitMap = FrozenBitMap(),
             typo: AbstractBitMap = FrozenBitMap()) -> list[tuple[int, float, tuple]]:
        """The best `limit` of `matches` (visible users) by social score, best first, as (internal id, score
        rounded to 4 places, sort key)."""
        close = (matches & circle.followees) | (matches & circle.hop) | (matches & exact)
        rest = matches - close
        parts = [rank.as_array(close)]  # disjoint parts: the sort key below orders them
        if typo:
            parts += [self._strangers(view, rest - typo, limit), self._strangers(view, rest & typo, limit)]
        else:
            parts.append(self._strangers(view, rest, limit))
        ids = np.concatenate(parts)
        if not len(ids):
            return []
        cols = view.rank("user")
        followers = cols.count[ids]
        mutual = circle.mutuals(ids)
        weight = np.where(mutual > 0, MUTUAL / ((1.0 + mutual) * (2.0 + mutual)), 1.0)
        score = (EXACT * _member(ids, rank.as_array(exact)) + FOLLOWED * _member(ids, circle.followee_ids)
                 + MUTUAL * mutual / (1.0 + mutual) + _popularities(followers) * weight)
        if len(ids) > limit > 0:  # the best `limit` score at least the limit-th best score: sort only those
            kept = score >= -np.partition(-score, limit - 1)[limit - 1]
            ids, followers, score = ids[kept], followers[kept], score[kept]
        typos = _member(ids, rank.as_array(typo)).astype(np.int64) if typo else np.zeros(len(ids), np.int64)
        ext = cols.ext_id[ids]
        order = np.lexsort((ext, -followers, typos, -score))[:limit]
        best, best_score, best_typos = ids[order], score[order], typos[order]
        keys = zip((-best_score).tolist(), best_typos.tolist(), (-followers[order]).tolist(), ext[order].tolist())
        return [(i, round(s, 4), key) for i, s, key in zip(best.tolist(), best_score.tolist(), keys)]

    def _strangers(self, view, rest: AbstractBitMap, k: int) -> np.ndarray:
        """Ids holding the best `k` of `rest` by static order: its popular ones when there are k of them."""
        popular = rest & self.popular(view)
        if len(popular) == len(rest) or k <= len(popular) <= 8 * k:
            return rank.as_array(popular)
        return rank.top_k(view, "user", popular if len(popular) >= k else rest, k)

    def ranker(self, view, vertical: str, ids: AbstractBitMap, limit: int, viewer) -> list[tuple[int, float, tuple]]:
        """The engine's `order: "social"` (see unicorn.engine.Ranker); other verticals keep the static order."""
        if vertical != "user":
            return rank.ranked(view, vertical, ids, limit)
        return self.rank(view, viewer.circle, ids, limit)
