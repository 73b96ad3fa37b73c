"""The platform's graph as arrays: users (names, privacy, popularity), hashtags, places, and who
follows, blocks and likes whom, and which media each user posts. Popularity is power-law (Zipf),
and who is popular is random. The change stream mutates it as it goes."""

from __future__ import annotations

import itertools

import numpy as np

from firehose.sources.generator.pools import (
    EMOJI,
    FAMILY_FIRST,
    LOCALES,
    PLACE_KINDS,
    POPULAR_TAGS,
    Pools,
    ascii_name,
)
from firehose.sources.generator.scales import SCALES, Scale
from vocabulary.text import hashtag_name

T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z in ms: first event's ts
DAY = 86_400_000
PLACE_ID0 = 500_000_000
MEDIA_ID0 = 3_000_000_000_000_000_000  # media ids above 2**53 exercise 64-bit handling


def user_id(index: int) -> int:
    return index + 1


def zipf_weights(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Cumulative Zipf weights over a random permutation of n items (who is popular is random)."""
    weights = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent
    weights = weights[rng.permutation(n)]
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def draw(rng: np.random.Generator, cdf: np.ndarray, size: int) -> np.ndarray:
    """`size` independent draws from the distribution `cdf` (searching sorted draws is cache-friendly)."""
    draws = np.minimum(np.searchsorted(cdf, np.sort(rng.random(size)), side="right"), len(cdf) - 1)
    rng.shuffle(draws)
    return draws


def unique_pairs(a: np.ndarray, b: np.ndarray, n_b: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (a, b) pairs sorted by a then b."""
    keys = a.astype(np.int64) * n_b + b
    keys.sort()
    keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    return keys // n_b, keys % n_b


class Graph:
    """One seeded platform's state, built at once from `scale` and `seed`."""

    def __init__(self, scale: str | Scale, seed: int = 0) -> None:
        self.scale = SCALES[scale] if isinstance(scale, str) else scale
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._pools = Pools(seed, size=min(400, max(40, self.scale.users // 20)))
        self._deleted_users: set[int] = set()
        self._build_users()
        self._build_hashtags()
        self._build_places()
        self._build_follows_and_blocks()
        self._build_media()
        self._build_likes()

    def _build_users(self) -> None:
        s, rng, pools = self.scale, self._rng, self._pools
        locales = list(LOCALES)
        shares = np.array(list(LOCALES.values()))
        self._user_locale = rng.choice(len(locales), size=s.users, p=shares / shares.sum())
        self._popularity = zipf_weights(rng, s.users, 0.8)
        rank = np.argsort(np.argsort(-np.diff(self._popularity, prepend=0.0)))
        self.is_private = rng.random(s.users) < 0.10
        self.is_verified = ((rank < 0.02 * s.users) & (rng.random(s.users) < 0.8)) | (rng.random(s.users) < 0.004)
        first_pick = rng.integers(0, 1 << 30, size=s.users)
        last_pick = rng.integers(0, 1 << 30, size=s.users)
        emoji = rng.random(s.users) < 0.03
        self.usernames: list[str] = []
        self.full_names: list[str] = []
        self._taken: set[str] = set()
        for i in range(s.users):
            locale = locales[self._user_locale[i]]
            first = pools.first[locale][first_pick[i] % len(pools.first[locale])]
            last = pools.last[locale][last_pick[i] % len(pools.last[locale])]
            name = f"{last}{first}" if locale in ("zh_CN", "ko_KR") else f"{last} {first}" if locale in FAMILY_FIRST else f"{first} {last}"
            if emoji[i]:
                name = f"{name} {EMOJI[first_pick[i] % len(EMOJI)]}"
            self.full_names.append(name)
            self.usernames.append(self._new_username(locale, first, last))

    def _new_username(self, locale: str, first: str, last: str) -> str:
        """A unique username in [a-z0-9._] (already normalized, so `@username` resolves)."""
        rng, handles = self._rng, self._pools.handles[locale]
        first_a, last_a = ascii_name(first), ascii_name(last)
        roman = first_a and last_a
        for attempt in itertools.count():
            style = int(rng.integers(0, 4))
            if roman and style == 0:
                base = f"{first_a}.{last_a}"
            elif roman and style == 1:
                base = f"{first_a}_{last_a}"
            else:
                base = handles[int(rng.integers(0, len(handles)))]
            if attempt or style == 3:
                base = f"{base}{int(rng.integers(1, 10 ** (2 + attempt // 4)))}"
            if base not in self._taken:
                self._taken.add(base)
                return base
        raise AssertionError("unreachable")

    def _build_hashtags(self) -> None:
        rng, words = self._rng, self._pools.words
        display: dict[str, str] = {}  # normalized name -> how it is written in captions
        for tag in POPULAR_TAGS:
            display.setdefault(hashtag_name(tag), tag)
        while len(display) < self.scale.hashtags:
            a, b = words[int(rng.integers(0, len(words)))], words[int(rng.integers(0, len(words)))]
            style = int(rng.integers(0, 4))
            tag = a if style == 0 else f"{a}_{b}" if style == 1 else f"{a.capitalize()}{b.capitalize()}" if style == 2 else f"{a}{rng.integers(1, 100)}"
            display.setdefault(hashtag_name(tag), tag)
        self.tag_names = list(display)
        self.tag_display = [display[t] for t in self.tag_names]
        self._tag_cdf = zipf_weights(rng, len(self.tag_names), 1.1)

    def _build_places(self) -> None:
        s, rng, pools = self.scale, self._rng, self._pools
        locales = list(LOCALES)
        self.places: list[dict] = []
        for i in range(s.places):
            lat, lng, city, country = pools.locations[int(rng.integers(0, len(pools.locations)))]
            style = int(rng.integers(0, 3))
            if style == 0:
                name = f"{city} {PLACE_KINDS[int(rng.integers(0, len(PLACE_KINDS)))]}"
            elif style == 1:
                streets = pools.streets[locales[int(rng.integers(0, len(locales)))]]
                name = streets[int(rng.integers(0, len(streets)))]
            else:
                name = f"{PLACE_KINDS[int(rng.integers(0, len(PLACE_KINDS)))]} {pools.words[int(rng.integers(0, len(pools.words)))].capitalize()}"
            jitter = rng.normal(0.0, 0.02, size=2)
            self.places.append({
                "id": PLACE_ID0 + i, "name": name, "city": city, "country": country,
                "lat": round(min(90.0, max(-90.0, lat + float(jitter[0]))), 5),
                "lng": round(min(180.0, max(-180.0, lng + float(jitter[1]))), 5),
            })
        self._place_cdf = zipf_weights(rng, max(1, s.places), 1.0)

    def _build_follows_and_blocks(self) -> None:
        s, rng = self.scale, self._rng
        mean = s.follows / s.users * 1.08  # a little over: duplicates and self-follows are dropped
        out_degree = np.minimum(rng.lognormal(np.log(mean) - 0.5, 1.0, size=s.users).astype(np.int64), s.users - 1)
        follower = np.repeat(np.arange(s.users), out_degree)
        followee = draw(rng, self._popularity, len(follower))
        keep = follower != followee
        self.follow_a, self.follow_b = unique_pairs(follower[keep], followee[keep], s.users)
        blocker = rng.integers(0, s.users, size=s.blocks)
        blocked = draw(rng, self._popularity, s.blocks)
        keep = blocker != blocked
        self.block_a, self.block_b = unique_pairs(blocker[keep], blocked[keep], s.users)

    def _build_media(self) -> None:
        s, rng = self.scale, self._rng
        activity = zipf_weights(rng, s.users, 0.7)
        self.media_owner = draw(rng, activity, s.media)
        self.media_taken = np.sort(rng.integers(T0 - 3 * 365 * DAY, T0, size=s.media))
        self.media_place = np.where(rng.random(s.media) < 0.3, draw(rng, self._place_cdf, s.media), -1)
        self._media_seed = int(rng.integers(0, 1 << 62))

    def _build_likes(self) -> None:
        s, rng = self.scale, self._rng
        media_popularity = zipf_weights(rng, s.media, 0.9)
        liker_activity = zipf_weights(rng, s.users, 0.6)
        self.like_a, self.like_b = unique_pairs(
            draw(rng, liker_activity, int(s.likes * 1.05)), draw(rng, media_popularity, int(s.likes * 1.05)), s.media)
