"""A viewer's context across index shards: the facts about the viewer that live on other shards, resolved
once per request by the aggregator (unicorn.aggregator) and handed to every shard with the request.

One index computes the same facts from its own postings (unicorn.query.privacy, unicorn.circle); a shard
holds only its documents, so `following:V`, `_blocks:V` and the carriers of a hashtag are spread over all
shards. With a `ViewerContext` a shard's engine decides privacy (docs/privacy.md) and the typeahead's `social`
context (docs/http-api.md) exactly as one index would:

- `followees` (F): the viewer's live followees not hidden from the viewer, each with what a shard needs
  of it: its privacy flag (whose private media the viewer sees), followers count and names (`social`),
  and followee count (its share of the mutual weights that order the typeahead, unicorn.graph);
- `hidden` (H): users blocking or blocked by the viewer;
- `hashtags`: what hashtag visibility needs from media on other shards (None when the request does not
  look at hashtags).

The admin's context is `ViewerContext(None)`: it sees all that is live, and tells a shard that edge terms
name users it may not hold.

`key` names the context's content: a shard caches what it derives from a context per (generation, key),
as one index caches per (generation, viewer).
"""

from __future__ import annotations

import hashlib

import msgspec


class Followee(msgspec.Struct, frozen=True, array_like=True):
    id: int
    private: bool
    followers: int
    username: str
    full_name: str
    following_count: int


class Hashtags(msgspec.Struct, frozen=True):
    """Hashtag visibility's facts from every shard: per hashtag, how many public media owned in H carry it
    (a hashtag whose every public carrier is owned in H is invisible), and the hashtags that private media of
    `F & private | {viewer}` outside H carry (visible although not public)."""

    hidden_carriers: dict[str, int] = {}
    private_carried: list[str] = []


class ViewerContext(msgspec.Struct, frozen=True):
    viewer: int | None  # None: the admin, who sees all that is live
    followees: list[Followee] = []
    hidden: list[int] = []
    hashtags: Hashtags | None = None

    @property
    def key(self) -> bytes:
        return hashlib.blake2b(msgspec.msgpack.encode(self), digest_size=16).digest()

    def with_hashtags(self, hashtags: Hashtags) -> ViewerContext:
        return msgspec.structs.replace(self, hashtags=hashtags)


def encode(context: ViewerContext | None) -> bytes:
    return msgspec.msgpack.encode(context)


def decode(raw: bytes) -> ViewerContext | None:
    return msgspec.msgpack.decode(raw, type=ViewerContext | None)
