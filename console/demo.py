"""`unicorn demo`: a generated platform, indexed through the real firehose path, served.

The first run writes the generated events into the embedded firehose and indexes them; a
later run on the same data directory finds the marker, and the indexer resumes from its
committed offsets, so nothing is generated or indexed again.

The demo serves with signed viewers (docs/http-api.md): an admin key for curl, and a search key and a
viewer secret behind the demo's login (api.demo), which the page uses. All three are made on the
first run and kept, readable by the owner only, in CREDENTIALS, so a later run keeps them.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from pathlib import Path

import click
import orjson

from vocabulary import paths, terms

MARKER = "demo.json"
GENERATING = "demo-generating.json"
CREDENTIALS = "demo-credentials.json"


def run_demo(data: Path, host: str, port: int, scale: str, seed: int, shards: int | None = None) -> None:
    """With `shards`, the platform is indexed into that many index shards and served by their aggregator."""
    import api
    import indexer
    from indexer.local import run_local

    started = time.perf_counter()
    data.mkdir(parents=True, exist_ok=True)
    marker = data / MARKER
    if marker.exists():
        made = orjson.loads(marker.read_bytes())
        click.echo(f"reusing {data}: {made['events']:,} events of scale {made['scale']} (seed {made['seed']})")
    else:
        click.echo(f"generating a {scale} platform (seed {seed}) into the embedded firehose at {paths.firehose(data)} ...")
        count = generate_into(data, scale, seed)
        click.echo(f"generated {count:,} events in {time.perf_counter() - started:.1f} s")
    stop = threading.Event()  # set by SIGTERM/SIGINT while indexing
    layout = _layout(data, shards)
    if layout is None:
        stats = indexer.run(data, once=True, stop=stop)
        applied = f"{stats.applied:,} events applied now"
    else:
        run_local(data, layout, once=True, stop=stop)
        applied = f"into {shards} shards"
    if stop.is_set():
        raise SystemExit("stopped while indexing; the next run continues from the last committed batch")
    click.echo(f"index up to date ({applied}) after {time.perf_counter() - started:.1f} s")

    credentials = _credentials(data)
    key = credentials["admin_key"]
    os.environ["UNICORN_API_KEYS"] = f"{key}:admin,{credentials['search_key']}:search"
    os.environ["UNICORN_VIEWER_SECRET"] = credentials["viewer_secret"]
    os.environ["UNICORN_DEMO_LOGIN_KEY"] = credentials["search_key"]
    viewer, username, prefix, hashtag = _examples(data)
    url = f"http://{host}:{port}"
    auth = f"-H 'Authorization: Bearer {key}'"
    click.echo(
        f"""
serving on {url}  (the typeahead page: open {url}/ and log in as a demo user)
API key for this session (admin): {key}
(kept with the demo's search key and viewer secret in {data / CREDENTIALS}; a later run reuses them)

Three example queries:
  curl -s {auth} '{url}/v1/typeahead?q={prefix}&viewer={viewer}'
  curl -s {auth} {url}/v1/search -d '{{"vertical": "user", "viewer": "{viewer}", "query": "(and (term name:{prefix}) (apply following: (term following:{viewer})))"}}'
  curl -s {auth} {url}/v1/search -d '{{"vertical": "media", "viewer": "{viewer}", "query": "(and (term hashtag:{hashtag}) (apply owner: (term following:{viewer})))"}}'

As the page does it: log in as {username} for a search key and a viewer token, then send both:
  curl -s {url}/v1/demo/login -d '{{"username": "{username}"}}'
  curl -s -H 'Authorization: Bearer SEARCH_KEY' -H 'X-Viewer-Token: TOKEN' '{url}/v1/typeahead?q={prefix}'
"""
    )
    api.serve(data, host=host, port=port, workers=1, with_indexer=True, shards=shards)


def _layout(data: Path, shards: int | None):
    """The demo's shards, recorded: one replica each, one changes partition per shard, on the embedded
    firehose; None without shards, when `data` is not sharded either."""
    from firehose.endpoint import EMBEDDED
    from indexer.local import lay_out
    from vocabulary.shards import Layout, find_layout

    if shards is None:
        if (found := find_layout(data)) is not None:
            raise click.ClickException(f"{data} is sharded ({found.shards} shards): run `unicorn demo --shards "
                                       f"{found.shards}`, or use another --data")
        return None
    layout = Layout(shards, 1, shards, EMBEDDED)
    lay_out(data, layout)
    return layout


def generate_into(data: Path, scale: str, seed: int) -> int:
    """Append the generated platform to the embedded firehose, write MARKER, and return the event count.

    A run stopped while generating (a signal, a crash) leaves GENERATING behind, and the next run
    appends only what that run did not write. What it wrote is a prefix of the generated events:
    the generator is deterministic, the demo's firehose has one partition, and a flush of the log
    is all or nothing.
    """
    from firehose.endpoint import Endpoint
    from firehose.sources.generator import generate

    firehose, pending = Endpoint(data), data / GENERATING

    def written() -> int:
        return sum(firehose.log().end_offsets().values()) if firehose.exists() else 0

    if pending.exists():
        made = orjson.loads(pending.read_bytes())
        if (made["scale"], made["seed"]) != (scale, seed):
            raise click.ClickException(f"{data} holds part of a generated {made['scale']} platform "
                                       f"(seed {made['seed']}): run the demo with that scale and seed to finish "
                                       "it, or use another --data")
        skip = written() - made["from"]
    else:
        skip = 0
        pending.write_bytes(orjson.dumps({"scale": scale, "seed": seed, "from": written()}))
    count = 0
    with firehose.producer() as producer:
        for event in generate(scale, seed):
            if count >= skip:
                producer.send(event)
            count += 1
    marker = data / MARKER
    marker.write_bytes(orjson.dumps({"scale": scale, "seed": seed, "events": count}))
    pending.unlink()
    return count


def _credentials(data: Path) -> dict[str, str]:
    """{"admin_key", "search_key", "viewer_secret"}: read from CREDENTIALS, or made and written there."""
    path = data / CREDENTIALS
    if path.exists():
        return orjson.loads(path.read_bytes())
    made = {"admin_key": secrets.token_urlsafe(18), "search_key": secrets.token_urlsafe(18),
            "viewer_secret": secrets.token_urlsafe(48)}
    partial = path.with_suffix(".tmp")
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        out.write(orjson.dumps(made))
    os.replace(partial, path)
    return made


def _examples(data: Path) -> tuple[str, str, str, str]:
    """A well-connected viewer, their username, a name prefix among their 2-hop network, and a popular hashtag."""
    from indexer.store import Index

    index = Index(paths.index(data))
    try:
        with index.reader() as view:
            users = view.rank("user")
            live = view.posting("user", terms.LIVE)
            viewer_iid = max(live, key=lambda i: len(view.posting("user", terms.following(users.ext_id[i]))))
            viewer = int(users.ext_id[viewer_iid])
            username = view.doc("user", viewer_iid)["username"]
            followees = view.posting("user", terms.following(viewer)) & live
            some = view.doc("user", min(followees)) if followees else view.doc("user", viewer_iid)
            prefix = (some["username"][:2] or "jo").lower()
            hashtags = view.rank("hashtag")
            top = max(view.posting("hashtag", terms.LIVE), key=lambda i: hashtags.count[i], default=None)
            hashtag = view.ext("hashtag", top) if top is not None else "sunset"
        return str(viewer), username, prefix, hashtag
    finally:
        index.close()
