"""Stage 2, the parser: the hashtags and the places of a batch's media events, after the filters.

Contract: `parse(enriched) -> dict[Kind, Uses]`, the uses of the pre-processor's events in their
order, one column per field. Only media of a live, public owner count (docs/http-api.md):
anything else gives no use. Hashtags are normalized by docs/events.md and taken from the event's
`hashtags` field, or, without one, from the caption's `#tags` (as Slipstream does); empty names
are dropped. An item repeated within one event gives repeated uses: the scorer counts distinct
accounts, so they count once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, NamedTuple

from unicorn.text import hashtag_name

if TYPE_CHECKING:
    from trending.preprocess import Enriched

Kind = Literal["hashtag", "place"]
KINDS: tuple[Kind, ...] = ("hashtag", "place")


class Uses(NamedTuple):
    """Uses of one kind: the i-th use is `items[i]` posted by `accounts[i]` at `ts[i]`, when the
    stream's clock was `as_of[i]`."""

    items: list[str | int]  # normalized hashtag names, or places' external ids
    accounts: list[int]  # the owners' internal user ids
    ts: list[int]
    as_of: list[int]


_hashtag = lru_cache(maxsize=65_536)(hashtag_name)
_CAPTION_TAG = re.compile(r"#(\w+)")  # as unicorn.text.caption_hashtags


def parse(enriched: Iterable[Enriched]) -> dict[Kind, Uses]:
    tags, places = Uses([], [], [], []), Uses([], [], [], [])
    tag_items, tag_accounts, tag_ts, tag_as_of = tags
    place_items, place_accounts, place_ts, place_as_of = places
    for ts, media, account, _, public, as_of in enriched:
        if not public:
            continue
        given = media.get("hashtags")
        for name in map(_hashtag, given if given is not None else _CAPTION_TAG.findall(media["caption"])):
            if name:
                tag_items.append(name)
                tag_accounts.append(account)
                tag_ts.append(ts)
                tag_as_of.append(as_of)
        place = media.get("place")
        if place is not None:
            place_items.append(place)
            place_accounts.append(account)
            place_ts.append(ts)
            place_as_of.append(as_of)
    return {"hashtag": tags, "place": places}
