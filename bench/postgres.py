"""PostgreSQL side by side: the bench dataset in a real PostgreSQL, and each query class in SQL.

The server is `bench.servers.Postgres` with a data directory kept between runs; `load` puts a `SyntheticPlatform` snapshot into it with COPY, the counts docs/events.md
derives as columns (as a platform keeps counters), and the indexes a good engineer would add:
name tokens with `text_pattern_ops` for prefix search, follows and blocks both ways, media by
hashtag and by owner, and each vertical's static order. `SQL` holds every query class written
with the same privacy rules (docs/privacy.md), the same exact static order and the same limit as the
engine, so that both must return the same ids in the same order.

Ids are stored as `bigint`; the generator's ids are all below 2**63, where signed order is the
unsigned order docs/query-language.md means (`load` checks this).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg

from firehose.events import Event
from firehose.sources import postgres as platform
from vocabulary.text import normalize, tokens

SCHEMA = """
CREATE TABLE users (id bigint PRIMARY KEY, username text NOT NULL, username_norm text NOT NULL, full_name text NOT NULL,
                    is_private boolean NOT NULL, is_verified boolean NOT NULL, followers_count integer NOT NULL DEFAULT 0);
CREATE TABLE user_tokens (token text NOT NULL, user_id bigint NOT NULL);
CREATE TABLE follows (follower bigint NOT NULL, followee bigint NOT NULL);
CREATE TABLE blocks (blocker bigint NOT NULL, blocked bigint NOT NULL);
CREATE TABLE places (id bigint PRIMARY KEY, name text NOT NULL, media_count integer NOT NULL DEFAULT 0);
CREATE TABLE place_tokens (token text NOT NULL, place_id bigint NOT NULL);
CREATE TABLE media (id bigint PRIMARY KEY, owner bigint NOT NULL, taken_at bigint NOT NULL, place bigint,
                    like_count integer NOT NULL DEFAULT 0);
CREATE TABLE media_hashtags (tag text NOT NULL, media_id bigint NOT NULL);
CREATE TABLE likes (user_id bigint NOT NULL, media bigint NOT NULL);
CREATE TABLE hashtags (name text PRIMARY KEY, media_count integer NOT NULL);
CREATE TABLE bench_dataset_v3 (scale text NOT NULL, seed integer NOT NULL, rows jsonb NOT NULL);
"""

# Counts as docs/events.md derives them (live users and media only; places and hashtags count media of
# public owners), then the indexes.
DERIVE = """
UPDATE users u SET followers_count = c.n FROM (
    SELECT f.followee, count(*) AS n FROM follows f JOIN users a ON a.id = f.follower GROUP BY f.followee) c
  WHERE u.id = c.followee;
UPDATE media m SET like_count = c.n FROM (
    SELECT l.media, count(*) AS n FROM likes l JOIN users a ON a.id = l.user_id GROUP BY l.media) c
  WHERE m.id = c.media;
UPDATE places p SET media_count = c.n FROM (
    SELECT m.place, count(*) AS n FROM media m LEFT JOIN users o ON o.id = m.owner
    WHERE o.is_private IS NOT TRUE GROUP BY m.place) c
  WHERE p.id = c.place;
INSERT INTO hashtags SELECT h.tag, count(*) FILTER (WHERE o.is_private IS NOT TRUE)
  FROM media_hashtags h JOIN media m ON m.id = h.media_id LEFT JOIN users o ON o.id = m.owner GROUP BY h.tag;
