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


_role_shard = click.option("--shard", type=click.IntRange(min=0), help="With --role shard: which shard, 0..N-1.")
_role_replica = click.option("--replica", type=click.IntRange(min=0), default=0, show_default=True,
                             help="With --role shard: which replica of the shard, 0..R-1.")


@main.command()
@_data_option
@click.option("--once", is_flag=True, help="Drain what is in the firehose now, then exit.")
@click.option("--kafka", "bootstrap", metavar="BOOTSTRAP", help="Consume from Kafka at BOOTSTRAP instead of the embedded log.")
@click.option("--topic", default="unicorn.events", show_default=True, help="Kafka topic (with --kafka).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Events per index commit at most (a shard indexer: "
                                                              "changes records).  [default: 5000; 100 for --role shard]")
@click.option("--shards", type=click.IntRange(min=1), help="Split the documents across N index shards (DATA/shards/).")
@click.option("--replicas", type=click.IntRange(min=1), default=1, show_default=True, help="Indexes per shard (with --shards).")
@click.option("--partitions", type=click.IntRange(min=1), help="Partitions of the changes stream (with --shards; default N, at least N).")
@click.option("--role", type=click.Choice(["documents", "shard"]),
              help="Multi-host form (with --shards and --kafka): run only the documents stage, or only the shard "
                   "indexer --shard S --replica R, on this host.")
@_role_shard
@_role_replica
def index(data: Path, once: bool, bootstrap: str | None, topic: str, batch_size: int | None, shards: int | None,
          replicas: int, partitions: int | None, role: str | None, shard: int | None, replica: int) -> None:
    """Run Slipstream and the indexer: firehose -> index, offsets committed with each batch.

    One indexer per index: a second one on the same --data refuses, naming the first. With --shards N
    the documents stage (DATA/index) publishes each batch's per-document changes to a changes stream of
    P partitions (the embedded log DATA/changes, or the Kafka topic T.changes), and N x R shard indexers
    (DATA/shards/S.R) each consume the partitions of their shard, as separate processes; the layout is
    recorded in DATA/shards/layout.json for `serve --shards`, and a different layout is refused.

    With --role, one process of the multi-host form: `--role documents` is the documents stage alone
    (DATA/index), `--role shard --shard S --replica R` one shard indexer alone (DATA/shards/S.R/index);
    they meet through Kafka, so every command of a deployment gives the same --shards, --replicas,
    --partitions, --kafka and --topic.
    """
    import indexer
    from indexer.daemon import StorageFailure
    from indexer.lock import IndexLocked
    from vocabulary.shards import find_layout

    if role is not None:
        _index_role(data, role, shard, replica, once, bootstrap, topic, batch_size, shards, replicas, partitions)
        return
    if shard is not None:
        raise click.UsageError("--shard names the shard of --role shard")
    batch_size = batch_size or 5000
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


def _layout(data: Path, shards: int, replicas: int, partitions: int, bootstrap: str | None, topic: str):
    """The layout the flags describe, recorded under `data` (indexer.local.lay_out)."""
    from firehose.endpoint import Endpoint
    from indexer.local import lay_out
    from vocabulary.shards import Layout, LayoutConflict

    try:
        layout = Layout(shards, replicas, partitions, Endpoint(data, bootstrap, topic).source)
    except ValueError as exc:
        raise click.ClickException(f"bad layout: {exc}: --partitions must be at least --shards") from None
    try:
        lay_out(data, layout)
    except LayoutConflict as exc:
        raise click.ClickException(str(exc)) from None
    return layout


def _index_role(data: Path, role: str, shard: int | None, replica: int, once: bool, bootstrap: str | None,
                topic: str, batch_size: int | None, shards: int | None, replicas: int,
                partitions: int | None) -> None:
    """`index --role documents|shard`: one process of the multi-host form, on this host's --data."""
    from indexer.changes import ChangesStreamError
    from indexer.daemon import StorageFailure
    from indexer.lock import IndexLocked

    if shards is None or bootstrap is None:
        raise click.UsageError("--role needs --shards N and --kafka BOOTSTRAP: the hosts meet through Kafka")
    if role == "shard" and shard is None:
        raise click.UsageError("--role shard needs --shard S (and --replica R when there are replicas)")
    if role == "documents" and shard is not None:
        raise click.UsageError("--shard names the shard of --role shard")
    if role == "shard" and not (shard < shards and replica < replicas):
        raise click.UsageError(f"--shard {shard} --replica {replica} is not among --shards {shards} --replicas {replicas}")
    layout = _layout(data, shards, replicas, partitions or shards, bootstrap, topic)
    try:
        if role == "documents":
            import indexer

            stats = indexer.run(data, once=once, bootstrap=bootstrap, topic=topic, batch_size=batch_size or 5000,
                                partitions=layout.partitions)
            click.echo(f"documents stage: applied {stats.applied} events, dead-lettered {stats.dead_lettered}",
                       err=True)
        else:
            from indexer.shard import run_shard

            stats = run_shard(data, layout, shard, replica, once=once, bootstrap=bootstrap, topic=topic,
                              batch_size=batch_size or 100)
            click.echo(f"shard {shard}.{replica}: applied {stats.applied} changes records, "
                       f"dead-lettered {stats.dead_lettered}", err=True)
    except (IndexLocked, StorageFailure, ChangesStreamError) as exc:
        raise click.ClickException(str(exc)) from None


