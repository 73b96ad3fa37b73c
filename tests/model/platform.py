"""A plain-Python model of the platform, written from SPEC §1-§3 with sets and dicts.

It shares no code with slipstream or the engine except text normalization (SPEC §1 itself).
`Platform.apply` follows SPEC §2; `document` derives SPEC §1 documents; `term` gives the
documents a SPEC §3 term matches (no privacy; tests/model/queries.py adds SPEC §4-§5).
"""

from __future__ import annotations

from unicorn.text import caption_hashtags, caption_mentions, hashtag_name, normalize, tokens


class Platform:
    def __init__(self) -> None:
        self.users: dict[int, dict] = {}
        self.follows: set[tuple[int, int]] = set()
        self.blocks: set[tuple[int, int]] = set()
        self.likes: set[tuple[int, int]] = set()
        self.places: dict[int, dict] = {}
        self.media: dict[int, dict] = {}

    # SPEC §2

    def apply(self, event: dict) -> None:
        op = event["op"]
        if op == "user.upsert":
            user = event["user"]
            self.users[user["id"]] = {k: user[k] for k in ("id", "username", "full_name", "is_private", "is_verified")}
        elif op == "user.delete":
            uid = event["id"]
            self.users.pop(uid, None)
            self.follows = {e for e in self.follows if uid not in e}
            self.blocks = {e for e in self.blocks if uid not in e}
            self.likes = {e for e in self.likes if e[0] != uid}
            for mid in [m for m, media in self.media.items() if media["owner"] == uid]:
                self._delete_media(mid)
        elif op == "follow.add":
            self.follows.add((event["follower"], event["followee"]))
        elif op == "follow.remove":
            self.follows.discard((event["follower"], event["followee"]))
        elif op == "block.add":
            self.blocks.add((event["blocker"], event["blocked"]))
        elif op == "block.remove":
            self.blocks.discard((event["blocker"], event["blocked"]))
        elif op == "like.add":
            self.likes.add((event["user"], event["media"]))
        elif op == "like.remove":
            self.likes.discard((event["user"], event["media"]))
        elif op == "place.upsert":
            place = event["place"]
            self.places[place["id"]] = {k: place[k] for k in ("id", "name", "city", "country", "lat", "lng")}
        elif op == "media.upsert":
            media = event["media"]
            if media.get("hashtags") is not None:
                tags = [t for t in (hashtag_name(t) for t in media["hashtags"]) if t]
            else:
                tags = caption_hashtags(media["caption"])
            if media.get("mentions") is not None:
                mentions = list(media["mentions"])
            else:
                mentions = []
                for name in caption_mentions(media["caption"]):
                    known = [u for u, user in self.users.items() if normalize(user["username"]) == normalize(name)]
                    if known:
                        mentions.append(min(known))
            self.media[media["id"]] = {
                "id": media["id"],
                "owner": media["owner"],
                "caption": media["caption"],
                "taken_at": media["taken_at"],
                "place": media.get("place"),
                "hashtags": list(dict.fromkeys(tags)),
                "mentions": list(dict.fromkeys(mentions)),
            }
        elif op == "media.delete":
            self._delete_media(event["id"])
        else:
            raise ValueError(op)

    def _delete_media(self, mid: int) -> None:
        """A deleted media takes every like on it along, also likes stored before it existed."""
        self.media.pop(mid, None)
        self.likes = {e for e in self.likes if e[1] != mid}

    # SPEC §1 documents, counts derived from state

    def followers(self, uid: int) -> set[int]:
        return {a for a, z in self.follows if z == uid and a in self.users}

    def following(self, uid: int) -> set[int]:
        return {z for a, z in self.follows if a == uid and z in self.users}

    def hashtags(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for media in self.media.values():
            for tag in media["hashtags"]:
                counts[tag] = counts.get(tag, 0) + 1
        return counts

    def document(self, vertical: str, key: int | str) -> dict | None:
        if vertical == "user":
            user = self.users.get(key)
            if user is None:
                return None
            return {
                **user,
                "followers_count": len(self.followers(key)),
                "following_count": len(self.following(key)),
                "media_count": sum(1 for m in self.media.values() if m["owner"] == key),
            }
        if vertical == "media":
            media = self.media.get(key)
            if media is None:
                return None
            owner = self.users.get(media["owner"])
            return {
                "id": key,
                "owner": media["owner"],
                "owner_username": owner["username"] if owner else None,
                "caption": media["caption"],
                "hashtags": media["hashtags"],
                "mentions": media["mentions"],
                "place": media["place"],
                "taken_at": media["taken_at"],
                "like_count": sum(1 for u, m in self.likes if m == key and u in self.users),
            }
        if vertical == "hashtag":
            count = self.hashtags().get(key, 0)
            return {"id": key, "name": key, "media_count": count} if count else None
        if vertical == "place":
            place = self.places.get(key)
            if place is None:
                return None
            return {**place, "media_count": sum(1 for m in self.media.values() if m["place"] == key)}
        raise ValueError(vertical)

    def ids(self, vertical: str) -> set:
        """Live documents of a vertical."""
        return {
            "user": lambda: set(self.users),
            "media": lambda: set(self.media),
            "hashtag": lambda: set(self.hashtags()),
            "place": lambda: set(self.places),
        }[vertical]()

    # SPEC §3 terms (no privacy)

    def term(self, vertical: str, term: str) -> set:
        """The live documents of `vertical` that SPEC §3 `term` matches."""
        prefix, _, value = term.partition(":")
        if vertical == "user":
            if prefix == "name":
                wanted = tokens(value)
                return {
                    u for u, user in self.users.items()
                    if wanted and all(
                        any(t.startswith(w) for t in tokens(user["username"]) + tokens(user["full_name"]))
                        for w in wanted
                    )
                }
            if prefix == "username":
                return {u for u, user in self.users.items() if normalize(user["username"]) == normalize(value)}
            if prefix == "following":
                return self.following(int(value))
            if prefix == "follower":
                return self.followers(int(value))
            if prefix == "is" and value in ("verified", "private"):
                return {u for u, user in self.users.items() if user[f"is_{value}"]}
        if vertical == "media":
            field = {"owner": "owner", "place": "place"}.get(prefix)
            if field:
                return {m for m, media in self.media.items() if media[field] == int(value)}
            if prefix == "hashtag":
                return {m for m, media in self.media.items() if hashtag_name(value) in media["hashtags"]}
            if prefix == "mention":
                return {m for m, media in self.media.items() if int(value) in media["mentions"]}
            if prefix == "liker":
                return {m for u, m in self.likes if u == int(value) and m in self.media}
            if prefix == "word":
                return {m for m, media in self.media.items() if normalize(value) in tokens(media["caption"])}
        if vertical == "hashtag" and prefix == "name":
            return {h for h in self.hashtags() if h.startswith(normalize(value))}
        if vertical == "place":
            if prefix == "name":
                wanted = tokens(value)
                return {
                    p for p, place in self.places.items()
                    if wanted and all(any(t.startswith(w) for t in tokens(place["name"])) for w in wanted)
                }
            if prefix == "city":
                return {p for p, place in self.places.items() if normalize(value) in tokens(place["city"])}
        raise ValueError(f"{vertical} has no term {term!r}")
