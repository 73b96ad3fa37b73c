"""The `unicorn` command line (docs/configuration.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
import orjson

from bench.__main__ import bench as bench_command
from vocabulary import paths

if TYPE_CHECKING:
    from unicorn.engine import SearchResult


def _data_option(f):
    return click.option(
        "--data",
        type=click.Path(file_okay=False, path_type=Path),
        default=lambda: os.environ.get("UNICORN_DATA", "./unicorn-data"),
        show_default="./unicorn-data, or UNICORN_DATA",
        help="Directory holding the embedded firehose and the index.",
    )(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Unicorn: social-graph-aware search for an Instagram-like platform."""


@main.command()
@_data_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--scale", default="demo", show_default=True, help="Generator scale: demo, S, M or L.")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--shards", type=click.IntRange(min=1), help="Index into N shards and serve them through their aggregator.")
def demo(data: Path, host: str, port: int, scale: str, seed: int, shards: int | None) -> None:
    """Generate a platform, index it, and serve the API and the typeahead page."""
    from console.demo import run_demo
    from indexer.daemon import StorageFailure
    from indexer.local import ShardsFailed
    from indexer.lock import IndexLocked
    from vocabulary.shards import LayoutConflict

    try:
        run_demo(data, host, port, scale, seed, shards)
    except (IndexLocked, StorageFailure, ShardsFailed, LayoutConflict) as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@_data_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Reject the whole file (append nothing, exit 1) if any line is invalid.")
def ingest(data: Path, file: Path, strict: bool) -> None:
    """Append the events of a JSON Lines FILE to the embedded firehose.

    Lines that are not valid docs/events.md events (a line over 16 MiB included) are dead-lettered with
    their reason and counted on stderr; the rest are appended. When a storage error (a full disk)
    stops it, running it again on the same file continues after the lines already in.
    """
    from firehose.endpoint import Endpoint
    from firehose.ingest import IngestFailed, ingest_jsonl
    from firehose.log import cause

    firehose = Endpoint(data)
    try:
        producer = firehose.log().producer()
        dead_letters = firehose.dead_letters()
        report = ingest_jsonl(file, producer, dead_letters, strict=strict)
        dead_letters.close()
    except IngestFailed as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"ingest of {file} failed before appending anything: {cause(exc)}") from None
    if report.resumed_after:
        click.echo(f"continued {file} after line {report.resumed_after}, where a failed ingest stopped", err=True)
    for line, reason in report.errors[:20]:
        click.echo(f"{file}:{line}: {reason}", err=True)
    if len(report.errors) > 20:
        click.echo(f"... and {len(report.errors) - 20} more invalid lines", err=True)
    if report.rejected:
        click.echo(f"rejected {file}: {len(report.errors)} invalid lines, nothing appended (--strict)", err=True)
        sys.exit(1)
    click.echo(f"appended {report.appended} events, dead-lettered {report.dead_lettered}", err=True)


@main.command()
@_data_option
@click.option("--once", is_flag=True, help="Drain what is in the firehose now, then exit.")
@click.option("--kafka", "bootstrap", metavar="BOOTSTRAP", help="Consume from Kafka at BOOTSTRAP instead of the embedded log.")
@click.option("--topic", default="unicorn.events", show_default=True, help="Kafka topic (with --kafka).")
@click.option("--batch-size", default=5000, show_default=True, type=int, help="Events per index commit at most.")
@click.option("--shards", type=click.IntRange(min=1), help="Split the documents across N index shards (DATA/shards/).")
@click.option("--replicas", type=click.IntRange(min=1), default=1, show_default=True, help="Indexes per shard (with --shards).")
@click.option("--partitions", type=click.IntRange(min=1), help="Partitions of the changes stream (with --shards; default N, at least N).")
def index(data: Path, once: bool, bootstrap: str | None, topic: str, batch_size: int, shards: int | None,
          replicas: int, partitions: int | None) -> None:
    """Run Slipstream and the indexer: firehose -> index, offsets committed with each batch.

    One indexer per index: a second one on the same --data refuses, naming the first. With --shards N
    the documents stage (DATA/index) publishes each batch's per-document changes to a changes stream of
    P partitions (the embedded log DATA/changes, or the Kafka topic T.changes), and N x R shard indexers
    (DATA/shards/S.R) each consume the partitions of their shard, as separate processes; the layout is
    recorded in DATA/shards/layout.json for `serve --shards`, and a different layout is refused.
    """
    import indexer
    from indexer.daemon import StorageFailure
    from indexer.lock import IndexLocked
    from vocabulary.shards import find_layout

    if shards is not None:
        _index_shards(data, once, bootstrap, topic, batch_size, shards, replicas, partitions or shards)
        return
    if (layout := find_layout(data)) is not None:
        raise click.ClickException(f"{data} is sharded ({layout.shards} shards): run `unicorn index --shards "
                                   f"{layout.shards}`, or the shards would miss what this indexer applies")
    try:
        stats = indexer.run(data, once=once, bootstrap=bootstrap, topic=topic, batch_size=batch_size)
    except (IndexLocked, StorageFailure) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"applied {stats.applied} events, dead-lettered {stats.dead_lettered}", err=True)


def _index_shards(data: Path, once: bool, bootstrap: str | None, topic: str, batch_size: int, shards: int,
                  replicas: int, partitions: int) -> None:
    """`index --shards`: record the layout, then run the local form (indexer.local)."""
    from firehose.endpoint import Endpoint
    from indexer.local import ShardsFailed, lay_out, run_local
    from vocabulary.shards import Layout, LayoutConflict

    try:
        layout = Layout(shards, replicas, partitions, Endpoint(data, bootstrap, topic).source)
    except ValueError as exc:
        raise click.ClickException(f"bad layout: {exc}: --partitions must be at least --shards") from None
    try:
        lay_out(data, layout)
        run_local(data, layout, once=once, bootstrap=bootstrap, topic=topic, batch_size=batch_size)
    except (LayoutConflict, ShardsFailed) as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@_data_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="uvicorn worker processes.")
