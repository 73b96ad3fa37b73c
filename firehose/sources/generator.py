"""A deterministic synthetic platform as docs/events.md canonical events.

`SyntheticPlatform(scale, seed)` yields the initial platform (`snapshot()`: places, users,
follows, blocks, media, likes) and then a stream of later changes (`changes()`: renames,
privacy flips, signups, follows and unfollows, likes and unlikes, new, edited and deleted
media, blocks, user deletes). Every event is exactly what `firehose.events.validate` returns.

Faker is slow per call, so names, words and places come from small pools drawn once per
locale and are combined with numpy randomness; graphs are power-law (Zipf popularity).
The same (scale, seed) gives the same events for a given Faker version.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from faker import Faker
from faker.providers.geo import Provider as GeoProvider

from firehose.events import Event
from vocabulary.text import hashtag_name


@dataclass(frozen=True)
class Scale:
    users: int
    follows: int
    media: int
    likes: int
    places: int
    blocks: int
    hashtags: int
    changes: int


SCALES: dict[str, Scale] = {
    "S": Scale(users=2_000, follows=30_000, media=4_000, likes=20_000, places=150, blocks=100, hashtags=400, changes=3_000),
    "demo": Scale(users=3_000, follows=60_000, media=8_000, likes=40_000, places=300, blocks=150, hashtags=600, changes=2_000),
    "M": Scale(users=100_000, follows=5_000_000, media=1_000_000, likes=3_000_000, places=20_000, blocks=5_000, hashtags=20_000, changes=100_000),
    "L": Scale(users=1_000_000, follows=50_000_000, media=10_000_000, likes=30_000_000, places=100_000, blocks=50_000, hashtags=100_000, changes=1_000_000),
}

# Locale -> share of users. CJK, Cyrillic, Devanagari and Arabic names exercise normalization.
LOCALES = {
    "en_US": 0.28, "pt_BR": 0.10, "es_ES": 0.09, "fr_FR": 0.08, "de_DE": 0.08, "ja_JP": 0.07,
    "zh_CN": 0.07, "ko_KR": 0.05, "ru_RU": 0.05, "it_IT": 0.04, "pl_PL": 0.03, "tr_TR": 0.02,
    "hi_IN": 0.02, "ar_AA": 0.02,
}
_FAMILY_FIRST = {"ja_JP", "zh_CN", "ko_KR"}
_EMOJI = ["✨", "🌸", "🌊", "🔥", "☕", "🎨", "📸", "🌍", "💫", "🦋", "🐾", "🌙"]
_POPULAR_TAGS = [
    "travel", "food", "InstaGood", "PhotoOfTheDay", "café", "Sunset", "love", "fitness", "été",
    "Straße", "naturaleza", "東京", "夏", "旅行", "맛집", "путешествие", "Café_Paris", "São_Paulo",
    "fotografía", "München", "coffee", "art", "beach", "nofilter",
]
_PLACE_KINDS = ["Central Park", "Old Town", "Museum", "Beach", "Station", "Market", "Cathedral",
                "Stadium", "Harbour", "Botanical Garden", "Café", "Bridge", "Castle", "Plaza"]
_LOCALE_WORDS = ["en_US", "fr_FR", "de_DE", "es_ES", "it_IT", "pl_PL", "ja_JP", "zh_CN", "ru_RU"]

T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z in ms: first event's ts
_DAY = 86_400_000
PLACE_ID0 = 500_000_000
MEDIA_ID0 = 3_000_000_000_000_000_000  # media ids above 2**53 exercise 64-bit handling
_NOT_USERNAME = re.compile(r"[^a-z0-9._]+")


def user_id(index: int) -> int:
    return index + 1


def _ascii(text: str) -> str:
    """Lower-case ASCII letters and digits of a (transliterable) name: "Grégoire" -> "gregoire"."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in folded if c.isascii() and c.isalnum())


