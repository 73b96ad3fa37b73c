"""The change stream: later activity on a synthetic platform (renames, privacy flips, signups,
follows and unfollows, likes and unlikes, new, edited and deleted media, blocks, user deletes,
places). It picks only live actors and existing edges, and tracks what it changed."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from firehose.events import (
    BLOCK_ADD,
    BLOCK_REMOVE,
    FOLLOW_ADD,
    FOLLOW_REMOVE,
    LIKE_ADD,
    LIKE_REMOVE,
    MEDIA_DELETE,
    PLACE_UPSERT,
    USER_DELETE,
    Event,
)
from firehose.sources.generator.graph import (
    DAY,
    MEDIA_ID0,
    PLACE_ID0,
    T0,
    draw,
    user_id,
)
from firehose.sources.generator.pools import LOCALES, PLACE_KINDS
from firehose.sources.generator.snapshot import Snapshot


class ChangeStream:
    """The changes of one platform, drawn from its own seeded generator."""

    KINDS = {
        "rename": 0.07, "privacy": 0.05, "verify": 0.01, "signup": 0.05, "follow": 0.24, "unfollow": 0.10,
        "like": 0.18, "unlike": 0.05, "post": 0.08, "edit": 0.03, "unpost": 0.03, "block": 0.02,
        "unblock": 0.01, "user_delete": 0.01, "place": 0.01,
    }

    def __init__(self, p: Snapshot) -> None:
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
            u = int(draw(self.rng, p._popularity, 1)[0]) if self.rng.random() < 0.5 else int(self.rng.integers(0, self.users))
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
            return FOLLOW_ADD.make(p._next_ts(), follower=user_id(a), followee=user_id(b))
        if kind == "unfollow":
            pair = self.existing_follow()
            if pair is None:
                return None
            self.follows_added.discard(pair)
            self.follows_removed.add(pair)
            return FOLLOW_REMOVE.make(p._next_ts(), follower=user_id(pair[0]), followee=user_id(pair[1]))
        if kind == "like":
            u, m = self.live_user(), self.live_media()
            if m is None or self.has_like(u, m):
                return None
            self.likes_removed.discard((u, m))
            self.likes_added.add((u, m))
            return LIKE_ADD.make(p._next_ts(), user=user_id(u), media=MEDIA_ID0 + m)
        if kind == "unlike":
            pair = self.existing_like()
            if pair is None:
                return None
            self.likes_added.discard(pair)
            self.likes_removed.add(pair)
            return LIKE_REMOVE.make(p._next_ts(), user=user_id(pair[0]), media=MEDIA_ID0 + pair[1])
        if kind in ("post", "edit"):
            if kind == "post":
                owner, m = self.live_user(), len(self.media_owner)
                self.media_owner.append(owner)
            else:
                m = self.live_media()
                if m is None:
                    return None
                owner = self.media_owner[m]
            place = int(draw(rng, p._place_cdf, 1)[0]) if p.places and rng.random() < 0.3 else -1
            taken = p._ts - int(rng.integers(0, 30 * DAY))
            return next(p._media_events(rng, [MEDIA_ID0 + m], [owner], [taken], [place]))
        if kind == "unpost":
            m = self.live_media()
            if m is None:
                return None
            self.media_deleted.add(m)
            return MEDIA_DELETE.make(p._next_ts(), id=MEDIA_ID0 + m, owner=user_id(self.media_owner[m]))
        if kind == "block":
            a, b = self.live_user(), self.live_user()
            if a == b or (a, b) in self.blocks:
                return None
            self.blocks.add((a, b))
            self.block_order.append((a, b))
            return BLOCK_ADD.make(p._next_ts(), blocker=user_id(a), blocked=user_id(b))
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
            return BLOCK_REMOVE.make(p._next_ts(), blocker=user_id(pair[0]), blocked=user_id(pair[1]))
        if kind == "user_delete":
            u = self.live_user()
            p._deleted_users.add(u)
            return USER_DELETE.make(p._next_ts(), id=user_id(u))
        if kind == "place":
            i = int(rng.integers(0, len(p.places) + 1))
            kind_name = PLACE_KINDS[int(rng.integers(0, len(PLACE_KINDS)))]
            if i == len(p.places):
                lat, lng, city, country = p._pools.locations[int(rng.integers(0, len(p._pools.locations)))]
                p.places.append({"id": PLACE_ID0 + i, "name": f"{city} {kind_name}", "city": city,
                                 "country": country, "lat": lat, "lng": lng})
            else:
                p.places[i] = {**p.places[i], "name": f"{p.places[i]['city']} {kind_name}"}
            return PLACE_UPSERT.make(p._next_ts(), place=dict(p.places[i]))
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
