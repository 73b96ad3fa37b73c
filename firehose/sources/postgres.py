"""A PostgreSQL platform stub with a transactional outbox.

`PlatformDB.apply(event)` changes the platform tables as docs/events.md says and appends the event
to `outbox` in the same transaction; a `media.upsert` goes out with the hashtags and mentions
it resolved, so that re-applying any suffix of the outbox (at-least-once) changes nothing. Platform writes are serialized by a transaction-level
advisory lock, so outbox ids commit in id order and every snapshot holds exactly the events
up to its largest outbox id (what the relay and `indexer.rebuild` rely on). `bulk_load`
does the same for an initial load with COPY.

Ids are the reference's unsigned 64-bit integers stored in `bigint` as two's complement
(`to_db` / `from_db`); edges have no foreign keys, since the contract keeps an edge whose user
has not arrived yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

import orjson
import psycopg
from psycopg_pool import ConnectionPool

from firehose.events import Event, validate
from vocabulary.text import caption_hashtags, caption_mentions, hashtag_name, normalize

PLATFORM_LOCK = 0x756E69636F726E  # pg_advisory_xact_lock key held by every platform write
COPY_CHUNK = 50_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id bigint PRIMARY KEY, username text NOT NULL, username_norm text NOT NULL,
    full_name text NOT NULL, is_private boolean NOT NULL, is_verified boolean NOT NULL);
CREATE INDEX IF NOT EXISTS users_username_norm ON users (username_norm);
CREATE TABLE IF NOT EXISTS follows (follower bigint, followee bigint, PRIMARY KEY (follower, followee));
CREATE INDEX IF NOT EXISTS follows_followee ON follows (followee);
CREATE TABLE IF NOT EXISTS blocks (blocker bigint, blocked bigint, PRIMARY KEY (blocker, blocked));
CREATE INDEX IF NOT EXISTS blocks_blocked ON blocks (blocked);
CREATE TABLE IF NOT EXISTS places (
    id bigint PRIMARY KEY, name text NOT NULL, city text NOT NULL, country text NOT NULL,
    lat double precision NOT NULL, lng double precision NOT NULL);
CREATE TABLE IF NOT EXISTS media (
    id bigint PRIMARY KEY, owner bigint NOT NULL, caption text NOT NULL, taken_at bigint NOT NULL,
    place bigint, hashtags text[] NOT NULL, mentions bigint[] NOT NULL);
CREATE INDEX IF NOT EXISTS media_owner ON media (owner);
CREATE TABLE IF NOT EXISTS likes (user_id bigint, media bigint, PRIMARY KEY (user_id, media));
CREATE INDEX IF NOT EXISTS likes_media ON likes (media);
CREATE TABLE IF NOT EXISTS outbox (
    id bigserial PRIMARY KEY, event jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS relay_position (name text PRIMARY KEY, outbox_id bigint NOT NULL);
"""

TABLES = ("users", "follows", "blocks", "places", "media", "likes", "outbox", "relay_position")


def to_db(uid: int) -> int:
    """An unsigned 64-bit id as the signed `bigint` with the same bits."""
    return uid - (1 << 64) if uid >= 1 << 63 else uid


