"""Slipstream: turns each SPEC §2 event into document updates and term diffs on a WriteBatch.

Edges (follows, blocks, likes) are stored whether or not their endpoints exist; documents,
`_live` and the derived counts of SPEC §1 follow existence. Every handler is idempotent, so a
replayed event changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from pyroaring import BitMap

from firehose.events import Event
from slipstream.terms import hashtag_terms, media_terms, place_terms, user_terms
from unicorn.schema import LIVE
from unicorn.store import WriteBatch
from unicorn.text import caption_hashtags, caption_mentions, hashtag_name, normalize


class Slipstream:
    """Applies events to one write batch."""

    def __init__(self, batch: WriteBatch) -> None:
        self.batch = batch
        self._handlers: dict[str, Callable[[Event], None]] = {
            "user.upsert": self._user_upsert,
            "user.delete": self._user_delete,
            "follow.add": self._follow_add,
            "follow.remove": self._follow_remove,
            "block.add": self._block_add,
            "block.remove": self._block_remove,
            "place.upsert": self._place_upsert,
            "media.upsert": self._media_upsert,
            "media.delete": self._media_delete,
            "like.add": self._like_add,
            "like.remove": self._like_remove,
        }

    def apply(self, event: Event) -> None:
        """Apply one canonical event (`firehose.events.validate`)."""
        self._handlers[event["op"]](event)

    # shared steps

    def _retag(self, vertical: str, iid: int, old: set[str], new: set[str]) -> None:
        for term in old - new:
            self.batch.remove(vertical, term, iid)
        for term in new - old:
            self.batch.add(vertical, term, iid)

    def _bump(self, vertical: str, iid: int, field: str, delta: int) -> None:
        doc = self.batch.doc(vertical, iid)
        if doc is not None:
            doc[field] += delta
            self.batch.put_doc(vertical, iid, doc)

    def _live_count(self, vertical: str, term: str, of: str) -> int:
        return self.batch.posting(vertical, term).intersection_cardinality(self.batch.posting(of, LIVE))

    def _live(self, vertical: str, iids: BitMap) -> BitMap:
        return iids & self.batch.posting(vertical, LIVE)

    # users

    def _user_upsert(self, event: Event) -> None:
        user = event["user"]
        uid = user["id"]
        b = self.batch
        iid = b.intern("user", uid)
        old = b.doc("user", iid)
        doc = dict(user)
        if old is None:
            doc.update(followers_count=0, following_count=0, media_count=0)
            b.put_doc("user", iid, doc)
            self._retag("user", iid, set(), user_terms(doc))
            doc["followers_count"] = self._live_count("user", f"follower:{uid}", "user")
            doc["following_count"] = self._live_count("user", f"following:{uid}", "user")
            doc["media_count"] = self._live_count("media", f"owner:{uid}", "media")
            for followee in self._live("user", b.posting("user", f"following:{uid}")) - BitMap([iid]):
                self._bump("user", followee, "followers_count", 1)
            for follower in self._live("user", b.posting("user", f"follower:{uid}")) - BitMap([iid]):
                self._bump("user", follower, "following_count", 1)
            for media in self._live("media", b.posting("media", f"liker:{uid}")):
                self._bump("media", media, "like_count", 1)
        else:
            for field in ("followers_count", "following_count", "media_count"):
                doc[field] = old[field]
            self._retag("user", iid, user_terms(old), user_terms(doc))
        b.put_doc("user", iid, doc)
        if old is None or old["username"] != doc["username"] or old["is_private"] != doc["is_private"]:
            self._fan_out_owner(uid, doc["username"], doc["is_private"])

    def _fan_out_owner(self, uid: int, username: str | None, is_private: bool) -> None:
        """Carry the owner's username and privacy into each of their media; a media that turns
        private leaves its place's and hashtags' counts, one that turns public joins them."""
        b = self.batch
        for media in self._live("media", b.posting("media", f"owner:{uid}")):
            doc = b.doc("media", media)
            doc["owner_username"] = username
            b.put_doc("media", media, doc)
            if (media in b.posting("media", "_private")) == is_private:
                continue
            if is_private:
                b.add("media", "_private", media)
            else:
                b.remove("media", "_private", media)
            self._count_public(doc, -1 if is_private else 1)

    def _user_delete(self, event: Event) -> None:
        uid = event["id"]
        b = self.batch
        iid = b.iid("user", uid)
        if iid is None:
            return
        for followee in list(b.posting("user", f"following:{uid}")):
            self._unfollow(uid, iid, b.ext("user", followee), followee)
        for follower in list(b.posting("user", f"follower:{uid}")):
            self._unfollow(b.ext("user", follower), follower, uid, iid)
        for blocked in list(b.posting("user", f"_blocks:{uid}")):
            self._unblock(uid, iid, b.ext("user", blocked), blocked)
        for blocker in list(b.posting("user", f"_blockedby:{uid}")):
            self._unblock(b.ext("user", blocker), blocker, uid, iid)
        for media in list(b.posting("media", f"liker:{uid}")):
            self._unlike(uid, iid, b.ext("media", media), media)
        for media in list(self._live("media", b.posting("media", f"owner:{uid}"))):
            self._delete_media(b.ext("media", media), media)
        old = b.doc("user", iid)
        if old is not None:
            self._retag("user", iid, user_terms(old), set())
            b.delete_doc("user", iid)

    # edges

    def _follow_add(self, event: Event) -> None:
        a, z = event["follower"], event["followee"]
        b = self.batch
        ia, iz = b.intern("user", a), b.intern("user", z)
        if iz in b.posting("user", f"following:{a}"):
            return
        b.add("user", f"following:{a}", iz)
        b.add("user", f"follower:{z}", ia)
        if b.is_live("user", ia) and b.is_live("user", iz):
            self._bump("user", ia, "following_count", 1)
            self._bump("user", iz, "followers_count", 1)

    def _follow_remove(self, event: Event) -> None:
        a, z = event["follower"], event["followee"]
        ia, iz = self.batch.iid("user", a), self.batch.iid("user", z)
        if ia is not None and iz is not None:
            self._unfollow(a, ia, z, iz)

    def _unfollow(self, a: int, ia: int, z: int, iz: int) -> None:
        b = self.batch
        if iz not in b.posting("user", f"following:{a}"):
            return
        b.remove("user", f"following:{a}", iz)
        b.remove("user", f"follower:{z}", ia)
        if b.is_live("user", ia) and b.is_live("user", iz):
            self._bump("user", ia, "following_count", -1)
            self._bump("user", iz, "followers_count", -1)

    def _block_add(self, event: Event) -> None:
        a, z = event["blocker"], event["blocked"]
        ia, iz = self.batch.intern("user", a), self.batch.intern("user", z)
        self.batch.add("user", f"_blocks:{a}", iz)
        self.batch.add("user", f"_blockedby:{z}", ia)

    def _block_remove(self, event: Event) -> None:
        a, z = event["blocker"], event["blocked"]
        ia, iz = self.batch.iid("user", a), self.batch.iid("user", z)
        if ia is not None and iz is not None:
            self._unblock(a, ia, z, iz)

    def _unblock(self, a: int, ia: int, z: int, iz: int) -> None:
        self.batch.remove("user", f"_blocks:{a}", iz)
        self.batch.remove("user", f"_blockedby:{z}", ia)

    def _like_add(self, event: Event) -> None:
        u, m = event["user"], event["media"]
        b = self.batch
        iu, im = b.intern("user", u), b.intern("media", m)
        if im in b.posting("media", f"liker:{u}"):
            return
        b.add("media", f"liker:{u}", im)
        b.add("user", f"_liked:{m}", iu)
        if b.is_live("user", iu) and b.is_live("media", im):
            self._bump("media", im, "like_count", 1)

    def _like_remove(self, event: Event) -> None:
        u, m = event["user"], event["media"]
        iu, im = self.batch.iid("user", u), self.batch.iid("media", m)
        if iu is not None and im is not None:
            self._unlike(u, iu, m, im)

    def _unlike(self, u: int, iu: int, m: int, im: int) -> None:
        b = self.batch
        if im not in b.posting("media", f"liker:{u}"):
            return
        b.remove("media", f"liker:{u}", im)
        b.remove("user", f"_liked:{m}", iu)
        if b.is_live("user", iu) and b.is_live("media", im):
            self._bump("media", im, "like_count", -1)

    # places

    def _place_upsert(self, event: Event) -> None:
        place = event["place"]
        b = self.batch
        iid = b.intern("place", place["id"])
        old = b.doc("place", iid)
        doc = dict(place)
        doc["media_count"] = (
            old["media_count"] if old is not None
            else len(self._live("media", b.posting("media", f"place:{place['id']}")) - b.posting("media", "_private"))
        )
        b.put_doc("place", iid, doc)
        self._retag("place", iid, place_terms(old) if old is not None else set(), place_terms(doc))

    # media

    def _media_upsert(self, event: Event) -> None:
        media = event["media"]
        mid = media["id"]
        b = self.batch
        iid = b.intern("media", mid)
        old = b.doc("media", iid)
        if "hashtags" in media:
            hashtags = list(dict.fromkeys(name for name in map(hashtag_name, media["hashtags"]) if name))
        else:
            hashtags = caption_hashtags(media["caption"])
        if "mentions" in media:
            mentions = list(dict.fromkeys(media["mentions"]))
        else:
            mentions = self._resolve_mentions(media["caption"])
        owner_iid = b.intern("user", media["owner"])
        owner = b.doc("user", owner_iid)
        doc = {
            "id": mid,
            "owner": media["owner"],
            "owner_username": owner["username"] if owner is not None else None,
            "caption": media["caption"],
            "hashtags": hashtags,
            "mentions": mentions,
            "place": media["place"],
            "taken_at": media["taken_at"],
            "like_count": old["like_count"] if old is not None else self._live_count("user", f"_liked:{mid}", "user"),
        }
        owner_private = owner is not None and owner["is_private"]
        was_private = iid in b.posting("media", "_private")
        b.put_doc("media", iid, doc)
        self._retag("media", iid, media_terms(old, was_private) if old is not None else set(),
                    media_terms(doc, owner_private))
        if old is not None:
            self._count_media(old, -1, not was_private)
        self._count_media(doc, +1, not owner_private)
        b.set_links(
            iid,
            (
                owner_iid,
                b.intern("place", doc["place"]) if doc["place"] is not None else -1,
                [b.intern("hashtag", tag) for tag in hashtags],
                [b.intern("user", user) for user in mentions],
            ),
        )

    def _resolve_mentions(self, caption: str) -> list[int]:
        """User ids of the caption's `@usernames` known now; for a shared name the lowest id."""
        b = self.batch
        resolved = []
        for name in caption_mentions(caption):
            known = self._live("user", b.posting("user", f"username:{normalize(name)}"))
            if known:
                resolved.append(min(b.ext("user", iid) for iid in known))
        return list(dict.fromkeys(resolved))

    def _count_media(self, doc: dict, delta: int, public: bool) -> None:
        """Adjust the counts of a media document's owner and, when the media is public (its owner
        is not private), of its place and hashtags (SPEC §1). Call it after the media's postings changed."""
        owner = self.batch.iid("user", doc["owner"])
        if owner is not None:
            self._bump("user", owner, "media_count", delta)
        self._count_public(doc, delta if public else 0)

    def _count_public(self, doc: dict, delta: int) -> None:
        """Adjust by `delta` the counts of the place and hashtags of a media document, and keep
        each of those hashtags in existence exactly while live media carry it."""
        if delta and doc["place"] is not None:
            place = self.batch.iid("place", doc["place"])
            if place is not None:
                self._bump("place", place, "media_count", delta)
        for tag in doc["hashtags"]:
            self._count_hashtag(tag, delta)

    def _count_hashtag(self, name: str, delta: int) -> None:
        """A hashtag document lives while live media carry it (its `hashtag:` media posting);
        `media_count` counts the public ones, and `_public` holds the hashtags where it is positive."""
        b = self.batch
        iid = b.intern("hashtag", name)
        doc = b.doc("hashtag", iid)
        if not b.posting("media", f"hashtag:{name}"):
            if doc is not None:
                self._retag("hashtag", iid, hashtag_terms(name), set())
                b.remove("hashtag", "_public", iid)
                b.delete_doc("hashtag", iid)
            return
        if doc is None:
            self._retag("hashtag", iid, set(), hashtag_terms(name))
        elif not delta:
            return
        count = (doc["media_count"] if doc is not None else 0) + delta
        b.put_doc("hashtag", iid, {"id": name, "name": name, "media_count": count})
        if count > 0:
            b.add("hashtag", "_public", iid)
        else:
            b.remove("hashtag", "_public", iid)

    def _media_delete(self, event: Event) -> None:
        iid = self.batch.iid("media", event["id"])
        if iid is not None:
            self._delete_media(event["id"], iid)

    def _delete_media(self, mid: int, iid: int) -> None:
        """Remove a media document and every like on it, also likes stored before the media existed,
        so that replaying a stretch of events that ends in the delete leaves no like behind."""
        b = self.batch
        for liker in list(b.posting("user", f"_liked:{mid}")):
            self._unlike(b.ext("user", liker), liker, mid, iid)
        old = b.doc("media", iid)
        if old is None:
            return
        was_private = iid in b.posting("media", "_private")
        self._retag("media", iid, media_terms(old, was_private), set())
        b.delete_doc("media", iid)
        self._count_media(old, -1, not was_private)
        b.set_links(iid, None)
