"""The social order of users: the typeahead order and the engine's `order: "social"` ranker.

For viewer V, with F the live followees of V that are not hidden from V (docs/privacy.md; V's circle,
unicorn/circle.py), the users come in the order of their sort key

    (-(c's username equals the typed text), -(V follows c), -weight(c), -followers_count, typo, id)

where weight(c), c's mutual weight, is the sum over the users f of F who follow c of
ceil(2^20 / f's following_count) (unicorn.graph: resource allocation, an integer, so equal weights
are exactly equal here, on every shard and in the model), the username term counts in typeahead only,
and typo is 1 for a result found only through a typo. Every part is an integer: the order is exact.
The score, the scale typeahead blends verticals on (docs/http-api.md), never increases along that order:

    8 * (c's username equals the typed text)            -- typeahead only
  + 4 * (V follows c)
  + 3 - 2 / (1 + weight(c) / 2^20)   when weight(c) > 0, in (1, 3)
  + popularity(followers_count)      when weight(c) = 0, in [0, 1)

Each step of the weight's term is a correctly rounded float operation that never decreases with the
weight, and the term is above any popularity, so a later user never scores more than an earlier one;
users of one weight above 0 score the same and their key orders them. Ranking touches only F & M,
the 2-hop set & M, the exact matches and the best strangers by static order (which the generation's
`popular` list usually supplies), never a whole large match set M.
"""

from __future__ import annotations

import math

import numpy as np
from pyroaring import AbstractBitMap, FrozenBitMap

from unicorn.circle import Circle
from unicorn.graph import SHARE_UNIT
from unicorn.query import rank
from vocabulary import terms

EXACT, FOLLOWED = 8.0, 4.0
MUTUAL_TOP, MUTUAL_SPAN = 3.0, 2.0  # for a weight above 0: MUTUAL_TOP - MUTUAL_SPAN / (1 + weight / SHARE_UNIT)
TYPO = 0.0005  # hashtags and places: what a typo match scores less than an exact one (unicorn.typeahead)
POPULAR = 2048  # best users by static order, kept per generation
CAP = 0.999


def popularity(count: int) -> float:
    """log10(1 + count) / 7, capped below 1."""
    return min(math.log10(1.0 + count) / 7.0, CAP)


def _popularities(counts: np.ndarray) -> np.ndarray:
    return np.minimum(np.log10(1.0 + counts.astype(np.float64)) / 7.0, CAP)


def _scores(named: np.ndarray, followed: np.ndarray, weight: np.ndarray, followers: np.ndarray) -> np.ndarray:
    """The module's score of users from their key's parts, its terms added left to right."""
    mutual = MUTUAL_TOP - MUTUAL_SPAN / (1.0 + weight / SHARE_UNIT)
    return EXACT * named + FOLLOWED * followed + np.where(weight > 0, mutual, _popularities(followers))


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
        """The best `limit` of `matches` (visible users) by sort key, best first, as (internal id, score rounded
        to 4 places, sort key)."""
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
        named = _member(ids, rank.as_array(exact)).astype(np.int64) if exact else np.zeros(len(ids), np.int64)
        followed = _member(ids, circle.followee_ids).astype(np.int64)
        weight = circle.mutual_weights(ids)
        score = _scores(named, followed, weight, followers)
        if len(ids) > limit > 0:  # the best `limit` by key score at least the limit-th best score: sort only those
            kept = score >= -np.partition(-score, limit - 1)[limit - 1]
            ids, followers, score, named, followed, weight = (
                a[kept] for a in (ids, followers, score, named, followed, weight))
        ext = cols.ext_id[ids]
        typos = _member(ids, rank.as_array(typo)).astype(np.int64) if typo else np.zeros(len(ids), np.int64)
        key = (-named, -followed, -weight, -followers, typos, ext)
        order = np.lexsort(key[::-1])[:limit]
        keys = zip(*(part[order].tolist() for part in key))
        return [(i, round(s, 4), k) for i, s, k in zip(ids[order].tolist(), score[order].tolist(), keys)]

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
