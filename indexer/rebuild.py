"""Build the whole index from one consistent PostgreSQL snapshot, then tail the firehose from there.

1. Block platform writes (their advisory lock), open a REPEATABLE READ snapshot and note the
   last outbox id X in it; relay the outbox up to X into the firehose and note the firehose's
   end offsets O; let writes go on. The firehose then holds exactly the events up to X before O.
2. Read every table in the snapshot and build documents, counts and posting lists in memory
   with slipstream's pure term functions, then write them in one batch with offsets O, so the
   indexer continues from exactly the snapshot.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import psycopg
from pyroaring import BitMap
from rich.progress import Progress

from firehose.log import EmbeddedLog
from firehose.sources.postgres import PLATFORM_LOCK, from_db
from firehose.sources.relay import OutboxRelay
from indexer.store import Index, WriteBatch
from slipstream.terms import hashtag_terms, media_terms, place_terms, user_terms

SOURCE = "embedded"


def _snapshot(dsn: str, log: EmbeddedLog) -> tuple[psycopg.Connection, dict[int, int]]:
    """A connection inside the snapshot transaction, and the firehose offsets that match it."""
    snapshot = psycopg.connect(dsn)
    with psycopg.connect(dsn, autocommit=True) as gate:
        gate.execute("SELECT pg_advisory_lock(%s)", (PLATFORM_LOCK,))
        try:
            snapshot.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            last = snapshot.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0]
            with log.producer() as producer, OutboxRelay(dsn, producer) as relay:
                relay.drain(until=last)
            offsets = log.end_offsets()
        finally:
            gate.execute("SELECT pg_advisory_unlock(%s)", (PLATFORM_LOCK,))
    return snapshot, offsets


class _Builder:
    """Documents and postings of a platform, accumulated in memory, written in one batch."""

    def __init__(self, batch: WriteBatch) -> None:
        self.b = batch
        self.postings: dict[tuple[str, str], BitMap] = defaultdict(BitMap)

    def tag(self, vertical: str, iid: int, terms: set[str]) -> None:
        for term in terms:
            self.postings[vertical, term].add(iid)

    def write(self) -> None:
        for (vertical, term), iids in self.postings.items():
            self.b.add_many(vertical, term, iids)


def rebuild(dsn: str, data_dir: str | Path, *, progress: bool = True) -> dict[int, int]:
    """Builds DATA/index from the PostgreSQL platform at `dsn`; returns the firehose offsets it starts from."""
    data = Path(data_dir)
    log = EmbeddedLog(data / "firehose")
    index = Index(data / "index")
    if index.gen:
        index.close()
        raise ValueError(f"{data / 'index'} already holds an index; rebuild into an empty data directory")
    conn, offsets = _snapshot(dsn, log)
    try:
        with conn, index.writer() as b, Progress(disable=not progress) as bar:
            build = _Builder(b)
            users: dict[int, dict] = {}
            task = bar.add_task("users", total=None)
            for uid, username, full_name, private, verified in conn.execute(
                    "SELECT id, username, full_name, is_private, is_verified FROM users"):
                uid = from_db(uid)
                users[uid] = {"id": uid, "username": username, "full_name": full_name, "is_private": private,
                              "is_verified": verified, "followers_count": 0, "following_count": 0, "media_count": 0}
                bar.advance(task)
            user_iid = {uid: b.intern("user", uid) for uid in users}
            for uid, doc in users.items():
                build.tag("user", user_iid[uid], user_terms(doc))
            task = bar.add_task("follows, blocks", total=None)
            for table, out_term, in_term, counted in (("follows", "following", "follower", True),
                                                      ("blocks", "_blocks", "_blockedby", False)):
                for a, z in conn.execute(f"SELECT * FROM {table}"):
                    a, z = from_db(a), from_db(z)
                    ia, iz = b.intern("user", a), b.intern("user", z)
                    build.postings["user", f"{out_term}:{a}"].add(iz)
                    build.postings["user", f"{in_term}:{z}"].add(ia)
                    if counted and a in users and z in users:
                        users[a]["following_count"] += 1
                        users[z]["followers_count"] += 1
                    bar.advance(task)
            places: dict[int, dict] = {}
            for pid, name, city, country, lat, lng in conn.execute("SELECT id, name, city, country, lat, lng FROM places"):
                pid = from_db(pid)
                places[pid] = {"id": pid, "name": name, "city": city, "country": country, "lat": lat, "lng": lng,
                               "media_count": 0}
            hashtags: dict[str, int] = defaultdict(int)  # every carried hashtag -> its public media
            media: dict[int, dict] = {}
            task = bar.add_task("media", total=None)
            for mid, owner, caption, taken_at, place, tags, mentions in conn.execute(
                    "SELECT id, owner, caption, taken_at, place, hashtags, mentions FROM media"):
                mid, owner = from_db(mid), from_db(owner)
                place = None if place is None else from_db(place)
                mentions = [from_db(m) for m in mentions]
                owner_doc = users.get(owner)
                doc = {"id": mid, "owner": owner, "owner_username": owner_doc["username"] if owner_doc else None,
                       "caption": caption, "hashtags": tags, "mentions": mentions, "place": place,
                       "taken_at": taken_at, "like_count": 0}
                iid = b.intern("media", mid)
                media[mid] = doc
                public = not (owner_doc and owner_doc["is_private"])
                build.tag("media", iid, media_terms(doc, not public))
                if owner_doc:
                    owner_doc["media_count"] += 1
                if public and place is not None and place in places:
                    places[place]["media_count"] += 1
                for tag in tags:
                    hashtags[tag] += int(public)
                b.set_links(iid, (b.intern("user", owner), b.intern("place", place) if place is not None else -1,
                                  [b.intern("hashtag", t) for t in tags], [b.intern("user", u) for u in mentions]))
                bar.advance(task)
            task = bar.add_task("likes", total=None)
            for u, m in conn.execute("SELECT user_id, media FROM likes"):
                u, m = from_db(u), from_db(m)
                iu, im = b.intern("user", u), b.intern("media", m)
                build.postings["media", f"liker:{u}"].add(im)
                build.postings["user", f"_liked:{m}"].add(iu)
                if u in users and m in media:
                    media[m]["like_count"] += 1
                bar.advance(task)
            for uid, doc in users.items():
                b.put_doc("user", user_iid[uid], doc)
            for mid, doc in media.items():
                b.put_doc("media", b.intern("media", mid), doc)
            for pid, doc in places.items():
                iid = b.intern("place", pid)
                b.put_doc("place", iid, doc)
                build.tag("place", iid, place_terms(doc))
            for name, count in hashtags.items():
                iid = b.intern("hashtag", name)
                b.put_doc("hashtag", iid, {"id": name, "name": name, "media_count": count})
                build.tag("hashtag", iid, hashtag_terms(name) | ({"_public"} if count else set()))
            bar.add_task("writing postings", total=None)
            build.write()
            b.set_offsets(SOURCE, offsets)
    finally:
        index.close()
    return offsets