def from_db(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def create_schema(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute(SCHEMA)


def resolved(event: Event, row: tuple) -> Event:
    """A `media.upsert` with the hashtags and mentions its row got, so replaying it never depends on who exists then."""
    return {**event, "media": {**event["media"], "hashtags": row[5], "mentions": [from_db(m) for m in row[6]]}}


def media_row(media: dict, resolve) -> tuple:
    """The `media` row of a `media.upsert` (docs/events.md): hashtags normalized, mentions resolved now."""
    if media.get("hashtags") is not None:
        tags = [t for t in (hashtag_name(t) for t in media["hashtags"]) if t]
    else:
        tags = caption_hashtags(media["caption"])
    if media.get("mentions") is not None:
        mentions = media["mentions"]
    else:
        mentions = [uid for uid in (resolve(name) for name in caption_mentions(media["caption"])) if uid is not None]
    place = media["place"]
    return (to_db(media["id"]), to_db(media["owner"]), media["caption"], media["taken_at"],
            None if place is None else to_db(place), list(dict.fromkeys(tags)), [to_db(m) for m in dict.fromkeys(mentions)])


def _user_row(user: dict) -> tuple:
    return (to_db(user["id"]), user["username"], normalize(user["username"]), user["full_name"],
            user["is_private"], user["is_verified"])


def _place_row(place: dict) -> tuple:
    return (to_db(place["id"]), place["name"], place["city"], place["country"], place["lat"], place["lng"])


def truncate(conn: psycopg.Connection) -> None:
    """Empties every table (tests and demos reuse one database)."""
    with conn.transaction():
        conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")


class PlatformDB:
    """The platform's write path: each change and its outbox event in one transaction."""

    def __init__(self, dsn: str, *, max_connections: int = 4) -> None:
        self.pool = ConnectionPool(dsn, min_size=1, max_size=max_connections, open=True)
        with self.pool.connection() as conn:
            create_schema(conn)

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> PlatformDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def apply(self, event: dict) -> int:
        """Validates and applies one docs/events.md event; returns its outbox id. Invalid: `EventError`, nothing written."""
        event = validate(event)
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (PLATFORM_LOCK,))
            event = _APPLY[event["op"]](conn, event) or event  # media.upsert: as resolved
            row = conn.execute("INSERT INTO outbox (event) VALUES (%s::jsonb) RETURNING id",
                               (orjson.dumps(event).decode(),)).fetchone()
        return row[0]

    def bulk_load(self, events: Iterable[Event]) -> int:
        """An initial load with COPY, in one transaction: tables and outbox. Returns the events loaded.

        Only for a platform with an empty outbox, and only creating events (upserts of new
        entities, adds of new edges); anything else raises `ValueError` and loads nothing.
        """
        loaded = 0
        known: dict[str, int] = {}  # normalized username -> smallest id, for caption mentions
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (PLATFORM_LOCK,))
            if conn.execute("SELECT EXISTS (SELECT 1 FROM outbox)").fetchone()[0]:
                raise ValueError("bulk_load needs a platform whose outbox is empty; use PlatformDB.apply")
            iterator = iter(events)
            while chunk := [validate(e) for e in islice(iterator, COPY_CHUNK)]:
                rows: dict[str, list[tuple]] = {t: [] for t in _BULK_COLUMNS}
                for event in chunk:
                    op = event["op"]
                    if op == "user.upsert":
                        user = event["user"]
                        rows["users"].append(_user_row(user))
                        norm = normalize(user["username"])
                        known[norm] = min(known.get(norm, user["id"]), user["id"])
                    elif op == "place.upsert":
                        rows["places"].append(_place_row(event["place"]))
                    elif op == "media.upsert":
                        rows["media"].append(media_row(event["media"], lambda name: known.get(normalize(name))))
                        event = resolved(event, rows["media"][-1])
                    elif op == "follow.add":
                        rows["follows"].append((to_db(event["follower"]), to_db(event["followee"])))
                    elif op == "block.add":
                        rows["blocks"].append((to_db(event["blocker"]), to_db(event["blocked"])))
                    elif op == "like.add":
                        rows["likes"].append((to_db(event["user"]), to_db(event["media"])))
                    else:
                        raise ValueError(f"bulk_load takes only creating events, not {op!r}; use PlatformDB.apply")
                    rows["outbox"].append((orjson.dumps(event).decode(),))
                for table, table_rows in rows.items():
                    if table_rows:
                        with conn.cursor().copy(f"COPY {table} ({_BULK_COLUMNS[table]}) FROM STDIN") as copy:
                            for row in table_rows:
                                copy.write_row(row)
                loaded += len(chunk)
        return loaded


