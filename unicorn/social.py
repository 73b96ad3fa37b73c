"""The social score of users: the typeahead order and the engine's `order: "social"` ranker.

For viewer V, with F the live followees of V that are not hidden from V (docs/privacy.md; V's circle,
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


class _Popular:
    """The best POPULAR users by static order as of one generation: a bitmap, and each one's place in that order."""

    def __init__(self, view) -> None:
        best = rank.top_k(view, "user", view.posting("user", terms.LIVE), POPULAR)
        self.gen, self.members = view.gen, FrozenBitMap(best)
        self.ids = np.sort(best)
        self.places = np.argsort(best).astype(np.int64)  # of self.ids[j] in the static order

    def best(self, ids: np.ndarray, k: int) -> np.ndarray:
        """The best `k` of `ids` (members), in no particular order."""
        if len(ids) <= k:
            return ids
        places = self.places[np.searchsorted(self.ids, ids)]
        return ids[np.argpartition(places, k - 1)[:k]]


class Social:
    """Social ranking over a viewer's circle, with the best users by static order kept per generation."""

    def __init__(self) -> None:
        self._popular: _Popular | None = None

    def popular(self, view) -> FrozenBitMap:
        return self._popular_of(view).members

    def _popular_of(self, view) -> _Popular:
        popular = self._popular
        if popular is None or popular.gen != view.gen:
            popular = self._popular = _Popular(view)
        return popular

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
        score = self._scores(ids, followers, circle, exact)
        if len(ids) > limit > 0:  # the best `limit` score at least the limit-th best score: sort only those
            kept = score >= -np.partition(-score, limit - 1)[limit - 1]
            ids, followers, score = ids[kept], followers[kept], score[kept]
        ext = cols.ext_id[ids]
        if typo:
            typos = _member(ids, rank.as_array(typo)).astype(np.int64)
            order = np.lexsort((ext, -followers, typos, -score))[:limit]
            flags = typos[order].tolist()
        else:
            order = np.lexsort((ext, -followers, -score))[:limit]
            flags = [0] * len(order)
        best, best_score = ids[order], score[order]
        keys = zip((-best_score).tolist(), flags, (-followers[order]).tolist(), ext[order].tolist())
        return [(i, round(s, 4), key) for i, s, key in zip(best.tolist(), best_score.tolist(), keys)]

    @staticmethod
    def _scores(ids: np.ndarray, followers: np.ndarray, circle: Circle, exact: AbstractBitMap) -> np.ndarray:
        """The module's score, its terms added left to right; a term that is 0 for every id is left out (adding
        0.0 changes no float)."""
        popular = _popularities(followers)
        terms_ = []
        if exact:
            terms_.append(EXACT * _member(ids, rank.as_array(exact)))
        if len(circle.followee_ids):
            terms_.append(FOLLOWED * _member(ids, circle.followee_ids))
        if len(circle.hop_ids):
            mutual = circle.mutuals(ids)
            terms_.append(MUTUAL * mutual / (1.0 + mutual))
            popular = popular * np.where(mutual > 0, MUTUAL / ((1.0 + mutual) * (2.0 + mutual)), 1.0)
        score = terms_[0] if terms_ else None
        for term in terms_[1:]:
            score = score + term
        return popular if score is None else score + popular

    def _strangers(self, view, rest: AbstractBitMap, k: int) -> np.ndarray:
        """The best `k` of `rest` by static order, in no particular order: from its popular ones when there are
        k of them (every other user comes after them)."""
        popular = self._popular_of(view)
        known = rest & popular.members
        if len(known) >= k or len(known) == len(rest):
            return popular.best(rank.as_array(known), k)
        return rank.top_k(view, "user", rest, k)

    def ranker(self, view, vertical: str, ids: AbstractBitMap, limit: int, viewer) -> list[tuple[int, float, tuple]]:
        """The engine's `order: "social"` (see unicorn.engine.Ranker); other verticals keep the static order."""
        if vertical != "user":
            return rank.ranked(view, vertical, ids, limit)
        return self.rank(view, viewer.circle, ids, limit)
