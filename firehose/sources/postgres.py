"""A PostgreSQL platform stub with a transactional outbox.

`PlatformDB.apply(event)` changes the platform tables as docs/events.md says and appends the event
to `outbox` in the same transaction; a `media.upsert` goes out with its hashtags normalized and
its mentions as sent: explicit ids, or none, so that each `@name` of its caption points to
whoever holds the name when the index reads it (docs/events.md). Re-applying any suffix of the
outbox (at-least-once) changes nothing.
Platform writes are serialized by a transaction-level advisory lock, so outbox ids commit in id
order and every snapshot holds exactly the events up to its largest outbox id (what the relay
and `indexer.rebuild` rely on). `bulk_load` does the same for an initial load with COPY.

Each table is a `Table`: its columns, the registered event type that puts a row in it, and the
conversions between that event and the row (`indexer.rebuild` reads a snapshot back as events
through them). `applies` holds the platform's handler of each registered event type.

Ids are the reference's unsigned 64-bit integers stored in `bigint` as two's complement
(`to_db` / `from_db`); edges have no foreign keys, since the contract keeps an edge whose user
has not arrived yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from itertools import islice
from typing import Any

import orjson
import psycopg
from psycopg_pool import ConnectionPool

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
    EventType,
    Handlers,
    validate,
)
from vocabulary.text import caption_hashtags, hashtag_name, normalize

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
    place bigint, hashtags text[] NOT NULL, mentions bigint[]);  -- NULL: the caption's @names
ALTER TABLE media ALTER COLUMN mentions DROP NOT NULL;
CREATE INDEX IF NOT EXISTS media_owner ON media (owner);
CREATE TABLE IF NOT EXISTS likes (user_id bigint, media bigint, PRIMARY KEY (user_id, media));
CREATE INDEX IF NOT EXISTS likes_media ON likes (media);
CREATE TABLE IF NOT EXISTS outbox (
    id bigserial PRIMARY KEY, event jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS relay_position (name text PRIMARY KEY, outbox_id bigint NOT NULL);
"""


def to_db(uid: int) -> int:
    """An unsigned 64-bit id as the signed `bigint` with the same bits."""
    return uid - (1 << 64) if uid >= 1 << 63 else uid


