"""Stage 2, the parser: the hashtags and the places of a batch's media events, after the filters.

Contract: `parse(enriched) -> dict[Kind, Uses]`, the uses of the pre-processor's events in their
order, one column per field. Only media of a live, public owner count (docs/http-api.md):
anything else gives no use. Hashtags are normalized by docs/events.md (each distinct raw tag
once, kept) and taken from the event's `hashtags` field, or, without one, from the caption's
`#tags` (as Slipstream does); empty names are dropped. An item repeated within one event gives
repeated uses: the scorer counts distinct accounts, so they count once.
"""

from __future__ import annotations

import re
from itertools import compress
from typing import TYPE_CHECKING, Literal, NamedTuple

import numpy as np

from vocabulary.text import hashtag_name

if TYPE_CHECKING:
    from trending.preprocess import Enriched

Kind = Literal["hashtag", "place"]
KINDS: tuple[Kind, ...] = ("hashtag", "place")


class Uses(NamedTuple):
    """Uses of one kind: the i-th use is `items[i]` posted by `accounts[i]` at `ts[i]`, when the
    stream's clock was `as_of[i]`."""

    items: list[str | int]  # normalized hashtag names, or places' external ids
    accounts: np.ndarray  # the owners' internal user ids (int64)
    ts: np.ndarray  # int64
    as_of: np.ndarray  # int64


NAMES_MAX = 1_000_000  # raw hashtag -> normalized name entries kept


class _Names(dict):
    """Raw hashtag -> normalized name, normalized once."""

    def __missing__(self, raw: str) -> str:
        name = self[raw] = hashtag_name(raw)
        return name


_names = _Names()
_CAPTION_TAG = re.compile(r"#(\w+)")  # as vocabulary.text.caption_hashtags


def parse(enriched: Enriched) -> dict[Kind, Uses]:
    if len(_names) > NAMES_MAX:
        _names.clear()
    public = enriched.owner_public
    media = list(compress(enriched.media, public))
    tags: list[str] = []
    tags_end: list[int] = []  # per event: len(tags) after its own
    places: list[int] = []
    place_of: list[int] = []  # per place: its event
    normalized = _names.__getitem__
    for n, one in enumerate(media):
        given = one.get("hashtags")
        tags.extend(map(normalized, given if given is not None else _CAPTION_TAG.findall(one["caption"])))
        tags_end.append(len(tags))
        place = one.get("place")
        if place is not None:
            places.append(place)
            place_of.append(n)
    columns = [np.fromiter(compress(column, public), dtype=np.int64, count=len(media))
               for column in (enriched.owner, enriched.ts, enriched.as_of)]
    tag_of = np.repeat(np.arange(len(media)), np.diff(np.array(tags_end, dtype=np.intp), prepend=0))
    if "" in tags:  # a hashtag that normalizes to nothing
        named = np.fromiter(map(bool, tags), dtype=bool, count=len(tags))
        tags, tag_of = list(compress(tags, named)), tag_of[named]
    place_of_ = np.array(place_of, dtype=np.intp)
    return {"hashtag": Uses(tags, *(column[tag_of] for column in columns)),
            "place": Uses(places, *(column[place_of_] for column in columns))}
