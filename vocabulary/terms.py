"""Terms as the index stores them (docs/query-language.md): `PREFIX:VALUE`, values normalized, edges and
entities by external id in decimal. Every module builds terms here; none spells one by hand.
Internal terms start with "_" and are never accepted from a query."""

from __future__ import annotations

LIVE = "_live"  # every vertical: the documents that exist
PRIVATE_MEDIA = "_private"  # media: those whose owner is private
PUBLIC_MEDIA = "_public"  # media: live media of a known, public owner (hashtag and place counts)
VERIFIED = "is:verified"
PRIVATE_USER = "is:private"
ATNAME = "_atname:"  # media: those whose caption mentions `@NAME`, re-resolved when NAME changes hands


def term(prefix: str, value: int | str) -> str:
    """A term of any prefix: `term("following", 42)` is "following:42"."""
    return f"{prefix}:{value}"


def name(prefix: str) -> str:
    return f"name:{prefix}"


def username(normalized: str) -> str:
    return f"username:{normalized}"


def following(user: int) -> str:
    """Users whom `user` follows."""
    return f"following:{user}"


def follower(user: int) -> str:
    """Users who follow `user`."""
    return f"follower:{user}"


def owner(user: int) -> str:
    return f"owner:{user}"


def mention(user: int) -> str:
    return f"mention:{user}"


def liker(user: int) -> str:
    return f"liker:{user}"


def hashtag(normalized: str) -> str:
    return f"hashtag:{normalized}"


def place(place_id: int) -> str:
    return f"place:{place_id}"


def word(token: str) -> str:
    return f"word:{token}"


def city(token: str) -> str:
    return f"city:{token}"


def atname(normalized: str) -> str:
    return f"{ATNAME}{normalized}"


def blocks(user: int) -> str:
    """Users whom `user` blocks (internal)."""
    return f"_blocks:{user}"


def blocked_by(user: int) -> str:
    """Users who block `user` (internal)."""
    return f"_blockedby:{user}"


def liked(media: int) -> str:
    """Users who like `media` (internal; the media side is `liker:`)."""
    return f"_liked:{media}"
