"""Stage 4, the ranker: trending scores from the scorer's counters, and the ranked snapshot.

Contract: `rank(scorer) -> dict[kind, list[Ranked]]`, best first, at most `SNAPSHOT_SIZE`
per kind, each item trending by the rule below; after the scorer's flush, from its counters alone
(no state of its own).

For an item, `recent` is the distinct accounts in the recent window and `baseline` its expected
distinct accounts per window from its own history: the mean distinct accounts per closed bucket
over the horizon (from the first event on, up to a day) times the window's buckets. That
overestimates a window's distinct count for an item whose accounts repeat, which only makes the
rule stricter.

    expected = baseline + PRIOR
    trending iff recent >= MIN_DISTINCT and recent >= MIN_LIFT * expected
    score = recent * ln(recent / expected)

Why these: the score is the item's term of the Kullback-Leibler divergence of the observed counts
from the expected ones, so it grows with both the lift and the support. `PRIOR` is additive
smoothing: every item is assumed to have a few accounts per window already, so a new or rare
item (baseline near 0) is not infinitely far above its baseline after two posts, and a small item
needs several times `PRIOR` distinct accounts to lift. `MIN_DISTINCT`
is the floor of real support: with fewer distinct accounts no lift counts (a handful of friends
is not a trend, whatever their history). `MIN_LIFT` keeps out items that are merely popular: a tag
used by many accounts every day sits near its baseline, however large it is.
"""

from __future__ import annotations

import heapq
import math
from typing import NamedTuple

import numpy as np

from trending.parser import KINDS, Kind
from trending.scorer import RECENT, Scorer

PRIOR = 3.0  # pseudo-accounts per window added to every baseline
MIN_DISTINCT = 10  # distinct accounts in the window below which nothing trends
MIN_LIFT = 3.0  # recent over expected at least this
SNAPSHOT_SIZE = 50


class Ranked(NamedTuple):
    iid: int
    score: float
    recent: int
    baseline: float  # expected distinct accounts per window, from the item's history


def score(recent: int, baseline: float) -> float | None:
    """The trending score, or None when the item does not trend."""
    expected = baseline + PRIOR
    if recent < MIN_DISTINCT or recent < MIN_LIFT * expected:
        return None
    return recent * math.log(recent / expected)


def rank(scorer: Scorer) -> dict[Kind, list[Ranked]]:
    """Scores the items with at least `MIN_DISTINCT` accounts in the window (found with numpy; a
    window move changes every baseline, so there is nothing to keep between batches)."""
    buckets = scorer.history_buckets()
    ranked: dict[Kind, list[Ranked]] = {}
    for kind in KINDS:
        recent, sums = scorer.counts(kind)
        iids = np.flatnonzero(recent >= MIN_DISTINCT)
        totals = np.zeros(len(iids), dtype=np.int64)
        known = iids < len(sums)
        totals[known] = sums[iids[known]]
        trending = []
        for iid, count, total in zip(iids.tolist(), recent[iids].tolist(), totals.tolist()):
            baseline = total / buckets * RECENT if buckets else 0.0
            value = score(count, baseline)
            if value is not None:
                trending.append(Ranked(iid, value, count, baseline))
        ranked[kind] = heapq.nsmallest(SNAPSHOT_SIZE, trending, key=lambda r: (-r.score, r.iid))
    return ranked