def _index_shards(data: Path, once: bool, bootstrap: str | None, topic: str, batch_size: int, shards: int,
                  replicas: int, partitions: int) -> None:
    """`index --shards`: record the layout, then run the local form (indexer.local)."""
    from indexer.local import ShardsFailed, run_local

    layout = _layout(data, shards, replicas, partitions, bootstrap, topic)
    try:
        run_local(data, layout, once=once, bootstrap=bootstrap, topic=topic, batch_size=batch_size)
    except ShardsFailed as exc:
        raise click.ClickException(str(exc)) from None


def _shard_urls(values: tuple[str, ...]) -> list[list[str]]:
    """`--shard-urls S=URL[,URL...]`, once per shard -> the replicas' URLs of shards 0..N-1."""
    urls: dict[int, list[str]] = {}
    for value in values:
        number, sep, listed = value.partition("=")
        replicas = [url.strip().rstrip("/") for url in listed.split(",") if url.strip()]
        if not (sep and number.strip().isdigit() and replicas):
            raise click.BadParameter(f"{value!r} is not S=URL[,URL...]", param_hint="--shard-urls")
        if int(number) in urls:
            raise click.BadParameter(f"shard {int(number)} is given twice", param_hint="--shard-urls")
        urls[int(number)] = replicas
    if sorted(urls) != list(range(len(urls))):
        raise click.BadParameter(f"shards {sorted(urls)} given: every shard 0..N-1 once", param_hint="--shard-urls")
    return [urls[s] for s in range(len(urls))]


@main.command()
@_data_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="uvicorn worker processes.")
@click.option("--with-indexer", is_flag=True, help="Also run the indexer on the embedded firehose.")
@click.option("--shards", type=click.IntRange(min=1), default=None,
              help="Serve the N index shards of `index --shards N` (one process per replica) behind this API as their aggregator.")
@click.option("--role", type=click.Choice(["shard", "aggregator"]),
              help="Multi-host form: serve one shard replica's index to the aggregators (--shard S --replica R), "
                   "or the public API as the aggregator of remote shard servers (--shard-urls).")
@_role_shard
@_role_replica
@click.option("--shard-urls", "shard_urls", multiple=True, metavar="S=URL[,URL...]",
              help="With --role aggregator, once per shard: shard S's replicas (their `serve --role shard`), tried in "
                   "this order.")
@click.option("--partitions", type=click.IntRange(min=1),
              help="With --role aggregator: the changes stream's partitions, as given to `index` (default N).")
def serve(data: Path, host: str, port: int, workers: int, with_indexer: bool, shards: int | None, role: str | None,
          shard: int | None, replica: int, shard_urls: tuple[str, ...], partitions: int | None) -> None:
    """Serve the HTTP API (docs/http-api.md). Keys come from UNICORN_API_KEYS="KEY:admin,KEY2:search".

    Without any key (UNICORN_API_KEYS or UNICORN_API_KEYS_FILE) it starts, so that health checks and
    metrics answer, and warns on stderr that every API call will be refused.

    With --role, one process of the multi-host form: `--role shard --shard S --replica R` serves
    DATA/shards/S.R/index (written by `index --role shard` on this host) to the aggregators, an internal
    API without keys for a private network; `--role aggregator --shard-urls 0=URL,URL --shard-urls 1=URL ...`
    serves the public API over those shard servers and needs no data directory.
    """
    import api
    from api.server import serve_aggregator, serve_shard
    from indexer.lock import IndexLocked

    if role is not None and with_indexer:
        raise click.UsageError("--with-indexer runs the local form's indexer; with --role run `unicorn index --role`")
    if role != "shard" and shard is not None:
        raise click.UsageError("--shard names the shard of --role shard")
    if role != "aggregator" and (shard_urls or partitions is not None):
        raise click.UsageError("--shard-urls and --partitions are for --role aggregator")
    try:
        if role == "shard":
            if shard is None:
                raise click.UsageError("--role shard needs --shard S (and --replica R when there are replicas)")
            serve_shard(data, shard, replica, host=host, port=port)
        elif role == "aggregator":
            if not shard_urls:
                raise click.UsageError("--role aggregator needs --shard-urls S=URL[,URL...] for every shard")
            urls = _shard_urls(shard_urls)
            if shards is not None and shards != len(urls):
                raise click.UsageError(f"--shards {shards}, but --shard-urls names {len(urls)} shards")
            if (partitions or len(urls)) < len(urls):
                raise click.UsageError(f"--partitions {partitions} is fewer than the {len(urls)} shards")
            serve_aggregator(urls, partitions or len(urls), host=host, port=port, workers=workers)
        else:
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
