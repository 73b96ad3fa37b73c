"""Stage 4, the ranker: trending scores from the scorer's counters, and the ranked snapshot.

Contract: `Ranker.rank(scorer, flushed) -> dict[kind, list[Ranked]]`, best first, at most
`SNAPSHOT_SIZE` per kind, each item trending by the rule below.

For an item, `recent` is the distinct accounts in the recent window and `baseline` its expected
distinct accounts per window from its own history: the mean distinct accounts per closed bucket
over the horizon (from the first event on, up to a day) times the window's buckets. That
overestimates a window's distinct count for an item whose accounts repeat, which only makes the
rule stricter.

    expected = baseline + PRIOR
    trending iff recent >= MIN_DISTINCT and recent >= MIN_LIFT * expected
    score = recent * ln(recent / expected)

Why these: the score is the item's term of the Kullback-Leibler divergence of the observed counts
from the expected ones, so it grows with both the lift and the support. `PRIOR` is additive smoothing: every item is assumed to have a few accounts per window
already, so a new or rare item (baseline near 0) is not infinitely far above its baseline after
two posts, and a small item needs several times `PRIOR` distinct accounts to lift. `MIN_DISTINCT`
is the floor of real support: with fewer distinct accounts no lift counts (a handful of friends
is not a trend, whatever their history). `MIN_LIFT` keeps out items that are merely popular: a tag
used by many accounts every day sits near its baseline, however large it is.
"""

from __future__ import annotations

import heapq
import math
from typing import NamedTuple

from trending.parser import KINDS, Kind
from trending.scorer import RECENT, Flushed, Scorer

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


class Ranker:
    """Keeps the trending items per kind between batches; rescoring the changed ones only, or all
    active ones when the window moved (baselines and windows change then)."""

    def __init__(self) -> None:
        self._trending: dict[Kind, dict[int, Ranked]] = {kind: {} for kind in KINDS}

    def rank(self, scorer: Scorer, flushed: Flushed) -> dict[Kind, list[Ranked]]:
        buckets = scorer.history_buckets()
        if flushed.reset:
            self._trending = {kind: {} for kind in KINDS}
            todo = scorer.candidate_items()
        else:
            todo = flushed.changed
        for kind, iid in todo:
            recent = scorer.recent(kind, iid)
            baseline = scorer.sum(kind, iid) / buckets * RECENT if buckets else 0.0
            value = score(recent, baseline)
            if value is None:
                self._trending[kind].pop(iid, None)
            else:
                self._trending[kind][iid] = Ranked(iid, value, recent, baseline)
        return {kind: heapq.nsmallest(SNAPSHOT_SIZE, items.values(), key=lambda r: (-r.score, r.iid))
                for kind, items in self._trending.items()}