ALTER TABLE follows ADD PRIMARY KEY (follower, followee);
CREATE INDEX follows_by_followee ON follows (followee, follower);
ALTER TABLE blocks ADD PRIMARY KEY (blocker, blocked);
CREATE INDEX blocks_by_blocked ON blocks (blocked, blocker);
ALTER TABLE likes ADD PRIMARY KEY (user_id, media);
CREATE INDEX likes_by_media ON likes (media);
CREATE INDEX user_tokens_prefix ON user_tokens (token text_pattern_ops, user_id);
CREATE INDEX place_tokens_prefix ON place_tokens (token text_pattern_ops, place_id);
CREATE INDEX hashtags_prefix ON hashtags (name text_pattern_ops);
CREATE INDEX hashtags_static ON hashtags (media_count DESC, name);
CREATE INDEX users_static ON users (followers_count DESC, id);
CREATE INDEX users_username ON users (username_norm);
CREATE INDEX places_static ON places (media_count DESC, id);
CREATE INDEX media_by_owner ON media (owner);
CREATE INDEX media_static ON media (like_count DESC, taken_at DESC, id DESC);
CREATE INDEX media_hashtags_by_tag ON media_hashtags (tag, media_id);
CREATE INDEX media_hashtags_by_media ON media_hashtags (media_id);
"""


def loaded(dsn: str, scale: str, seed: int) -> dict | None:
    """Row counts of the dataset in the database when it is this (scale, seed), else None."""
    with psycopg.connect(dsn) as conn:
        exists = conn.execute("SELECT to_regclass('bench_dataset_v3') IS NOT NULL").fetchone()[0]
        if not exists:
            return None
        row = conn.execute("SELECT rows FROM bench_dataset_v3 WHERE scale = %s AND seed = %s", (scale, seed)).fetchone()
        return row[0] if row else None


ID_COLUMNS = ("id", "owner", "place", "follower", "followee", "blocker", "blocked", "user_id", "media")


def _tokens(table: str, row: dict) -> Iterator[tuple[str, tuple]]:
    """The bench's own rows beside a platform row: name tokens, and media by hashtag."""
    if table == "users":
        for token in dict.fromkeys(tokens(row["username"]) + tokens(row["full_name"])):
            yield "user_tokens", (token, row["id"])
    elif table == "places":
        for token in dict.fromkeys(tokens(row["name"])):
            yield "place_tokens", (token, row["id"])
    elif table == "media":
        for tag in row["hashtags"]:
            yield "media_hashtags", (tag, row["id"])


def _rows(events: Iterator[Event]) -> Iterator[tuple[str, tuple]]:
    """(table, row) for each snapshot event: the platform's row (firehose.sources.postgres) of the
    table its event type creates, in the bench's columns, with hashtags normalized."""
    for event in events:
        table = platform.CREATED_BY.get(event["op"])
        if table is None:
            raise ValueError(f"the bench loads a snapshot of creating events, not {event['op']!r}")
        if table is platform.MEDIA:
            event = platform.stored_media(event)
        row = dict(zip(table.columns, table.row(event)))
        for column in ID_COLUMNS:
            if row.get(column) is not None and row[column] < 0:
                raise ValueError(f"{table.name}.{column} {platform.from_db(row[column])} is past 2**63: "
                                 "the bench schema orders ids as signed bigint")
        yield table.name, tuple(row[c] for c in COLUMNS[table.name].split(", "))
        yield from _tokens(table.name, row)


COLUMNS = {
    "users": "id, username, username_norm, full_name, is_private, is_verified", "user_tokens": "token, user_id",
    "follows": "follower, followee", "blocks": "blocker, blocked", "likes": "user_id, media",
    "places": "id, name", "place_tokens": "token, place_id", "media": "id, owner, taken_at, place",
    "media_hashtags": "tag, media_id",
}


