"""Stage 2, the parser: the hashtags and the place of a media event, after the filters.

Contract: `parse(enriched) -> list[Use]`. Only media of a live, public owner count (docs/http-api.md):
anything else gives no use. Hashtags are normalized by docs/events.md and taken from the event's
`hashtags` field, or, without one, from the caption's `#tags` (as Slipstream does); empty names
are dropped and each item appears once per event.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal, NamedTuple

from trending.preprocess import Enriched
from vocabulary.text import hashtag_name

Kind = Literal["hashtag", "place"]
KINDS: tuple[Kind, ...] = ("hashtag", "place")


class Use(NamedTuple):
    kind: Kind
    item: str | int  # a normalized hashtag name, or a place's external id
    account: int  # the owner's internal user id
    ts: int


_hashtag = lru_cache(maxsize=65_536)(hashtag_name)
_use = Use._make
_CAPTION_TAG = re.compile(r"#(\w+)")  # as vocabulary.text.caption_hashtags


def hashtags(media: dict) -> list[str]:
    """The media's normalized hashtags, distinct, in order."""
    given = media.get("hashtags")
    if given is not None:
        names = list(dict.fromkeys(map(_hashtag, given)))
        if "" in names:
            names.remove("")
        return names
    return list(dict.fromkeys(map(_hashtag, _CAPTION_TAG.findall(media["caption"]))))


def parse(enriched: Enriched) -> list[Use]:
    if not enriched.owner_public:
        return []
    ts, media, account = enriched.ts, enriched.media, enriched.owner
    uses = [_use(("hashtag", name, account, ts)) for name in hashtags(media)]
    place = media.get("place")
    if place is not None:
        uses.append(_use(("place", place, account, ts)))
    return uses
