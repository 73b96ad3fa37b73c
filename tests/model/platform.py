"""A plain-Python model of the platform, written from SPEC §1-§3 with sets and dicts.

It imports nothing from the product (text rules: tests/model/text.py). `Platform.apply` follows
SPEC §2; `document` derives SPEC §1 documents; `term` gives the documents a SPEC §3 term matches
(no privacy; tests/model/queries.py adds SPEC §4-§5).

- A caption's `@name` is kept as a name and resolved when read: the live user holding that
  normalized username now, the lowest id if several do.
- Event time: follows, blocks and likes keep the newest `ts` they were added at; a `user.delete`
  or `media.delete` at `ts` T removes those touching it added before T and leaves a tombstone
  that drops such older ones arriving later; newer ones survive.
- Hashtag and place `media_count` count live media whose owner is not private.
"""

from __future__ import annotations

from collections.abc import KeysView

from tests.model.text import caption_hashtags, caption_mentions, hashtag_name, normalize, tokens


class Platform:
    def __init__(self) -> None:
        self.users: dict[int, dict] = {}
        self.follow_ts: dict[tuple[int, int], int] = {}
        self.block_ts: dict[tuple[int, int], int] = {}
        self.like_ts: dict[tuple[int, int], int] = {}
        self.user_deleted_at: dict[int, int] = {}
        self.media_deleted_at: dict[int, int] = {}
        self.places: dict[int, dict] = {}
        self.media: dict[int, dict] = {}

    # SPEC §2

    # Live views of the edges (set-like, not copies: membership tests stay O(1)).

    @property
    def follows(self) -> KeysView[tuple[int, int]]:
        return self.follow_ts.keys()

    @property
    def blocks(self) -> KeysView[tuple[int, int]]:
        return self.block_ts.keys()

    @property
    def likes(self) -> KeysView[tuple[int, int]]:
        return self.like_ts.keys()

    def _add(self, edges: dict, pair: tuple[int, int], ts: int, media: bool = False) -> None:
        users = pair[:1] if media else pair
        if any(ts < self.user_deleted_at.get(u, ts) for u in users):
            return
        if media and ts < self.media_deleted_at.get(pair[1], ts):
            return
        edges[pair] = max(ts, edges.get(pair, ts))

    def apply(self, event: dict) -> None:
        op, ts = event["op"], event["ts"]
        if op == "user.upsert":
            user = event["user"]
            self.users[user["id"]] = {k: user[k] for k in ("id", "username", "full_name", "is_private", "is_verified")}
        elif op == "user.delete":
            uid = event["id"]
            self.users.pop(uid, None)
            self.user_deleted_at[uid] = max(ts, self.user_deleted_at.get(uid, ts))
            for edges in (self.follow_ts, self.block_ts):
                for pair in [p for p, at in edges.items() if uid in p and at < ts]:
                    del edges[pair]
            for pair in [p for p, at in self.like_ts.items() if p[0] == uid and at < ts]:
                del self.like_ts[pair]
            for mid in [m for m, media in self.media.items() if media["owner"] == uid]:
                self._delete_media(mid, ts)
        elif op == "follow.add":
            self._add(self.follow_ts, (event["follower"], event["followee"]), ts)
        elif op == "follow.remove":
            self.follow_ts.pop((event["follower"], event["followee"]), None)
        elif op == "block.add":
            self._add(self.block_ts, (event["blocker"], event["blocked"]), ts)
        elif op == "block.remove":
            self.block_ts.pop((event["blocker"], event["blocked"]), None)
        elif op == "like.add":
            self._add(self.like_ts, (event["user"], event["media"]), ts, media=True)
        elif op == "like.remove":
            self.like_ts.pop((event["user"], event["media"]), None)
        elif op == "place.upsert":
            place = event["place"]
            self.places[place["id"]] = {k: place[k] for k in ("id", "name", "city", "country", "lat", "lng")}
        elif op == "media.upsert":
            media = event["media"]
            if media.get("hashtags") is not None:
                tags = [t for t in (hashtag_name(t) for t in media["hashtags"]) if t]
            else:
                tags = caption_hashtags(media["caption"])
            explicit = media.get("mentions")
            self.media[media["id"]] = {
                "id": media["id"],
                "owner": media["owner"],
                "caption": media["caption"],
                "taken_at": media["taken_at"],
                "place": media.get("place"),
                "hashtags": list(dict.fromkeys(tags)),
                "explicit_mentions": None if explicit is None else list(dict.fromkeys(explicit)),
                "mention_names": caption_mentions(media["caption"]),
            }
        elif op == "media.delete":
            self._delete_media(event["id"], ts)
        else:
            raise ValueError(op)

    def _delete_media(self, mid: int, ts: int) -> None:
        """A deleted media takes along the likes on it older than the delete, also likes stored before it existed."""
        self.media.pop(mid, None)
        self.media_deleted_at[mid] = max(ts, self.media_deleted_at.get(mid, ts))
        for pair in [p for p, at in self.like_ts.items() if p[1] == mid and at < ts]:
            del self.like_ts[pair]

    def mentions(self, mid: int) -> list[int]:
        """SPEC §2: explicit mentions as given; caption names resolved to their live holder now (lowest id)."""
        media = self.media[mid]
        if media["explicit_mentions"] is not None:
            return media["explicit_mentions"]
        resolved = []
        for name in media["mention_names"]:
            holders = [u for u, user in self.users.items() if normalize(user["username"]) == name]
            if holders:
                resolved.append(min(holders))
        return list(dict.fromkeys(resolved))

    def public_media(self) -> list[dict]:
        """Live media whose owner is not private: what hashtag and place counts count (SPEC §1)."""
        return [m for m in self.media.values() if not self.users.get(m["owner"], {}).get("is_private", False)]

    # SPEC §1 documents, counts derived from state

    def followers(self, uid: int) -> set[int]:
        return {a for a, z in self.follows if z == uid and a in self.users}

    def following(self, uid: int) -> set[int]:
        return {z for a, z in self.follows if a == uid and z in self.users}

    def hashtags(self) -> dict[str, int]:
        """Every live hashtag (carried by some live media) -> its count of public media."""
        counts = {tag: 0 for media in self.media.values() for tag in media["hashtags"]}
        for media in self.public_media():
            for tag in media["hashtags"]:
                counts[tag] += 1
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
                "mentions": self.mentions(key),
                "place": media["place"],
                "taken_at": media["taken_at"],
                "like_count": sum(1 for u, m in self.likes if m == key and u in self.users),
            }
        if vertical == "hashtag":
            counts = self.hashtags()
            return {"id": key, "name": key, "media_count": counts[key]} if key in counts else None
        if vertical == "place":
            place = self.places.get(key)
            if place is None:
                return None
            return {**place, "media_count": sum(1 for m in self.public_media() if m["place"] == key)}
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
                return {m for m in self.media if int(value) in self.mentions(m)}
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