def load(dsn: str, events: Iterator[Event], scale: str, seed: int, progress=print) -> dict:
    """Loads a snapshot (replacing what is there); returns row counts and the load time in seconds."""
    started = time.perf_counter()
    counts = dict.fromkeys(COLUMNS, 0)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        conn.execute(SCHEMA)
        pending: dict[str, list[tuple]] = {t: [] for t in COLUMNS}
        for n, (table, row) in enumerate(_rows(events), 1):
            pending[table].append(row)
            if n % 500_000 == 0:
                _flush(conn, pending, counts)
                progress(f"  postgres: {n:,} rows, {time.perf_counter() - started:.0f} s")
        _flush(conn, pending, counts)
        progress(f"  postgres: counts and indexes, {time.perf_counter() - started:.0f} s")
        for statement in DERIVE.split(";\n"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("VACUUM ANALYZE")
        counts["load_s"] = round(time.perf_counter() - started, 1)
        counts["size_bytes"] = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        conn.execute("INSERT INTO bench_dataset_v3 VALUES (%s, %s, %s)", (scale, seed, psycopg.types.json.Jsonb(counts)))
    return counts


def _flush(conn: psycopg.Connection, pending: dict[str, list[tuple]], counts: dict) -> None:
    for table, rows in pending.items():
        if rows:
            with conn.cursor().copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            counts[table] += len(rows)
            rows.clear()


# -- the query classes in SQL -------------------------------------------------------------------
# Parameters: v viewer, p LIKE prefix pattern, t hashtag, k limit. `hidden` is docs/privacy.md's
# "hidden from each other"; a user's media are visible when the owner is not hidden and is
# public, the viewer, or followed by the viewer; an edge term following:X is visible when X is
# not hidden and is public, the viewer, or followed by the viewer.

HIDDEN = """hidden AS (SELECT blocked AS id FROM blocks WHERE blocker = %(v)s
                 UNION SELECT blocker FROM blocks WHERE blocked = %(v)s)"""

NAME_MATCH = "u.id IN (SELECT user_id FROM user_tokens WHERE token LIKE %(p)s)"

SQL: dict[str, str] = {
    "user_prefix": f"""
WITH {HIDDEN}
SELECT u.id FROM users u
WHERE {NAME_MATCH} AND u.id NOT IN (SELECT id FROM hidden)
ORDER BY u.followers_count DESC, u.id LIMIT %(k)s""",

    "hashtag_typeahead": f"""
WITH {HIDDEN}
SELECT t.name FROM hashtags t
WHERE t.name LIKE %(p)s
  AND EXISTS (SELECT 1 FROM media_hashtags h JOIN media m ON m.id = h.media_id LEFT JOIN users o ON o.id = m.owner
              WHERE h.tag = t.name AND m.owner NOT IN (SELECT id FROM hidden)
                AND (o.is_private IS NOT TRUE OR m.owner = %(v)s
                     OR EXISTS (SELECT 1 FROM follows vf WHERE vf.follower = %(v)s AND vf.followee = m.owner)))
ORDER BY t.media_count DESC, t.name LIMIT %(k)s""",

    "place_typeahead": """
SELECT p.id FROM places p WHERE p.id IN (SELECT place_id FROM place_tokens WHERE token LIKE %(p)s)
ORDER BY p.media_count DESC, p.id LIMIT %(k)s""",

    "people_2hop": f"""
WITH {HIDDEN},
followees AS (SELECT x.id FROM follows f JOIN users x ON x.id = f.followee
              WHERE f.follower = %(v)s AND x.id NOT IN (SELECT id FROM hidden)),
edges AS (SELECT x.id FROM followees x JOIN users xu ON xu.id = x.id
          WHERE NOT xu.is_private OR x.id = %(v)s
             OR EXISTS (SELECT 1 FROM follows vf WHERE vf.follower = %(v)s AND vf.followee = x.id))
SELECT u.id FROM users u
WHERE u.id IN (SELECT f.followee FROM follows f JOIN edges e ON f.follower = e.id)
  AND {NAME_MATCH} AND u.id NOT IN (SELECT id FROM hidden)
ORDER BY u.followers_count DESC, u.id LIMIT %(k)s""",

    "media_by_followees": f"""
WITH {HIDDEN}
SELECT m.id FROM media m JOIN users o ON o.id = m.owner
WHERE m.id IN (SELECT media_id FROM media_hashtags WHERE tag = %(t)s)
  AND m.owner IN (SELECT followee FROM follows WHERE follower = %(v)s)
  AND m.owner NOT IN (SELECT id FROM hidden)
  AND (NOT o.is_private OR o.id = %(v)s
       OR EXISTS (SELECT 1 FROM follows vf WHERE vf.follower = %(v)s AND vf.followee = o.id))
ORDER BY m.like_count DESC, m.taken_at DESC, m.id DESC LIMIT %(k)s""",

    "extract_owners": f"""
WITH {HIDDEN}
SELECT u.id FROM users u
WHERE u.id NOT IN (SELECT id FROM hidden)
  AND (NOT u.is_private OR u.id = %(v)s
       OR EXISTS (SELECT 1 FROM follows vf WHERE vf.follower = %(v)s AND vf.followee = u.id))
  AND EXISTS (SELECT 1 FROM media m JOIN media_hashtags h ON h.media_id = m.id WHERE h.tag = %(t)s AND m.owner = u.id)
ORDER BY u.followers_count DESC, u.id LIMIT %(k)s""",

    # (weak-and (term name:P) (term following:V :optional-hits B)): in static order, every match
    # V follows, and of the others only the first B.
    "weak_and": f"""
WITH {HIDDEN},
candidates AS (
  SELECT u.id, u.followers_count,
         EXISTS (SELECT 1 FROM follows vf WHERE vf.follower = %(v)s AND vf.followee = u.id) AS followed
  FROM users u WHERE {NAME_MATCH} AND u.id NOT IN (SELECT id FROM hidden)),
walk AS (
  SELECT id, followers_count, followed,
         count(*) FILTER (WHERE NOT followed) OVER (ORDER BY followers_count DESC, id ROWS UNBOUNDED PRECEDING) AS misses
  FROM candidates)
SELECT id FROM walk WHERE followed OR misses <= %(budget)s
ORDER BY followers_count DESC, id LIMIT %(k)s""",

    # (strong-or (and name:P following:V :optional-weight Wf) (and name:P is:verified
    # :optional-weight Wv) (term name:P)): quota A from followees, then quota B from verified
    # users not chosen, then the best of the rest; all in static order.
    "strong_or": f"""
WITH {HIDDEN},
candidates AS (
  SELECT u.id, u.followers_count, u.is_verified,
         EXISTS (SELECT 1 FROM follows vf WHERE vf.follower = %(v)s AND vf.followee = u.id) AS followed
  FROM users u WHERE {NAME_MATCH} AND u.id NOT IN (SELECT id FROM hidden)),
a AS (SELECT id FROM candidates WHERE followed ORDER BY followers_count DESC, id LIMIT %(quota_a)s),
b AS (SELECT id FROM candidates WHERE is_verified AND id NOT IN (SELECT id FROM a)
      ORDER BY followers_count DESC, id LIMIT %(quota_b)s),
rest AS (SELECT id FROM candidates WHERE id NOT IN (SELECT id FROM a) AND id NOT IN (SELECT id FROM b)
         ORDER BY followers_count DESC, id
         LIMIT %(k)s - (SELECT count(*) FROM a) - (SELECT count(*) FROM b))
SELECT c.id FROM candidates c WHERE c.id IN (SELECT id FROM a UNION ALL SELECT id FROM b UNION ALL SELECT id FROM rest)
ORDER BY c.followers_count DESC, c.id""",

    # unicorn.typeahead's user ranking (docs/http-api.md "Typeahead"): the exact username, then followed,
    # then the mutual weight w (the sum of ceil(2^20 / following_count) over the viewer's visible followees
    # who follow the user; following_count counts live followees), then the static order. A share is computed
    # in float8 (floor((2^20 + n - 1) / n) is exact for n below 2^32) and their sums are exact integers.
    "social": f"""
WITH {HIDDEN},
followees AS (SELECT x.id FROM follows f JOIN users x ON x.id = f.followee
              WHERE f.follower = %(v)s AND x.id NOT IN (SELECT id FROM hidden)),
shares AS (SELECT e.id, floor((1048576 + count(*) - 1) / count(*)::float8) AS share
           FROM followees e JOIN follows g ON g.follower = e.id JOIN users z ON z.id = g.followee GROUP BY e.id),
hop AS (SELECT g.followee AS id, sum(s.share) AS w FROM follows g JOIN shares s ON g.follower = s.id
        GROUP BY g.followee),
scored AS (
  SELECT u.id, u.followers_count, (u.username_norm = %(exact)s)::int AS named,
         (u.id IN (SELECT id FROM followees))::int AS followed, coalesce(h.w, 0) AS w
  FROM users u LEFT JOIN hop h ON h.id = u.id
  WHERE {NAME_MATCH} AND u.id NOT IN (SELECT id FROM hidden))
SELECT id FROM scored ORDER BY named DESC, followed DESC, w DESC, followers_count DESC, id LIMIT %(k)s""",
}


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching values that start with the normalized `prefix`."""
    escaped = normalize(prefix).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