@click.option("--with-indexer", is_flag=True, help="Also run the indexer on the embedded firehose.")
@click.option("--shards", type=click.IntRange(min=1), default=None,
              help="Serve the N index shards of `index --shards N` (one process per replica) behind this API as their aggregator.")
def serve(data: Path, host: str, port: int, workers: int, with_indexer: bool, shards: int | None) -> None:
    """Serve the HTTP API (docs/http-api.md). Keys come from UNICORN_API_KEYS="KEY:admin,KEY2:search".

    Without any key (UNICORN_API_KEYS or UNICORN_API_KEYS_FILE) it starts, so that health checks and
    metrics answer, and warns on stderr that every API call will be refused.
    """
    import api
    from indexer.lock import IndexLocked

    try:
        api.serve(data, host=host, port=port, workers=workers, with_indexer=with_indexer, shards=shards)
    except (IndexLocked, FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@_data_option
@click.argument("query")
@click.option("--vertical", default="user", show_default=True, type=click.Choice(["user", "media", "hashtag", "place"]))
@click.option("--viewer", help="Evaluate as this user (privacy applies); omit to see everything.")
@click.option("--limit", default=20, show_default=True, type=int)
@click.option("--order", default="static", show_default=True, type=click.Choice(["static", "social"]))
@click.option("--explain", is_flag=True, help="Show which terms and apply paths matched each result.")
@click.option("--json", "as_json", is_flag=True, help="Print the docs/http-api.md search response as JSON.")
def query(data: Path, query: str, vertical: str, viewer: str | None, limit: int, order: str, explain: bool, as_json: bool) -> None:
    """Evaluate one QUERY (docs/query-language.md s-expression or its JSON form) and print the results."""
    from indexer.store import Index
    from unicorn.errors import QueryError
    from unicorn.service import open_engine

    if not Index.exists(paths.index(data)):
        raise click.ClickException(f"no index under {data}: run `unicorn ingest` and `unicorn index --once` first")
    engine = open_engine(data)
    try:
        parsed = orjson.loads(query) if query.lstrip().startswith("{") else query
    except orjson.JSONDecodeError as exc:
        raise click.ClickException(f"bad_query: the query is not JSON: {exc}") from None
    try:
        result = engine.search(vertical, parsed, viewer=viewer, limit=limit, order=order, explain=explain)
    except QueryError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    if as_json:
        click.echo(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    _print_table(vertical, result, explain)


COLUMNS = {  # vertical -> (header, cell of a document) after the id and score columns
    "user": (("username", lambda doc: f"@{doc['username']}"), ("full name", lambda doc: doc["full_name"])),
    "media": (("owner", lambda doc: f"@{doc['owner_username']}"), ("caption", lambda doc: doc["caption"])),
    "hashtag": (("media count", lambda doc: str(doc["media_count"])),),
    "place": (("name", lambda doc: doc["name"]), ("city", lambda doc: doc["city"])),
}


def _print_table(vertical: str, result: SearchResult, explain: bool) -> None:
    """The results as a table with headers on stdout, then a line with the total and the time."""
    from rich.console import Console
    from rich.table import Table

    table = Table()
    table.add_column("id", justify="right")
    table.add_column("score", justify="right")
    for header, _ in COLUMNS[vertical]:
        table.add_column(header)
    if explain:
        table.add_column("why")  # the terms and apply paths that matched
    for hit in result.results:
        cells = [hit["id"], f"{hit['score']:g}", *(cell(hit["doc"]) for _, cell in COLUMNS[vertical])]
        if explain:
            cells.append("\n".join(hit.get("why") or []))
        table.add_row(*cells)
    truncated = " (apply truncated)" if result.truncated else ""
    console = Console(markup=False, highlight=False)  # cells are data: "[...]" is not rich markup
    console.print(table)
    console.print(f"{result.total} {vertical} results{truncated}, took {result.took_ms} ms")


@main.command()
@_data_option
@click.option("--from-postgres", "dsn", required=True, metavar="DSN", help="PostgreSQL connection string.")
def rebuild(data: Path, dsn: str) -> None:
    """Build the index from a consistent PostgreSQL snapshot, then tail the outbox from there.

    Holds the index's writer lock: it refuses while an indexer writes the same index.
    """
    from indexer.lock import IndexLocked, writer_lock
    from indexer.rebuild import rebuild as run_rebuild

    try:
        with writer_lock(paths.index(data)):
            run_rebuild(dsn, data)
    except IndexLocked as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@_data_option
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
def backup(data: Path, dest: Path) -> None:
    """Copy the index to DEST, compacted, while it is served and indexed.

    The copy is one consistent snapshot with the firehose offsets it consumed. To restore: stop
    the indexer, put DEST in place of DATA/index, start the indexer; it continues from there.
    """
    from indexer.store import Index, StoreError

    if not Index.exists(paths.index(data)):
        raise click.ClickException(f"no index under {data}")
    if dest.exists() and any(dest.iterdir()):
        raise click.ClickException(f"{dest} is not empty")
    index = Index(paths.index(data), readonly=True)
    try:
        index.backup(dest)
        gen = index.gen
    except StoreError as exc:
        raise click.ClickException(f"backup to {dest} failed: {exc}") from None
    finally:
        index.close()
    click.echo(f"copied generation {gen} of {paths.index(data)} to {dest}", err=True)


main.add_command(bench_command, "bench")


if __name__ == "__main__":
    main()