_BULK_COLUMNS = {
    "users": "id, username, username_norm, full_name, is_private, is_verified",
    "places": "id, name, city, country, lat, lng",
    "media": "id, owner, caption, taken_at, place, hashtags, mentions",
    "follows": "follower, followee",
    "blocks": "blocker, blocked",
    "likes": "user_id, media",
    "outbox": "event",
}


def _user_upsert(conn: psycopg.Connection, e: Event) -> None:
    conn.execute(
        "INSERT INTO users VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET username = excluded.username,"
        " username_norm = excluded.username_norm, full_name = excluded.full_name,"
        " is_private = excluded.is_private, is_verified = excluded.is_verified", _user_row(e["user"]))


def _user_delete(conn: psycopg.Connection, e: Event) -> None:
    uid = to_db(e["id"])
    conn.execute("DELETE FROM users WHERE id = %s", (uid,))
    conn.execute("DELETE FROM follows WHERE follower = %s OR followee = %s", (uid, uid))
    conn.execute("DELETE FROM blocks WHERE blocker = %s OR blocked = %s", (uid, uid))
    conn.execute("DELETE FROM likes WHERE user_id = %s OR media IN (SELECT id FROM media WHERE owner = %s)", (uid, uid))
    conn.execute("DELETE FROM media WHERE owner = %s", (uid,))


def _edge(table: str, columns: tuple[str, str], fields: tuple[str, str], add: bool):
    sql = (f"INSERT INTO {table} VALUES (%s, %s) ON CONFLICT DO NOTHING" if add
           else f"DELETE FROM {table} WHERE {columns[0]} = %s AND {columns[1]} = %s")

    def apply(conn: psycopg.Connection, e: Event) -> None:
        conn.execute(sql, (to_db(e[fields[0]]), to_db(e[fields[1]])))
    return apply


def _place_upsert(conn: psycopg.Connection, e: Event) -> None:
    conn.execute(
        "INSERT INTO places VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
        " city = excluded.city, country = excluded.country, lat = excluded.lat, lng = excluded.lng", _place_row(e["place"]))


def _media_upsert(conn: psycopg.Connection, e: Event) -> Event:
    def resolve(name: str) -> int | None:  # the smallest unsigned id: non-negative bigints first
        row = conn.execute("SELECT id FROM users WHERE username_norm = %s ORDER BY id < 0, id LIMIT 1",
                           (normalize(name),)).fetchone()
        return None if row is None else from_db(row[0])

    row = media_row(e["media"], resolve)
    conn.execute(
        "INSERT INTO media VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET owner = excluded.owner,"
        " caption = excluded.caption, taken_at = excluded.taken_at, place = excluded.place,"
        " hashtags = excluded.hashtags, mentions = excluded.mentions", row)
    return resolved(e, row)


def _media_delete(conn: psycopg.Connection, e: Event) -> None:
    mid = to_db(e["id"])
    conn.execute("DELETE FROM media WHERE id = %s", (mid,))
    # A deleted media takes every like on it along, also likes stored before it existed.
    conn.execute("DELETE FROM likes WHERE media = %s", (mid,))


_APPLY = {
    "user.upsert": _user_upsert,
    "user.delete": _user_delete,
    "follow.add": _edge("follows", ("follower", "followee"), ("follower", "followee"), True),
    "follow.remove": _edge("follows", ("follower", "followee"), ("follower", "followee"), False),
    "block.add": _edge("blocks", ("blocker", "blocked"), ("blocker", "blocked"), True),
    "block.remove": _edge("blocks", ("blocker", "blocked"), ("blocker", "blocked"), False),
    "like.add": _edge("likes", ("user_id", "media"), ("user", "media"), True),
    "like.remove": _edge("likes", ("user_id", "media"), ("user", "media"), False),
    "place.upsert": _place_upsert,
    "media.upsert": _media_upsert,
    "media.delete": _media_delete,
}
