"""DuckDB in-process, the second peer of the `queries` scenario: what a team would embed instead.

The database is a copy of the bench's PostgreSQL tables (bench/postgres.py, counts derived there),
exported as CSV and loaded once into DATA/duckdb/bench.duckdb, each table in the order of its main
lookup key (DuckDB prunes row groups by their min/max), with the same primary keys and the
secondary indexes DuckDB can hold (none for LIKE prefixes: DuckDB has no operator class for them).
The queries are bench.postgres.SQL, translated only in dialect: `%(name)s` parameters become
`$name`, and `LIKE $p` spells out PostgreSQL's default `ESCAPE '\\'` (DuckDB has no default escape).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import duckdb
import psycopg

from bench import postgres

MARKER = "bench_dataset_v3"
# table -> (columns, the order rows are loaded in)
TABLES = {
    "users": ("id, username, username_norm, full_name, is_private, is_verified, followers_count", "id"),
    "user_tokens": ("token, user_id", "token, user_id"),
    "follows": ("follower, followee", "follower, followee"),
    "blocks": ("blocker, blocked", "blocker, blocked"),
    "places": ("id, name, media_count", "id"),
    "place_tokens": ("token, place_id", "token, place_id"),
    "media": ("id, owner, taken_at, place, like_count", "id"),
    "media_hashtags": ("tag, media_id", "tag, media_id"),
    "likes": ("user_id, media", "user_id, media"),
    "hashtags": ("name, media_count", "name"),
}
INDEXES = """
ALTER TABLE users ADD PRIMARY KEY (id);
ALTER TABLE follows ADD PRIMARY KEY (follower, followee);
CREATE INDEX follows_by_followee ON follows (followee, follower);
ALTER TABLE blocks ADD PRIMARY KEY (blocker, blocked);
CREATE INDEX blocks_by_blocked ON blocks (blocked, blocker);
ALTER TABLE likes ADD PRIMARY KEY (user_id, media);
ALTER TABLE places ADD PRIMARY KEY (id);
ALTER TABLE media ADD PRIMARY KEY (id);
ALTER TABLE hashtags ADD PRIMARY KEY (name);
CREATE INDEX media_by_owner ON media (owner);
CREATE INDEX media_hashtags_by_tag ON media_hashtags (tag, media_id);
CREATE INDEX media_hashtags_by_media ON media_hashtags (media_id);
CREATE INDEX users_username ON users (username_norm);
"""


def dialect(sql: str) -> str:
    """bench.postgres.SQL text as DuckDB reads it: `$name` parameters and LIKE's escape character spelled out."""
    sql = re.sub(r"LIKE %\(p\)s", r"LIKE %(p)s ESCAPE '\\'", sql)
    return re.sub(r"%\((\w+)\)s", r"$\1", sql)


SQL = {name: dialect(text) for name, text in postgres.SQL.items()}


def path_of(data: Path) -> Path:
    return data / "duckdb" / "bench.duckdb"


def loaded(path: Path, scale: str, seed: int) -> dict | None:
    """Row counts and load time of the dataset in the database when it is this (scale, seed), else None."""
    if not path.exists():
        return None
    with duckdb.connect(str(path), read_only=True) as con:
        if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [MARKER]).fetchone()[0]:
            return None
        row = con.execute(f"SELECT counts FROM {MARKER} WHERE scale = ? AND seed = ?", [scale, seed]).fetchone()
    return None if row is None else json.loads(row[0])


def load(dsn: str, path: Path, scale: str, seed: int, progress=print) -> dict:
    """Copies the PostgreSQL tables into a new DuckDB database at `path`; returns row counts, seconds and bytes."""
    started = time.perf_counter()
    shutil.rmtree(path.parent, ignore_errors=True)
    path.parent.mkdir(parents=True)
    schema = postgres.SCHEMA.split(f"CREATE TABLE {MARKER}")[0]
    counts: dict = {}
    with psycopg.connect(dsn) as pg, duckdb.connect(str(path)) as con:
        for statement in schema.split(";"):
            if statement.strip():
                con.execute(re.sub(r" PRIMARY KEY", "", statement))
        for table, (columns, order) in TABLES.items():
            csv = path.parent / f"{table}.csv"
            with csv.open("wb") as out, pg.cursor().copy(f"COPY {table} ({columns}) TO STDOUT (FORMAT csv)") as copy:
                for chunk in copy:
                    out.write(chunk)
            con.execute(f"INSERT INTO {table} ({columns}) SELECT * FROM read_csv(?, header = false, "
                        f"allow_quoted_nulls = false, columns = {_types(con, table, columns)}) ORDER BY {order}",
                        [str(csv)])
            csv.unlink()
            counts[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            progress(f"  duckdb: {table} {counts[table]:,} rows, {time.perf_counter() - started:.0f} s")
        for statement in INDEXES.split(";"):
            if statement.strip():
                con.execute(statement)
        con.execute("CHECKPOINT")
        counts["load_s"] = round(time.perf_counter() - started, 1)
        counts["size_bytes"] = path.stat().st_size
        con.execute(f"CREATE TABLE {MARKER} (scale text, seed integer, counts text)")
        con.execute(f"INSERT INTO {MARKER} VALUES (?, ?, ?)", [scale, seed, json.dumps(counts)])
    return counts


def _types(con, table: str, columns: str) -> str:
    """read_csv's `columns` argument: the table's own column types, in the order of `columns`."""
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
                             [table]).fetchall())
    return "{" + ", ".join(f"'{c}': '{types[c]}'" for c in columns.split(", ")) + "}"


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection with DuckDB's defaults (threads: one per core)."""
    return duckdb.connect(str(path), read_only=True)
