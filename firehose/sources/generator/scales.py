"""How big a synthetic platform is: the named scales of the tests, the demo and the bench."""

from __future__ import annotations

from dataclasses import dataclass


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
