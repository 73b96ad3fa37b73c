"""Verticals, term prefixes and how verticals connect (docs/events.md, §3, §4)."""

from __future__ import annotations

VERTICALS = ("user", "media", "hashtag", "place")

# `name:` postings exist for token prefixes up to this many characters; longer prefixes are
# verified against the document.
PREFIX_MAX = 8

# Prefixes a query may use, per vertical (docs/query-language.md). Internal terms start with "_".
PREFIXES: dict[str, frozenset[str]] = {
    "user": frozenset({"name", "username", "following", "follower", "is"}),
    "media": frozenset({"owner", "hashtag", "place", "mention", "liker", "word"}),
    "hashtag": frozenset({"name"}),
    "place": frozenset({"name", "city"}),
}

# Edge terms whose visibility depends on the viewer's relation to the value (docs/privacy.md).
EDGE_PREFIXES = frozenset({"following", "follower", "liker"})

# extract FIELD: -> (inner vertical, outer vertical)
EXTRACT: dict[str, tuple[str, str]] = {
    "owner": ("media", "user"),
    "mention": ("media", "user"),
    "place": ("media", "place"),
    "hashtag": ("media", "hashtag"),
}

# The count that leads each vertical's static order (docs/query-language.md).
RANK_COUNT = {"user": "followers_count", "media": "like_count", "hashtag": "media_count", "place": "media_count"}
