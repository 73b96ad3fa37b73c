"""`unicorn serve`: uvicorn over the app, with 1..N worker processes and, optionally, the indexer.

Every worker opens the same LMDB index read-only (readers share the page cache and never block
the writer). With several workers or the indexer, Prometheus metrics go through
PROMETHEUS_MULTIPROC_DIR so `/metrics` reports every process. `--with-indexer` runs
`unicorn index` as a child process, which takes the index's writer lock. SIGTERM and SIGINT
stop the server, then the child (SIGTERM, its graceful shutdown), then this process dies of
the same signal: a stopped service leaves nothing running.

The roles of the multi-host form (README "Sharded and multi-host"): `serve_shard` serves one replica of
one index shard to the aggregators (api/shard.py), `serve_aggregator` the public API over shard servers
named by URL.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from api import logs
from api import shard as shard_server
from api.auth import keys_from_env
from api.shard import SHARDS_ENV, Replicas
from indexer.store import Index, StoreError
from vocabulary.shards import Layout, find_layout

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
CHILD_STOP_SECONDS = 30


class Stopped(BaseException):
    """SIGTERM or SIGINT reached the service; raised so every `finally` on the way out runs."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum: int, _frame: object) -> None:
    raise Stopped(signum)


@contextmanager
def stopping_on_signals() -> Iterator[None]:
    """Turn SIGTERM/SIGINT into Stopped within the block; after cleanup, die of that signal.

    uvicorn handles the signals while it serves, restores these handlers and re-raises the
    signal when it returns, so the block is left through Stopped either way.
    """
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in STOP_SIGNALS}
    try:
        yield
    except Stopped as stopped:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.raise_signal(stopped.signum)
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_writer_free(data: Path) -> None:
    """Refuse to start when another process writes the index (the child takes the lock itself)."""
    from indexer.lock import writer_lock
    from vocabulary import paths

    with writer_lock(paths.index(data)):
        pass


def start_indexer(data: Path, layout: Layout | None = None) -> subprocess.Popen:
    """`unicorn index` on `data` as a child process; with `layout`, its sharded form."""
    sharded = [] if layout is None else ["--shards", str(layout.shards), "--replicas", str(layout.replicas),
                                         "--partitions", str(layout.partitions)]
    return subprocess.Popen([sys.executable, "-m", "console.cli", "index", "--data", str(data), *sharded])


def stop_child(child: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it has not exited within CHILD_STOP_SECONDS; reaped either way."""
    ignored = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}  # a second signal must not cut this short
    try:
        child.terminate()
        try:
            child.wait(CHILD_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    finally:
        for sig, handler in ignored.items():
            signal.signal(sig, handler)


def warn_without_keys() -> None:
    """Log a warning when no API key is configured: the service starts (health checks and metrics
    answer), but every API call will be refused."""
    if not keys_from_env():
        logs.configure()
        logging.getLogger("unicorn.serve").warning(
            "no API key is configured: every API call will be refused with 401 unauthorized; "
            "set UNICORN_API_KEYS=\"KEY:admin,KEY2:search\" or UNICORN_API_KEYS_FILE (docs/configuration.md). "
            "/healthz, /readyz, /metrics and /docs answer without a key")


def serve(data: Path, host: str = "127.0.0.1", port: int = 8080, workers: int = 1, with_indexer: bool = False,
          shards: int | None = None) -> None:
    """With `shards`, the index shards of DATA/shards/layout.json are served by one process per replica
    (api/shard.py) and the API is their aggregator (unicorn.aggregator)."""
    warn_without_keys()
    os.environ["UNICORN_DATA"] = str(Path(data).resolve())
    layout = None
    if shards is not None:
        layout = find_layout(data)
        if layout is None:
            raise ValueError(f"{data} holds no index shards: run `unicorn index --shards {shards}` on it first")
        if layout.shards != shards:
            raise ValueError(f"{data} holds {layout.shards} shards, not {shards}")
    if with_indexer:
        _check_writer_free(Path(data))
    metrics_dir = child = replicas = None
    with stopping_on_signals():
        try:
            if shards is not None:
                replicas = Replicas(Path(data), layout)
                os.environ[SHARDS_ENV] = replicas.env()
            metrics_dir = _metrics_dir(workers > 1 or with_indexer)
            if with_indexer:
                child = start_indexer(Path(data), layout)
            _run_api(host, port, workers)
        finally:
            if replicas is not None:
                replicas.stop()
            if child is not None:
                stop_child(child)
            if metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)


def _metrics_dir(shared: bool) -> str | None:
    """A PROMETHEUS_MULTIPROC_DIR made for this service when metrics are `shared` between processes and none
    is configured; the caller removes it."""
    if not shared or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    made = tempfile.mkdtemp(prefix="unicorn-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
    return made


def _run_api(host: str, port: int, workers: int) -> None:
    uvicorn.run("api.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                access_log=False, log_level="info", log_config=logs.config())


def serve_aggregator(shard_urls: list[list[str]], partitions: int, host: str = "127.0.0.1", port: int = 8080,
                     workers: int = 1) -> None:
    """The public API as the aggregator of remote shard servers: `shard_urls[s]` are the URLs of shard s's
    replicas (each `unicorn serve --role shard`), `partitions` the changes stream's. It reads no data directory."""
    warn_without_keys()
    os.environ[SHARDS_ENV] = json.dumps({"partitions": partitions, "replicas": shard_urls})
    metrics_dir = None
    with stopping_on_signals():
        try:
            metrics_dir = _metrics_dir(workers > 1)
            _run_api(host, port, workers)
        finally:
            if metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)


INDEX_POLL_S = 0.2


def serve_shard(data: Path, shard: int, replica: int, host: str = "127.0.0.1", port: int = 9100) -> None:
    """One replica of one index shard served to the aggregators, from DATA/shards/S.R/index, which the shard
    indexer on this host (`unicorn index --role shard`) writes; it waits for that index to be created."""
    layout = find_layout(data)
    if layout is None:
        raise ValueError(f"{data} holds no index shards: run `unicorn index --role shard` on it first")
    index = layout.index(data, shard, replica)
    if not _openable(index):
        logs.configure()
        logging.getLogger("unicorn.serve").warning("waiting for %s: its shard indexer has not created it yet", index)
    while not _openable(index):
        time.sleep(INDEX_POLL_S)
    shard_server.serve(index, host, port, log_level="info")


def _openable(index: Path) -> bool:
    if not Index.exists(index):
        return False
    try:
        Index(index, readonly=True).close()
    except StoreError:  # its indexer is still creating it
        return False
    return True