def _zipf_weights(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Cumulative Zipf weights over a random permutation of n items (who is popular is random)."""
    weights = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent
    weights = weights[rng.permutation(n)]
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def _draw(rng: np.random.Generator, cdf: np.ndarray, size: int) -> np.ndarray:
    """`size` independent draws from the distribution `cdf` (searching sorted draws is cache-friendly)."""
    draws = np.minimum(np.searchsorted(cdf, np.sort(rng.random(size)), side="right"), len(cdf) - 1)
    rng.shuffle(draws)
    return draws


def _unique_pairs(a: np.ndarray, b: np.ndarray, n_b: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (a, b) pairs sorted by a then b."""
    keys = a.astype(np.int64) * n_b + b
    keys.sort()
    keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    return keys // n_b, keys % n_b


class _Pools:
    """Names, usernames, words and locations drawn from Faker once, then recombined."""

    def __init__(self, seed: int, size: int) -> None:
        self.first: dict[str, list[str]] = {}
        self.last: dict[str, list[str]] = {}
        self.handles: dict[str, list[str]] = {}
        self.streets: dict[str, list[str]] = {}
        words: list[str] = []
        for n, locale in enumerate(LOCALES):
            fake = Faker(locale)
            fake.seed_instance(seed * 1000 + n)
            self.first[locale] = [fake.first_name() for _ in range(size)]
            self.last[locale] = [fake.last_name() for _ in range(size)]
            self.handles[locale] = [h for h in (_NOT_USERNAME.sub("", fake.user_name()) for _ in range(size)) if h]
            self.streets[locale] = [fake.street_name() for _ in range(max(10, size // 10))]
            if locale in _LOCALE_WORDS:
                words += fake.get_words_list()
        self.words = [w for w in dict.fromkeys(words) if re.fullmatch(r"[^\W_]+", w)]
        self.locations = [(float(lat), float(lng), city, cc) for lat, lng, city, cc, _ in GeoProvider.land_coords]


class SyntheticPlatform:
    """One seeded platform: `snapshot()` then `changes()`; `events()` is both in order."""

    def __init__(self, scale: str | Scale, seed: int = 0) -> None:
        self.scale = SCALES[scale] if isinstance(scale, str) else scale
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._pools = _Pools(seed, size=min(400, max(40, self.scale.users // 20)))
        self._ts = T0
        self._build_users()
        self._build_hashtags()
        self._build_places()
        self._build_follows_and_blocks()
        self._build_media()
        self._build_likes()

    # -- building (arrays and small lists, no events yet) ---------------------------------

    def _build_users(self) -> None:
        s, rng, pools = self.scale, self._rng, self._pools
        locales = list(LOCALES)
        shares = np.array(list(LOCALES.values()))
        self._user_locale = rng.choice(len(locales), size=s.users, p=shares / shares.sum())
        self._popularity = _zipf_weights(rng, s.users, 0.8)
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
            name = f"{last}{first}" if locale in ("zh_CN", "ko_KR") else f"{last} {first}" if locale in _FAMILY_FIRST else f"{first} {last}"
            if emoji[i]:
                name = f"{name} {_EMOJI[first_pick[i] % len(_EMOJI)]}"
            self.full_names.append(name)
            self.usernames.append(self._new_username(locale, first, last))

    def _new_username(self, locale: str, first: str, last: str) -> str:
        """A unique username in [a-z0-9._] (already normalized, so `@username` resolves)."""
        rng, handles = self._rng, self._pools.handles[locale]
        first_a, last_a = _ascii(first), _ascii(last)
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
        for tag in _POPULAR_TAGS:
            display.setdefault(hashtag_name(tag), tag)
        while len(display) < self.scale.hashtags:
            a, b = words[int(rng.integers(0, len(words)))], words[int(rng.integers(0, len(words)))]
            style = int(rng.integers(0, 4))
            tag = a if style == 0 else f"{a}_{b}" if style == 1 else f"{a.capitalize()}{b.capitalize()}" if style == 2 else f"{a}{rng.integers(1, 100)}"
            display.setdefault(hashtag_name(tag), tag)
        self.tag_names = list(display)
        self.tag_display = [display[t] for t in self.tag_names]
        self._tag_cdf = _zipf_weights(rng, len(self.tag_names), 1.1)

    def _build_places(self) -> None:
        s, rng, pools = self.scale, self._rng, self._pools
        locales = list(LOCALES)
        self.places: list[dict] = []
        for i in range(s.places):
            lat, lng, city, country = pools.locations[int(rng.integers(0, len(pools.locations)))]
            style = int(rng.integers(0, 3))
            if style == 0:
                name = f"{city} {_PLACE_KINDS[int(rng.integers(0, len(_PLACE_KINDS)))]}"
            elif style == 1:
                streets = pools.streets[locales[int(rng.integers(0, len(locales)))]]
                name = streets[int(rng.integers(0, len(streets)))]
            else:
                name = f"{_PLACE_KINDS[int(rng.integers(0, len(_PLACE_KINDS)))]} {pools.words[int(rng.integers(0, len(pools.words)))].capitalize()}"
            jitter = rng.normal(0.0, 0.02, size=2)
            self.places.append({
                "id": PLACE_ID0 + i, "name": name, "city": city, "country": country,
                "lat": round(min(90.0, max(-90.0, lat + float(jitter[0]))), 5),
                "lng": round(min(180.0, max(-180.0, lng + float(jitter[1]))), 5),
            })
        self._place_cdf = _zipf_weights(rng, max(1, s.places), 1.0)

    def _build_follows_and_blocks(self) -> None:
        s, rng = self.scale, self._rng
        mean = s.follows / s.users * 1.08  # a little over: duplicates and self-follows are dropped
        out_degree = np.minimum(rng.lognormal(np.log(mean) - 0.5, 1.0, size=s.users).astype(np.int64), s.users - 1)
        follower = np.repeat(np.arange(s.users), out_degree)
        followee = _draw(rng, self._popularity, len(follower))
        keep = follower != followee
        self.follow_a, self.follow_b = _unique_pairs(follower[keep], followee[keep], s.users)
        blocker = rng.integers(0, s.users, size=s.blocks)
        blocked = _draw(rng, self._popularity, s.blocks)
        keep = blocker != blocked
        self.block_a, self.block_b = _unique_pairs(blocker[keep], blocked[keep], s.users)

    def _build_media(self) -> None:
        s, rng = self.scale, self._rng
        activity = _zipf_weights(rng, s.users, 0.7)
        self.media_owner = _draw(rng, activity, s.media)
        self.media_taken = np.sort(rng.integers(T0 - 3 * 365 * _DAY, T0, size=s.media))
        self.media_place = np.where(rng.random(s.media) < 0.3, _draw(rng, self._place_cdf, s.media), -1)
        self._media_seed = int(rng.integers(0, 1 << 62))

    def _build_likes(self) -> None:
        s, rng = self.scale, self._rng
        media_popularity = _zipf_weights(rng, s.media, 0.9)
        liker_activity = _zipf_weights(rng, s.users, 0.6)
        self.like_a, self.like_b = _unique_pairs(
            _draw(rng, liker_activity, int(s.likes * 1.05)), _draw(rng, media_popularity, int(s.likes * 1.05)), s.media)

    # -- events ------------------------------------------------------------------------

    def _next_ts(self) -> int:
        self._ts += 1
        return self._ts

    def _user_event(self, i: int) -> Event:
        return {"op": "user.upsert", "ts": self._next_ts(), "user": {
            "id": user_id(i), "username": self.usernames[i], "full_name": self.full_names[i],
            "is_private": bool(self.is_private[i]), "is_verified": bool(self.is_verified[i])}}

    def _media_events(self, rng: np.random.Generator, ids: list[int], owners: list[int], taken: list[int],
                      places: list[int]) -> Iterator[Event]:
        """`media.upsert` events for a batch: all randomness drawn in bulk, then strings joined."""
        n, words = len(ids), self._pools.words
        n_words = rng.integers(1, 12, size=n)
        word_ends = np.cumsum(n_words).tolist()
        all_words = rng.integers(0, len(words), size=word_ends[-1]).tolist()
        n_tags = rng.geometric(0.45, size=n) - 1
        tag_ends = np.cumsum(n_tags).tolist()
        all_tags = _draw(rng, self._tag_cdf, tag_ends[-1]).tolist()
        n_mentions = np.where(rng.random(n) < 0.15, rng.integers(1, 3, size=n), 0)
        mention_ends = np.cumsum(n_mentions).tolist()
        all_mentions = _draw(rng, self._popularity, mention_ends[-1]).tolist()
        slots = rng.random(mention_ends[-1]).tolist()
        explicit = (rng.random(n) < 0.8).tolist()  # the rest leave hashtags and mentions to the caption
        w = t = k = 0
        for i in range(n):
            parts = [words[x] for x in all_words[w:word_ends[i]]]
            parts[0] = parts[0].capitalize()
            tags = list(dict.fromkeys(all_tags[t:tag_ends[i]]))
            parts += ["#" + self.tag_display[x] for x in tags]
            mentioned: dict[str, int] = {}
            for m, slot in zip(all_mentions[k:mention_ends[i]], slots[k:mention_ends[i]]):
                handle = "@" + self.usernames[m]
                if m not in self._deleted_users and handle not in mentioned:
                    parts.insert(int(slot * (len(parts) + 1)), handle)
                    mentioned[handle] = user_id(m)
            w, t, k = word_ends[i], tag_ends[i], mention_ends[i]
            media = {"id": ids[i], "owner": user_id(owners[i]), "caption": " ".join(parts), "taken_at": taken[i],
                     "place": None if places[i] < 0 else PLACE_ID0 + places[i]}
            if explicit[i]:
                media["hashtags"] = [self.tag_names[x] for x in tags]
                media["mentions"] = [mentioned[x] for x in parts if x in mentioned]
            yield {"op": "media.upsert", "ts": self._next_ts(), "media": media}

    def snapshot(self) -> Iterator[Event]:
        """The initial platform: places, users, follows, blocks, media, likes."""
        self._ts = T0
        self._deleted_users: set[int] = set()
        for place in self.places:
            yield {"op": "place.upsert", "ts": self._next_ts(), "place": dict(place)}
        for i in range(self.scale.users):
            yield self._user_event(i)
        for a, b in zip(self.follow_a.tolist(), self.follow_b.tolist()):
            yield {"op": "follow.add", "ts": self._next_ts(), "follower": a + 1, "followee": b + 1}
        for a, b in zip(self.block_a.tolist(), self.block_b.tolist()):
            yield {"op": "block.add", "ts": self._next_ts(), "blocker": a + 1, "blocked": b + 1}
        rng = np.random.default_rng(self._media_seed)
        for lo in range(0, self.scale.media, 65_536):
            hi = min(lo + 65_536, self.scale.media)
            yield from self._media_events(rng, list(range(MEDIA_ID0 + lo, MEDIA_ID0 + hi)), self.media_owner[lo:hi].tolist(),
                                          self.media_taken[lo:hi].tolist(), self.media_place[lo:hi].tolist())
        for u, m in zip(self.like_a.tolist(), self.like_b.tolist()):
            yield {"op": "like.add", "ts": self._next_ts(), "user": u + 1, "media": MEDIA_ID0 + m}

    def events(self) -> Iterator[Event]:
        yield from self.snapshot()
        yield from self.changes()

    def changes(self) -> Iterator[Event]:
        """Later activity on top of the snapshot; call after (or instead of) `snapshot()`."""
        return _Changes(self).run()


class _Changes:
    """The change stream: picks only live actors and existing edges, tracks what it changed."""

    KINDS = {
        "rename": 0.07, "privacy": 0.05, "verify": 0.01, "signup": 0.05, "follow": 0.24, "unfollow": 0.10,
        "like": 0.18, "unlike": 0.05, "post": 0.08, "edit": 0.03, "unpost": 0.03, "block": 0.02,
        "unblock": 0.01, "user_delete": 0.01, "place": 0.01,
    }

    def __init__(self, p: SyntheticPlatform) -> None:
        self.p = p
        self.rng = np.random.default_rng([p.seed, 1])
        p._ts = T0 + 1 + len(p.places) + p.scale.users + len(p.follow_a) + len(p.block_a) + p.scale.media + len(p.like_a)
        p._deleted_users = set()
        self.users = p.scale.users
        self.follow_keys = p.follow_a * p.scale.users + p.follow_b
        self.follows_added: set[tuple[int, int]] = set()
        self.follows_added_order: list[tuple[int, int]] = []
        self.follows_removed: set[tuple[int, int]] = set()
        self.like_keys = p.like_a * p.scale.media + p.like_b
        self.likes_added: set[tuple[int, int]] = set()
        self.likes_removed: set[tuple[int, int]] = set()
        self.blocks = set(zip(p.block_a.tolist(), p.block_b.tolist()))
        self.block_order = sorted(self.blocks)
        self.media_owner = p.media_owner.tolist()
        self.media_deleted: set[int] = set()

    # user indices (not ids) below; user ids are index + 1, user index >= scale.users are signups

    def live_user(self) -> int:
        p = self.p
        while True:
            u = int(_draw(self.rng, p._popularity, 1)[0]) if self.rng.random() < 0.5 else int(self.rng.integers(0, self.users))
            if u not in p._deleted_users:
                return u

    def live_media(self) -> int | None:
        for _ in range(20):
            m = int(self.rng.integers(0, len(self.media_owner)))
            if m not in self.media_deleted and self.media_owner[m] not in self.p._deleted_users:
                return m
        return None

    def has_follow(self, a: int, b: int) -> bool:
        if (a, b) in self.follows_removed:
            return False
        if (a, b) in self.follows_added:
            return True
        n = self.p.scale.users
        if a >= n or b >= n:
            return False
        key = a * n + b
        i = int(np.searchsorted(self.follow_keys, key))
        return i < len(self.follow_keys) and self.follow_keys[i] == key

    def has_like(self, u: int, m: int) -> bool:
        if (u, m) in self.likes_removed:
            return False
        if (u, m) in self.likes_added:
            return True
        n = self.p.scale.media
        if u >= self.p.scale.users or m >= n:
            return False
        key = u * n + m
        i = int(np.searchsorted(self.like_keys, key))
        return i < len(self.like_keys) and self.like_keys[i] == key

    def existing_follow(self) -> tuple[int, int] | None:
        dead = self.p._deleted_users
        for _ in range(20):
            if self.follows_added_order and self.rng.random() < 0.2:
                pool = self.follows_added_order
                a, b = pool[int(self.rng.integers(0, len(pool)))]
            elif len(self.follow_keys):
                i = int(self.rng.integers(0, len(self.follow_keys)))
                a, b = int(self.p.follow_a[i]), int(self.p.follow_b[i])
            else:
                return None
            if a not in dead and b not in dead and self.has_follow(a, b):
                return a, b
        return None

    def existing_like(self) -> tuple[int, int] | None:
        for _ in range(20):
            if not len(self.like_keys):
                return None
            i = int(self.rng.integers(0, len(self.like_keys)))
            u, m = int(self.p.like_a[i]), int(self.p.like_b[i])
            dead = self.p._deleted_users
            if u not in dead and m not in self.media_deleted and self.media_owner[m] not in dead and self.has_like(u, m):
                return u, m
        return None

    def event(self, kind: str) -> Event | None:
        p, rng = self.p, self.rng
        if kind in ("rename", "privacy", "verify"):
            u = self.live_user()
            if kind == "rename":
                locale = list(LOCALES)[p._user_locale[u]]
                first = p._pools.first[locale][int(rng.integers(0, len(p._pools.first[locale])))]
                last = p._pools.last[locale][int(rng.integers(0, len(p._pools.last[locale])))]
                if rng.random() < 0.5:
                    p.full_names[u] = f"{first} {last}"
                else:
                    p.usernames[u] = p._new_username(locale, first, last)
            elif kind == "privacy":
                p.is_private[u] = not p.is_private[u]
            else:
                p.is_verified[u] = not p.is_verified[u]
            return p._user_event(u)
        if kind == "signup":
            u = self.users
            self.users += 1
            locale = list(LOCALES)[int(rng.integers(0, len(LOCALES)))]
            first = p._pools.first[locale][int(rng.integers(0, len(p._pools.first[locale])))]
            last = p._pools.last[locale][int(rng.integers(0, len(p._pools.last[locale])))]
            p.usernames.append(p._new_username(locale, first, last))
            p.full_names.append(f"{first} {last}")
            p.is_private = np.append(p.is_private, rng.random() < 0.1)
            p.is_verified = np.append(p.is_verified, False)
            p._user_locale = np.append(p._user_locale, list(LOCALES).index(locale))
            return p._user_event(u)
        if kind == "follow":
            a, b = self.live_user(), self.live_user()
            if a == b or self.has_follow(a, b):
                return None
            self.follows_removed.discard((a, b))
            self.follows_added.add((a, b))
            self.follows_added_order.append((a, b))
            return {"op": "follow.add", "ts": p._next_ts(), "follower": a + 1, "followee": b + 1}
        if kind == "unfollow":
            pair = self.existing_follow()
            if pair is None:
                return None
            self.follows_added.discard(pair)
            self.follows_removed.add(pair)
            return {"op": "follow.remove", "ts": p._next_ts(), "follower": pair[0] + 1, "followee": pair[1] + 1}
        if kind == "like":
            u, m = self.live_user(), self.live_media()
            if m is None or self.has_like(u, m):
                return None
            self.likes_removed.discard((u, m))
            self.likes_added.add((u, m))
            return {"op": "like.add", "ts": p._next_ts(), "user": u + 1, "media": MEDIA_ID0 + m}
        if kind == "unlike":
            pair = self.existing_like()
            if pair is None:
                return None
            self.likes_added.discard(pair)
            self.likes_removed.add(pair)
            return {"op": "like.remove", "ts": p._next_ts(), "user": pair[0] + 1, "media": MEDIA_ID0 + pair[1]}
        if kind in ("post", "edit"):
            if kind == "post":
                owner, m = self.live_user(), len(self.media_owner)
                self.media_owner.append(owner)
            else:
                m = self.live_media()
                if m is None:
                    return None
                owner = self.media_owner[m]
            place = int(_draw(rng, p._place_cdf, 1)[0]) if p.places and rng.random() < 0.3 else -1
            taken = p._ts - int(rng.integers(0, 30 * _DAY))
            return next(p._media_events(rng, [MEDIA_ID0 + m], [owner], [taken], [place]))
        if kind == "unpost":
            m = self.live_media()
            if m is None:
                return None
            self.media_deleted.add(m)
            return {"op": "media.delete", "ts": p._next_ts(), "id": MEDIA_ID0 + m, "owner": self.media_owner[m] + 1}
        if kind == "block":
            a, b = self.live_user(), self.live_user()
            if a == b or (a, b) in self.blocks:
                return None
            self.blocks.add((a, b))
            self.block_order.append((a, b))
            return {"op": "block.add", "ts": p._next_ts(), "blocker": a + 1, "blocked": b + 1}
        if kind == "unblock":
            for _ in range(20):
                if not self.block_order:
                    return None
                pair = self.block_order[int(rng.integers(0, len(self.block_order)))]
                if pair in self.blocks and not p._deleted_users.intersection(pair):
                    break
            else:
                return None
            self.blocks.discard(pair)
            return {"op": "block.remove", "ts": p._next_ts(), "blocker": pair[0] + 1, "blocked": pair[1] + 1}
        if kind == "user_delete":
            u = self.live_user()
            p._deleted_users.add(u)
            return {"op": "user.delete", "ts": p._next_ts(), "id": u + 1}
        if kind == "place":
            i = int(rng.integers(0, len(p.places) + 1))
            kind_name = _PLACE_KINDS[int(rng.integers(0, len(_PLACE_KINDS)))]
            if i == len(p.places):
                lat, lng, city, country = p._pools.locations[int(rng.integers(0, len(p._pools.locations)))]
                p.places.append({"id": PLACE_ID0 + i, "name": f"{city} {kind_name}", "city": city,
                                 "country": country, "lat": lat, "lng": lng})
            else:
                p.places[i] = {**p.places[i], "name": f"{p.places[i]['city']} {kind_name}"}
            return {"op": "place.upsert", "ts": p._next_ts(), "place": dict(p.places[i])}
        raise ValueError(f"unknown change kind {kind!r}")

    def run(self) -> Iterator[Event]:
        kinds = list(self.KINDS)
        weights = np.array(list(self.KINDS.values()))
        emitted = 0
        while True:
            for kind in self.rng.choice(len(kinds), size=4096, p=weights / weights.sum()).tolist():
                if emitted == self.p.scale.changes:
                    return
                event = self.event(kinds[kind])
                if event is not None:
                    emitted += 1
                    yield event


def generate(scale: str | Scale, seed: int = 0, *, changes: bool = True) -> Iterator[Event]:
    """The platform's events: the initial snapshot, then (unless `changes=False`) the change stream."""
    platform = SyntheticPlatform(scale, seed)
    return platform.events() if changes else platform.snapshot()
