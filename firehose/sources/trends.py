"""A trending scenario: a platform's media stream over hours of event time, with planted trends
and decoys, for the trending pipeline's tests and bench (docs/http-api.md Trending).

    scenario = TrendScenario(seed=1)
    for event in scenario.events(): ...        # canonical docs/events.md events, in `ts` order
    scenario.planted, scenario.decoys          # what the evaluation looks for

Background: users (a share of them private) post media at a steady rate; hashtags and places are
drawn with Zipf popularity, so the head items are popular all the time. After `warmup_minutes`
the planted trends start one after another: a hashtag (new) or a place (from the long tail)
suddenly used by `trend_accounts` distinct public accounts within `trend_minutes`. Decoys, which
must never trend: `spammer` (one account posts one tag `spam_posts` times), `daily` (a tag used by
as many distinct accounts per hour as a trend, every hour from the start), `private` (a burst as
large as a trend, among private accounts only). Some media carry their tags in the caption only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from firehose.events import MEDIA_UPSERT, PLACE_UPSERT, USER_UPSERT, Event

T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z
MINUTE = 60_000
PLACE_ID0 = 700_000_000
MEDIA_ID0 = 1 << 40


@dataclass(frozen=True)
class Planted:
    kind: str  # "hashtag" | "place"
    id: str  # the hashtag's name, or the place's id in decimal (as the API says it)
    start: int  # ts of the burst's first post
    end: int  # ts just after its last post


@dataclass(frozen=True)
class Decoy:
    kind: str
    id: str
    what: str  # "spammer" | "daily" | "private"


@dataclass
class TrendScenario:
    seed: int = 0
    users: int = 4000
    private_share: float = 0.1
    tags: int = 800
    places: int = 200
    media_per_minute: int = 200
    warmup_minutes: int = 240
    trend_minutes: int = 40
    trend_accounts: int = 120
    hashtag_trends: int = 8
    place_trends: int = 4
    trend_every_minutes: int = 30
    cooldown_minutes: int = 60
    spam_posts: int = 500
    planted: list[Planted] = field(init=False)
    decoys: list[Decoy] = field(init=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self._rng = rng
        self.private = rng.random(self.users) < self.private_share
        self.private[0] = False  # the spammer
        self._public_ids = np.flatnonzero(~self.private) + 1
        self._private_ids = np.flatnonzero(self.private) + 1
        self._activity = _zipf_cdf(rng, self.users, 0.7)
        self._tag_cdf = _zipf_cdf(rng, self.tags, 1.1)
        self._place_cdf = _zipf_cdf(rng, self.places, 1.0)
        self.tag_names = [f"tag{i}" for i in range(self.tags)]
        tail_places = np.argsort(np.diff(self._place_cdf, prepend=0.0))[: self.places // 2]
        trend_places = rng.choice(tail_places, size=self.place_trends, replace=False)
        self.planted = []
        kinds = ["hashtag"] * self.hashtag_trends + ["place"] * self.place_trends
        order = rng.permutation(len(kinds))
        places = iter(trend_places.tolist())
        for n, k in enumerate(order.tolist()):
            start = T0 + (self.warmup_minutes + n * self.trend_every_minutes) * MINUTE
            ident = f"trend_{n}" if kinds[k] == "hashtag" else str(PLACE_ID0 + next(places))
            self.planted.append(Planted(kinds[k], ident, start, start + self.trend_minutes * MINUTE))
        self.decoys = [Decoy("hashtag", "spam_decoy", "spammer"), Decoy("hashtag", "daily_decoy", "daily"),
                       Decoy("hashtag", "private_decoy", "private")]
        last = max(p.end for p in self.planted)
        self.end = last + self.cooldown_minutes * MINUTE

    @property
    def minutes(self) -> int:
        return (self.end - T0) // MINUTE

    def events(self) -> Iterator[Event]:
        rng = np.random.default_rng(self.seed + 1)
        ts = T0 - 10 * MINUTE
        for i in range(self.places):
            yield PLACE_UPSERT.make(ts, place={"id": PLACE_ID0 + i, "name": f"Place {i}", "city": "City",
                                               "country": "XX", "lat": 0.0, "lng": 0.0})
        for i in range(self.users):
            yield USER_UPSERT.make(ts, user={"id": i + 1, "username": f"user{i + 1}", "full_name": f"User {i + 1}",
                                             "is_private": bool(self.private[i]), "is_verified": False})
        posts = sorted(self._posts(rng), key=lambda p: p[0])
        for n, (when, owner, tags, place, explicit) in enumerate(posts):
            media: dict = {"id": MEDIA_ID0 + n, "owner": owner, "caption": " ".join(["post", *("#" + t for t in tags)]),
                           "taken_at": when, "place": place}
            if explicit:
                media["hashtags"] = tags
            yield MEDIA_UPSERT.make(when, media=media)

    def _posts(self, rng: np.random.Generator) -> Iterator[tuple[int, int, list[str], int | None, bool]]:
        """(ts, owner, hashtags, place, hashtags given explicitly) of every media, in no order."""
        minutes = self.minutes
        n = minutes * self.media_per_minute
        when = T0 + rng.integers(0, minutes * MINUTE, size=n)
        owners = _draw(rng, self._activity, n) + 1
        n_tags = rng.geometric(0.5, size=n) - 1
        tag_ends = np.cumsum(n_tags).tolist()
        tags = _draw(rng, self._tag_cdf, tag_ends[-1]).tolist()
        places = np.where(rng.random(n) < 0.3, _draw(rng, self._place_cdf, n), -1).tolist()
        explicit = (rng.random(n) < 0.8).tolist()
        t = 0
        for i, (ts, owner) in enumerate(zip(when.tolist(), owners.tolist())):
            names = list(dict.fromkeys(self.tag_names[x] for x in tags[t:tag_ends[i]]))
            t = tag_ends[i]
            yield ts, owner, names, None if places[i] < 0 else PLACE_ID0 + places[i], explicit[i]
        for planted in self.planted:
            accounts = rng.choice(self._public_ids, size=self.trend_accounts, replace=False).tolist()
            for owner in accounts:
                for _ in range(int(rng.integers(1, 3))):
                    ts = int(rng.integers(planted.start, planted.end))
                    if planted.kind == "hashtag":
                        yield ts, owner, [planted.id], None, bool(rng.random() < 0.8)
                    else:
                        yield ts, owner, [], int(planted.id), True
        burst = self.planted[len(self.planted) // 2]
        for _ in range(self.spam_posts):
            yield int(rng.integers(burst.start, burst.end)), 1, ["spam_decoy"], None, True
        private = rng.choice(self._private_ids, size=min(self.trend_accounts, len(self._private_ids)), replace=False)
        for owner in private.tolist():
            yield int(rng.integers(burst.start, burst.end)), owner, ["private_decoy"], None, True
        per_window = self.trend_accounts * self.trend_every_minutes // self.trend_minutes
        for start in range(T0, self.end, self.trend_every_minutes * MINUTE):
            for owner in rng.choice(self._public_ids, size=per_window, replace=False).tolist():
                stop = min(start + self.trend_every_minutes * MINUTE, self.end)
                yield int(rng.integers(start, stop)), owner, ["daily_decoy"], None, True


def _zipf_cdf(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent
    cdf = np.cumsum(weights[rng.permutation(n)])
    return cdf / cdf[-1]


def _draw(rng: np.random.Generator, cdf: np.ndarray, size: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(cdf) - 1)
