"""The platform as events: its clock, the initial platform (places, users, follows, blocks,
media, likes) and the user and media events the change stream makes too; each event is exactly
what `firehose.events.validate` returns."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from firehose.events import (
    BLOCK_ADD,
    FOLLOW_ADD,
    LIKE_ADD,
    MEDIA_UPSERT,
    PLACE_UPSERT,
    USER_UPSERT,
    Event,
)
from firehose.sources.generator.graph import (
    MEDIA_ID0,
    PLACE_ID0,
    T0,
    Graph,
    draw,
    user_id,
)
from firehose.sources.generator.scales import Scale


class Snapshot(Graph):
    """A platform's graph with its event clock."""

    def __init__(self, scale: str | Scale, seed: int = 0) -> None:
        super().__init__(scale, seed)
        self._ts = T0

    def _next_ts(self) -> int:
        self._ts += 1
        return self._ts

    def _user_event(self, i: int) -> Event:
        return USER_UPSERT.make(self._next_ts(), user={
            "id": user_id(i), "username": self.usernames[i], "full_name": self.full_names[i],
            "is_private": bool(self.is_private[i]), "is_verified": bool(self.is_verified[i])})

    def _media_events(self, rng: np.random.Generator, ids: list[int], owners: list[int], taken: list[int],
                      places: list[int]) -> Iterator[Event]:
        """`media.upsert` events for a batch: all randomness drawn in bulk, then strings joined."""
        n, words = len(ids), self._pools.words
        n_words = rng.integers(1, 12, size=n)
        word_ends = np.cumsum(n_words).tolist()
        all_words = rng.integers(0, len(words), size=word_ends[-1]).tolist()
        n_tags = rng.geometric(0.45, size=n) - 1
        tag_ends = np.cumsum(n_tags).tolist()
        all_tags = draw(rng, self._tag_cdf, tag_ends[-1]).tolist()
        n_mentions = np.where(rng.random(n) < 0.15, rng.integers(1, 3, size=n), 0)
        mention_ends = np.cumsum(n_mentions).tolist()
        all_mentions = draw(rng, self._popularity, mention_ends[-1]).tolist()
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
            yield MEDIA_UPSERT.make(self._next_ts(), media=media)

    def snapshot(self) -> Iterator[Event]:
        """The initial platform: places, users, follows, blocks, media, likes."""
        self._ts = T0
        self._deleted_users = set()
        for place in self.places:
            yield PLACE_UPSERT.make(self._next_ts(), place=dict(place))
        for i in range(self.scale.users):
            yield self._user_event(i)
        for a, b in zip(self.follow_a.tolist(), self.follow_b.tolist()):
            yield FOLLOW_ADD.make(self._next_ts(), follower=user_id(a), followee=user_id(b))
        for a, b in zip(self.block_a.tolist(), self.block_b.tolist()):
            yield BLOCK_ADD.make(self._next_ts(), blocker=user_id(a), blocked=user_id(b))
        rng = np.random.default_rng(self._media_seed)
        for lo in range(0, self.scale.media, 65_536):
            hi = min(lo + 65_536, self.scale.media)
            yield from self._media_events(rng, list(range(MEDIA_ID0 + lo, MEDIA_ID0 + hi)), self.media_owner[lo:hi].tolist(),
                                          self.media_taken[lo:hi].tolist(), self.media_place[lo:hi].tolist())
        for u, m in zip(self.like_a.tolist(), self.like_b.tolist()):
            yield LIKE_ADD.make(self._next_ts(), user=user_id(u), media=MEDIA_ID0 + m)
