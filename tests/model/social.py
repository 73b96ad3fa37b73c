"""The social order of users (docs/http-api.md "Typeahead"), written from the docs' words; it imports nothing
from the product.

A viewer's followees F are the viewer's live followees not hidden from the viewer. A user's mutual weight
is the sum, over the users f of F who follow them, of f's share ceil(2^20 / f's following_count). Users
come: the exact username first, then the people the viewer follows, then by mutual weight (more first),
then by followers_count (more first), an exact match before a typo match, then by id.

Weights are whole numbers, compared exactly; the product computes the same integers, so the model and the
product cannot order two users differently through rounding.
"""

from __future__ import annotations

SHARE_UNIT = 2 ** 20


def share(following_count: int) -> int:
    """A followee's share of the mutual weight of each user it follows: ceil(2^20 / its following_count)."""
    return -(-SHARE_UNIT // following_count)


def mutual_weight(following_counts: dict[int, int], followed_by: frozenset[int] | set[int]) -> int:
    """The mutual weight of a user followed by the followees `followed_by` (each's following_count given)."""
    return sum(share(following_counts[f]) for f in followed_by)


def user_key(exact: bool, followed: bool, weight: int, followers: int, typo: bool, uid: int) -> tuple:
    """A user's place in the order, ascending: the users of smaller keys come first."""
    return not exact, not followed, -weight, -followers, typo, uid
