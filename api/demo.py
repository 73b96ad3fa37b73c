"""The demo's login (`unicorn demo` only): pick a user of the generated platform, get a viewer token.

`GET /v1/demo/users` lists a few personas (the live users who follow the most accounts, so that
social context shows); `POST /v1/demo/login {"username"}` answers the demo's search key and a
viewer token for that user, which is what the page then sends with every API call.
"""

from __future__ import annotations

from indexer.store import ReadView
from vocabulary import terms, text

PERSONAS = 6
TOKEN_TTL_S = 3600
MAX_USERNAME = 100  # characters; the demo's generated usernames are far shorter


def personas(view: ReadView, count: int = PERSONAS) -> list[dict]:
    """The `count` live users following the most accounts, most first, ties by smaller id."""
    users = [view.doc("user", iid) for iid in view.posting("user", terms.LIVE)]
    users.sort(key=lambda doc: (-doc["following_count"], doc["id"]))
    return [{"id": str(doc["id"]), "username": doc["username"], "full_name": doc["full_name"],
             "following_count": doc["following_count"]} for doc in users[:count]]


def user_named(view: ReadView, username: str) -> dict | None:
    """The live user whose username equals `username` (normalized, as the `username:` term), or None."""
    found = view.posting("user", terms.username(text.normalize(username))) & view.posting("user", terms.LIVE)
    return view.doc("user", min(found)) if found else None