def from_db(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def create_schema(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute(SCHEMA)


@dataclass(frozen=True, eq=False)
class Table:
    """A platform table: `creates` puts a row in it; `row` and `event` convert between the two."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    creates: EventType
    row: Callable[[Event], tuple]
    event: Callable[[tuple, int], Event]  # (row, ts) -> the `creates` event that makes the row

    def upsert(self, conn: psycopg.Connection, event: Event) -> None:
        conn.execute(self._upsert_sql, self.row(event))

    def delete(self, conn: psycopg.Connection, event: Event) -> None:
        """Deletes the row of an edge table that the event names (a `*.remove`)."""
        conn.execute(self._delete_sql, self.row(event))

    @cached_property
    def _upsert_sql(self) -> str:
        others = [c for c in self.columns if c not in self.key]
        action = f"UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in others)}" if others else "NOTHING"
        return (f"INSERT INTO {self.name} ({', '.join(self.columns)}) VALUES ({', '.join(['%s'] * len(self.columns))})"
                f" ON CONFLICT ({', '.join(self.key)}) DO {action}")

    @cached_property
    def _delete_sql(self) -> str:
        return f"DELETE FROM {self.name} WHERE {' AND '.join(f'{c} = %s' for c in self.key)}"

    @property
    def copy_sql(self) -> str:
        return f"COPY {self.name} ({', '.join(self.columns)}) FROM STDIN"

    @property
    def select_sql(self) -> str:
        return f"SELECT {', '.join(self.columns)} FROM {self.name}"


def _user_row(e: Event) -> tuple:
    user = e["user"]
    return (to_db(user["id"]), user["username"], normalize(user["username"]), user["full_name"],
            user["is_private"], user["is_verified"])


def _user_event(row: tuple, ts: int) -> Event:
    uid, username, _, full_name, is_private, is_verified = row
    return USER_UPSERT.make(ts, user={"id": from_db(uid), "username": username, "full_name": full_name,
                                      "is_private": is_private, "is_verified": is_verified})


def _place_row(e: Event) -> tuple:
    place = e["place"]
    return (to_db(place["id"]), place["name"], place["city"], place["country"], place["lat"], place["lng"])


def _place_event(row: tuple, ts: int) -> Event:
    pid, name, city, country, lat, lng = row
    return PLACE_UPSERT.make(ts, place={"id": from_db(pid), "name": name, "city": city, "country": country,
                                        "lat": lat, "lng": lng})


def _media_row(e: Event) -> tuple:
    """The row of a `media.upsert` as stored (`stored_media`)."""
    media = e["media"]
    place, mentions = media["place"], media.get("mentions")
    return (to_db(media["id"]), to_db(media["owner"]), media["caption"], media["taken_at"],
            None if place is None else to_db(place), media["hashtags"],
            None if mentions is None else [to_db(m) for m in mentions])


def _media_event(row: tuple, ts: int) -> Event:
    mid, owner, caption, taken_at, place, hashtags, mentions = row
    media = {"id": from_db(mid), "owner": from_db(owner), "caption": caption, "taken_at": taken_at,
             "place": None if place is None else from_db(place), "hashtags": hashtags}
    if mentions is not None:
        media["mentions"] = [from_db(m) for m in mentions]
    return MEDIA_UPSERT.make(ts, media=media)


def _edge_table(name: str, columns: tuple[str, str], creates: EventType) -> Table:
    """A table of edges: both columns are the key, and the event's two id fields fill them in order."""
    fields = tuple(f for f in creates.schema.__struct_fields__ if f != "ts")

    def row(e: Event) -> tuple:
        return tuple(to_db(e[f]) for f in fields)

    def event(row: tuple, ts: int) -> Event:
        return creates.make(ts, **{f: from_db(v) for f, v in zip(fields, row)})

    return Table(name, columns, columns, creates, row, event)


USERS = Table("users", ("id", "username", "username_norm", "full_name", "is_private", "is_verified"), ("id",),
              USER_UPSERT, _user_row, _user_event)
PLACES = Table("places", ("id", "name", "city", "country", "lat", "lng"), ("id",), PLACE_UPSERT, _place_row, _place_event)
MEDIA = Table("media", ("id", "owner", "caption", "taken_at", "place", "hashtags", "mentions"), ("id",),
              MEDIA_UPSERT, _media_row, _media_event)
FOLLOWS = _edge_table("follows", ("follower", "followee"), FOLLOW_ADD)
BLOCKS = _edge_table("blocks", ("blocker", "blocked"), BLOCK_ADD)
LIKES = _edge_table("likes", ("user_id", "media"), LIKE_ADD)

# In the order that applies a snapshot's events fastest: entities before the edges between them.
TABLES = (USERS, PLACES, MEDIA, FOLLOWS, BLOCKS, LIKES)
CREATED_BY = {table.creates.name: table for table in TABLES}


def stored_media(e: Event) -> Event:
    """A `media.upsert` as the platform stores and publishes it: hashtags normalized (from the caption
    when absent), explicit mentions without repeats, and no mentions when none were sent, so that
    the caption's `@name`s stay names (docs/events.md: they point to whoever holds the name now)."""
    media = e["media"]
    if "hashtags" in media:
        tags = [t for t in (hashtag_name(t) for t in media["hashtags"]) if t]
    else:
        tags = caption_hashtags(media["caption"])
    media = {**media, "hashtags": list(dict.fromkeys(tags))}
    if "mentions" in media:
        media["mentions"] = list(dict.fromkeys(media["mentions"]))
    return {**e, "media": media}


def truncate(conn: psycopg.Connection) -> None:
    """Empties every table (tests and demos reuse one database)."""
    with conn.transaction():
        conn.execute(f"TRUNCATE {', '.join(t.name for t in TABLES)}, outbox, relay_position RESTART IDENTITY")


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
            event = applies[event["op"]](conn, event) or event  # media.upsert: as resolved
            row = conn.execute("INSERT INTO outbox (event) VALUES (%s::jsonb) RETURNING id",
                               (orjson.dumps(event).decode(),)).fetchone()
        return row[0]

    def bulk_load(self, events: Iterable[Event]) -> int:
        """An initial load with COPY, in one transaction: tables and outbox. Returns the events loaded.

        Only for a platform with an empty outbox, and only creating events (upserts of new
        entities, adds of new edges); anything else raises `ValueError` and loads nothing.
        """
        loaded = 0
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (PLATFORM_LOCK,))
            if conn.execute("SELECT EXISTS (SELECT 1 FROM outbox)").fetchone()[0]:
                raise ValueError("bulk_load needs a platform whose outbox is empty; use PlatformDB.apply")
            iterator = iter(events)
            while chunk := [validate(e) for e in islice(iterator, COPY_CHUNK)]:
                rows: dict[Table, list[tuple]] = {table: [] for table in TABLES}
                outbox: list[tuple[str]] = []
                for event in chunk:
                    table = CREATED_BY.get(event["op"])
                    if table is None:
                        raise ValueError(f"bulk_load takes only creating events, not {event['op']!r}; use PlatformDB.apply")
                    if table is MEDIA:
                        event = stored_media(event)
                    rows[table].append(table.row(event))
                    outbox.append((orjson.dumps(event).decode(),))
                for table, table_rows in rows.items():
                    _copy(conn, table.copy_sql, table_rows)
                _copy(conn, "COPY outbox (event) FROM STDIN", outbox)
                loaded += len(chunk)
        return loaded


def _copy(conn: psycopg.Connection, sql: str, rows: list[tuple]) -> None:
    if rows:
        with conn.cursor().copy(sql) as copy:
            for row in rows:
                copy.write_row(row)


applies: Handlers[Callable[[psycopg.Connection, Event], Any]] = Handlers("the PostgreSQL platform")
applies.on(USER_UPSERT)(USERS.upsert)
applies.on(PLACE_UPSERT)(PLACES.upsert)
applies.on(FOLLOW_ADD)(FOLLOWS.upsert)
applies.on(FOLLOW_REMOVE)(FOLLOWS.delete)
applies.on(BLOCK_ADD)(BLOCKS.upsert)
applies.on(BLOCK_REMOVE)(BLOCKS.delete)
applies.on(LIKE_ADD)(LIKES.upsert)
applies.on(LIKE_REMOVE)(LIKES.delete)


@applies.on(MEDIA_UPSERT)
def _media_upsert(conn: psycopg.Connection, e: Event) -> Event:
    e = stored_media(e)
    MEDIA.upsert(conn, e)
    return e


@applies.on(USER_DELETE)
def _user_delete(conn: psycopg.Connection, e: Event) -> None:
    uid = to_db(e["id"])
    conn.execute("DELETE FROM users WHERE id = %s", (uid,))
    conn.execute("DELETE FROM follows WHERE follower = %s OR followee = %s", (uid, uid))
    conn.execute("DELETE FROM blocks WHERE blocker = %s OR blocked = %s", (uid, uid))
    conn.execute("DELETE FROM likes WHERE user_id = %s OR media IN (SELECT id FROM media WHERE owner = %s)", (uid, uid))
    conn.execute("DELETE FROM media WHERE owner = %s", (uid,))


@applies.on(MEDIA_DELETE)
def _media_delete(conn: psycopg.Connection, e: Event) -> None:
    """Deletes the media and every like on it, also likes stored before it existed."""
    mid = to_db(e["id"])
    conn.execute("DELETE FROM media WHERE id = %s", (mid,))
    conn.execute("DELETE FROM likes WHERE media = %s", (mid,))
