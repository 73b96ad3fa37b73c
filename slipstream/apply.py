"""Slipstream: turns each docs/events.md event into document updates and term diffs on the index's write batch.

Edges (follows, blocks, likes) are stored whether or not their endpoints exist; documents,
`_live` and the derived counts of docs/events.md follow existence. Every handler is idempotent, so a
replayed event changes nothing.

The final state does not depend on how the firehose's partitions interleave (docs/events.md):
- A caption's `@name` points to the live user holding that name now (the lowest id when several
  do). `_atname:NAME` lists the media whose mentions come from a caption with `@NAME`; whenever
  the holder of a name changes (user created, renamed or deleted) those media are re-resolved.
- Event time decides between a delete and the edges keyed by other users. Each stored follow,
  block and like keeps the newest `ts` among its adds; each deleted user or media keeps a tombstone,
  the newest `ts` among its deletes. A delete removes the edges touching it
  whose `ts` is older than its own; an add older than a tombstone of either end is dropped. An
  edge of the same `ts` as the delete survives in either arrival order, so no tie depends on how
  partitions interleave.
- Upserts and deletes of one entity share a partition (docs/events.md keys), so they apply in arrival
  order: an upsert after a delete recreates the entity whatever its `ts`, and the tombstone stays.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

from pyroaring import BitMap

from firehose.events import (
    BLOCK_ADD,
    BLOCK_REMOVE,
    FOLLOW_ADD,
    FOLLOW_REMOVE,
    LIKE_ADD,
    LIKE_REMOVE,
    MEDIA_DELETE,
    MEDIA_UPSERT,
    PLACE_UPSERT,
    USER_DELETE,
    USER_UPSERT,
    Event,
    Handlers,
)
from slipstream.batch import Batch
from slipstream.changes import links_of
from slipstream.terms import (
    caption_name_terms,
    hashtag_terms,
    media_terms,
    mention_terms,
    place_terms,
    user_terms,
)
from vocabulary import terms as term
from vocabulary.text import caption_hashtags, caption_mentions, hashtag_name, normalize

# Keys of event times in the store: an edge (kind, internal ids of its two ends; the store groups
# them by kind and source) or a tombstone (kind, internal id).
_EDGE_KEY = struct.Struct(">cII")
_TOMBSTONE_KEY = struct.Struct(">cI")
FOLLOW, BLOCK, LIKE = b"f", b"b", b"l"
_TOMBSTONE_KIND = {"user": b"u", "media": b"m"}
NEVER = -(2**63)  # an edge without a stored time, and a snapshot's events (indexer.rebuild): older than every delete


handlers: Handlers[Callable[[Slipstream, Event], None]] = Handlers("slipstream")


class Slipstream:
    """Applies events to one write batch."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch

    def apply(self, event: Event) -> None:
        """Apply one canonical event (`firehose.events.validate`)."""
        handlers[event["op"]](self, event)

    # shared steps

    def _retag(self, vertical: str, iid: int, old: set[str], new: set[str]) -> None:
        for gone in old - new:
            self.batch.remove(vertical, gone, iid)
        self.batch.add_terms(vertical, new - old if old else new, iid)

    def _bump(self, vertical: str, iid: int, field: str, delta: int) -> None:
        b = self.batch
        doc = b.doc(vertical, iid)
        if doc is not None:
            doc[field] += delta
            b.put_doc(vertical, iid, doc)

    def _live_count(self, vertical: str, posting: str, of: str) -> int:
        return self.batch.posting(vertical, posting).intersection_cardinality(self.batch.posting(of, term.LIVE))

    def _live(self, vertical: str, iids: BitMap) -> BitMap:
        return iids & self.batch.posting(vertical, term.LIVE)

    # event time

    def _stamp_edge(self, kind: bytes, a: int, z: int, ts: int) -> None:
        """A stored edge keeps the newest `ts` among its adds; none stored reads as NEVER, so a
        snapshot's edge stores nothing."""
        if ts > NEVER:
            self.batch.stamp_time(_EDGE_KEY.pack(kind, a, z), ts)

    def _forget_edge(self, kind: bytes, a: int, z: int) -> None:
        self.batch.set_time(_EDGE_KEY.pack(kind, a, z), None)

    def _tombstone(self, vertical: str, iid: int) -> int | None:
        return self.batch.time(_TOMBSTONE_KEY.pack(_TOMBSTONE_KIND[vertical], iid))

    def _bury(self, vertical: str, iid: int, ts: int) -> None:
        """Record a delete at `ts`; the tombstone keeps the latest."""
        stored = self._tombstone(vertical, iid)
        if stored is None or stored < ts:
            self.batch.set_time(_TOMBSTONE_KEY.pack(_TOMBSTONE_KIND[vertical], iid), ts)

    def _predates_delete(self, ts: int, a: tuple[str, int], z: tuple[str, int]) -> bool:
        """Whether an edge added at `ts` is older than a delete of one of its ends."""
        deleted = self._tombstone(*a)
        if deleted is not None and ts < deleted:
            return True
        deleted = self._tombstone(*z)
        return deleted is not None and ts < deleted

    def _cut(self, kind: bytes, vertical: str, iid: int, ts: int, others: BitMap, outgoing: bool,
             other_vertical: str, reverse: Callable[[int | str], str], field: str | None) -> list[int]:
        """Remove, at the other end, the edges of `kind` between `iid` (being deleted at `ts`) and
        `others` that are older than the delete, and their times; decrement `field` of the live other
        ends (not of `iid` itself, whose document goes). The caller removes the returned others from
        its own posting."""
        b = self.batch
        if ts == NEVER:  # no edge is older
            return []
        live = b.posting(other_vertical, term.LIVE)
        counted = live if field is not None else BitMap()
        if other_vertical == vertical:
            counted = counted - BitMap([iid])
        cut_time, remove, ext, doc, put_doc, pack = b.cut_time, b.remove, b.ext, b.doc, b.put_doc, _EDGE_KEY.pack
        gone = []
        for other in BitMap(others):
            # an edge older than the delete goes (a tie survives, whichever arrives first)
            if not cut_time(pack(kind, iid, other) if outgoing else pack(kind, other, iid), ts):
                continue
            gone.append(other)
            remove(vertical, reverse(ext(other_vertical, other)), iid)
            if other in counted:
                counts = doc(other_vertical, other)
                if counts is not None:
                    counts[field] -= 1
                    put_doc(other_vertical, other, counts)
        return gone

    # caption mentions

    def _holder(self, name: str) -> int | None:
        """The live user whose normalized username is `name`; the lowest id when several are."""
        b = self.batch
        return min((b.ext("user", iid) for iid in b.posting("user", term.username(name))), default=None)

    def _resolve(self, names: list[str]) -> list[int]:
        """The holders of the names that someone holds, in order (distinct names have distinct holders)."""
        return [user for user in map(self._holder, names) if user is not None]

    def _caption_names(self, iid: int, doc: dict) -> list[str]:
        """The `@names` a stored media's mentions follow: none when they were given as ids."""
        names = caption_mentions(doc["caption"])
        if names and iid in self.batch.posting("media", term.atname(names[0])):
            return names
        return []

    def _holders(self, names: Iterable[str]) -> dict[str, int | None]:
        return {name: self._holder(name) for name in names}

    def _follow_names(self, before: dict[str, int | None]) -> None:
        """Re-resolve the media mentioning a name whose holder changed since `before`."""
        b = self.batch
        affected = BitMap()
        for name, holder in before.items():
            if self._holder(name) != holder:
                affected |= b.posting("media", term.atname(name))
        for iid in affected:
            doc = b.doc("media", iid)
            mentions = self._resolve(caption_mentions(doc["caption"]))
            if mentions != doc["mentions"]:
                self._retag("media", iid, mention_terms(doc["mentions"]), mention_terms(mentions))
                doc["mentions"] = mentions
                b.put_doc("media", iid, doc)
                b.set_links(iid, links_of(self.batch, doc))

    def _count_user_edges(self, uid: int, iid: int, delta: int) -> None:
        """Count (or stop counting) a user's stored follows and likes in the other live ends."""
        b = self.batch
        for followee in self._live("user", b.posting("user", term.following(uid))) - BitMap([iid]):
            self._bump("user", followee, "followers_count", delta)
        for follower in self._live("user", b.posting("user", term.follower(uid))) - BitMap([iid]):
            self._bump("user", follower, "following_count", delta)
        for media in self._live("media", b.posting("media", term.liker(uid))):
            self._bump("media", media, "like_count", delta)

    # users

    @handlers.on(USER_UPSERT)
    def _user_upsert(self, event: Event) -> None:
        user = event["user"]
        uid = user["id"]
        b = self.batch
        iid = b.intern("user", uid)
        old = b.doc("user", iid)
        doc = dict(user)
        names = {normalize(doc["username"])}
        if old is not None:
            names.add(normalize(old["username"]))
        before = self._holders(names) if old is None or len(names) > 1 else {}
        if old is None:
            doc.update(followers_count=0, following_count=0, media_count=0)
            b.put_doc("user", iid, doc)
            self._retag("user", iid, set(), user_terms(doc))
            doc["followers_count"] = self._live_count("user", term.follower(uid), "user")
            doc["following_count"] = self._live_count("user", term.following(uid), "user")
            doc["media_count"] = self._live_count("media", term.owner(uid), "media")
            self._count_user_edges(uid, iid, +1)
        else:
            for field in ("followers_count", "following_count", "media_count"):
                doc[field] = old[field]
            self._retag("user", iid, user_terms(old), user_terms(doc))
        b.put_doc("user", iid, doc)
        if old is None or old["username"] != doc["username"] or old["is_private"] != doc["is_private"]:
            self._fan_out_owner(uid, doc["username"], doc["is_private"])
        self._follow_names(before)

    def _fan_out_owner(self, uid: int, username: str | None, is_private: bool) -> None:
        """Carry the owner's username and privacy into each of their media; a media that turns
        private leaves its place's and hashtags' counts, one that turns public joins them."""
        b = self.batch
        for media in self._live("media", b.posting("media", term.owner(uid))):
            doc = b.doc("media", media)
            doc["owner_username"] = username
            b.put_doc("media", media, doc)
            if (media in b.posting("media", term.PRIVATE_MEDIA)) == is_private:
                continue
            if is_private:
                b.add("media", term.PRIVATE_MEDIA, media)
            else:
                b.remove("media", term.PRIVATE_MEDIA, media)
            self._count_public(doc, -1 if is_private else 1)

    @handlers.on(USER_DELETE)
    def _user_delete(self, event: Event) -> None:
        """Remove the user, their media and the edges touching them that are not newer than the delete."""
        uid, ts = event["id"], event["ts"]
        b = self.batch
        iid = b.intern("user", uid)
        self._bury("user", iid, ts)
        counted = b.is_live("user", iid)  # the other live ends count the edges to a live user
        for kind, own, other_vertical, reverse, field, outgoing in (
            (FOLLOW, term.following(uid), "user", term.follower, "followers_count", True),
            (FOLLOW, term.follower(uid), "user", term.following, "following_count", False),
            (BLOCK, term.blocks(uid), "user", term.blocked_by, None, True),
            (BLOCK, term.blocked_by(uid), "user", term.blocks, None, False),
            (LIKE, term.liker(uid), "media", term.liked, "like_count", True),
        ):
            own_vertical = "media" if kind == LIKE else "user"
            gone = self._cut(kind, "user", iid, ts, b.posting(own_vertical, own), outgoing, other_vertical,
                             reverse, field if counted else None)
            b.remove_many(own_vertical, own, gone)
        for media in list(self._live("media", b.posting("media", term.owner(uid)))):
            self._delete_media(b.ext("media", media), media, ts)
        old = b.doc("user", iid)
        if old is not None:
            before = self._holders([normalize(old["username"])])
            self._count_user_edges(uid, iid, -1)
            self._retag("user", iid, user_terms(old), set())
            b.delete_doc("user", iid)
            self._follow_names(before)

    # edges

    @handlers.on(FOLLOW_ADD)
    def _follow_add(self, event: Event) -> None:
        a, z, ts = event["follower"], event["followee"], event["ts"]
        b = self.batch
        ia, iz = b.intern("user", a), b.intern("user", z)
        if self._predates_delete(ts, ("user", ia), ("user", iz)):
            return
        self._stamp_edge(FOLLOW, ia, iz, ts)
        following = term.following(a)
        if iz in b.posting("user", following):
            return
        b.add("user", following, iz)
        b.add("user", term.follower(z), ia)
        live = b.posting("user", term.LIVE)
        if ia in live and iz in live:
            self._bump("user", ia, "following_count", 1)
            self._bump("user", iz, "followers_count", 1)

    @handlers.on(FOLLOW_REMOVE)
    def _follow_remove(self, event: Event) -> None:
        a, z = event["follower"], event["followee"]
        ia, iz = self.batch.iid("user", a), self.batch.iid("user", z)
        if ia is not None and iz is not None:
            self._unfollow(a, ia, z, iz)

    def _unfollow(self, a: int, ia: int, z: int, iz: int) -> None:
        b = self.batch
        if iz not in b.posting("user", term.following(a)):
            return
        b.remove("user", term.following(a), iz)
        b.remove("user", term.follower(z), ia)
        self._forget_edge(FOLLOW, ia, iz)
        if b.is_live("user", ia) and b.is_live("user", iz):
            self._bump("user", ia, "following_count", -1)
            self._bump("user", iz, "followers_count", -1)

    @handlers.on(BLOCK_ADD)
    def _block_add(self, event: Event) -> None:
        a, z = event["blocker"], event["blocked"]
        ia, iz = self.batch.intern("user", a), self.batch.intern("user", z)
        if self._predates_delete(event["ts"], ("user", ia), ("user", iz)):
            return
        self._stamp_edge(BLOCK, ia, iz, event["ts"])
        self.batch.add("user", term.blocks(a), iz)
        self.batch.add("user", term.blocked_by(z), ia)

    @handlers.on(BLOCK_REMOVE)
    def _block_remove(self, event: Event) -> None:
        a, z = event["blocker"], event["blocked"]
        ia, iz = self.batch.iid("user", a), self.batch.iid("user", z)
        if ia is not None and iz is not None:
            self._unblock(a, ia, z, iz)

    def _unblock(self, a: int, ia: int, z: int, iz: int) -> None:
        if iz not in self.batch.posting("user", term.blocks(a)):
            return
        self.batch.remove("user", term.blocks(a), iz)
        self.batch.remove("user", term.blocked_by(z), ia)
        self._forget_edge(BLOCK, ia, iz)

    @handlers.on(LIKE_ADD)
    def _like_add(self, event: Event) -> None:
        u, m, ts = event["user"], event["media"], event["ts"]
        b = self.batch
        iu, im = b.intern("user", u), b.intern("media", m)
        if self._predates_delete(ts, ("user", iu), ("media", im)):
            return
        self._stamp_edge(LIKE, iu, im, ts)
        liker = term.liker(u)
        if im in b.posting("media", liker):
            return
        b.add("media", liker, im)
        b.add("user", term.liked(m), iu)
        if b.is_live("user", iu) and b.is_live("media", im):
            self._bump("media", im, "like_count", 1)

    @handlers.on(LIKE_REMOVE)
    def _like_remove(self, event: Event) -> None:
        u, m = event["user"], event["media"]
        iu, im = self.batch.iid("user", u), self.batch.iid("media", m)
        if iu is not None and im is not None:
            self._unlike(u, iu, m, im)

    def _unlike(self, u: int, iu: int, m: int, im: int) -> None:
        b = self.batch
        if im not in b.posting("media", term.liker(u)):
            return
        b.remove("media", term.liker(u), im)
        b.remove("user", term.liked(m), iu)
        self._forget_edge(LIKE, iu, im)
        if b.is_live("user", iu) and b.is_live("media", im):
            self._bump("media", im, "like_count", -1)

    # places

    @handlers.on(PLACE_UPSERT)
    def _place_upsert(self, event: Event) -> None:
        place = event["place"]
        b = self.batch
        iid = b.intern("place", place["id"])
        old = b.doc("place", iid)
        doc = dict(place)
        doc["media_count"] = (
            old["media_count"] if old is not None
            else len(self._live("media", b.posting("media", term.place(place["id"]))) - b.posting("media", term.PRIVATE_MEDIA))
        )
        b.put_doc("place", iid, doc)
        self._retag("place", iid, place_terms(old) if old is not None else set(), place_terms(doc))

    # media

    @handlers.on(MEDIA_UPSERT)
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
            names = []
            mentions = list(dict.fromkeys(media["mentions"]))
        else:
            names = caption_mentions(media["caption"])
            mentions = self._resolve(names)
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
            "like_count": old["like_count"] if old is not None else self._live_count("user", term.liked(mid), "user"),
        }
        owner_private = owner is not None and owner["is_private"]
        was_private = iid in b.posting("media", term.PRIVATE_MEDIA)
        old_terms = set()
        if old is not None:
            old_terms = media_terms(old, was_private) | caption_name_terms(self._caption_names(iid, old))
        b.put_doc("media", iid, doc)
        self._retag("media", iid, old_terms, media_terms(doc, owner_private) | caption_name_terms(names))
        if old is not None:
            self._count_media(old, -1, not was_private)
        self._count_media(doc, +1, not owner_private)
        b.set_links(iid, links_of(self.batch, doc))

    def _count_media(self, doc: dict, delta: int, public: bool) -> None:
        """Adjust the counts of a media document's owner and, when the media is public (its owner
        is not private), of its place and hashtags (docs/events.md). Call it after the media's postings changed."""
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
        if not b.posting("media", term.hashtag(name)):
            if doc is not None:
                self._retag("hashtag", iid, hashtag_terms(name), set())
                b.remove("hashtag", term.PUBLIC_MEDIA, iid)
                b.delete_doc("hashtag", iid)
            return
        if doc is None:
            self._retag("hashtag", iid, set(), hashtag_terms(name))
        elif not delta:
            return
        count = (doc["media_count"] if doc is not None else 0) + delta
        b.put_doc("hashtag", iid, {"id": name, "name": name, "media_count": count})
        if count > 0:
            b.add("hashtag", term.PUBLIC_MEDIA, iid)
        else:
            b.remove("hashtag", term.PUBLIC_MEDIA, iid)

    @handlers.on(MEDIA_DELETE)
    def _media_delete(self, event: Event) -> None:
        self._delete_media(event["id"], self.batch.intern("media", event["id"]), event["ts"])

    def _delete_media(self, mid: int, iid: int, ts: int) -> None:
        """Remove a media document and the likes on it not newer than the delete at `ts`, also likes
        stored before the media existed, so that replaying a stretch of events that ends in the
        delete leaves no such like behind."""
        b = self.batch
        self._bury("media", iid, ts)
        liked = term.liked(mid)
        b.remove_many("user", liked, self._cut(LIKE, "media", iid, ts, b.posting("user", liked), False, "user",
                                               term.liker, None))
        old = b.doc("media", iid)
        if old is None:
            return
        was_private = iid in b.posting("media", term.PRIVATE_MEDIA)
        old_terms = media_terms(old, was_private) | caption_name_terms(self._caption_names(iid, old))
        self._retag("media", iid, old_terms, set())
        b.delete_doc("media", iid)
        self._count_media(old, -1, not was_private)
        b.set_links(iid, None)
