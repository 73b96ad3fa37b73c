"""`unicorn serve`: uvicorn over the app, with 1..N worker processes and, optionally, the indexer.

Every worker opens the same LMDB index read-only (readers share the page cache and never block
the writer). With several workers or the indexer, Prometheus metrics go through
PROMETHEUS_MULTIPROC_DIR so `/metrics` reports every process. `--with-indexer` runs the indexer in one child process, stopped
with SIGTERM (its graceful shutdown) when the server stops.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

import uvicorn


def _run_indexer(data: str) -> None:
    import indexer

    indexer.run(Path(data))


def serve(data: Path, host: str = "127.0.0.1", port: int = 8080, workers: int = 1, with_indexer: bool = False) -> None:
    os.environ["UNICORN_DATA"] = str(Path(data).resolve())
    metrics_dir = None
    if (workers > 1 or with_indexer) and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="unicorn-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    child = None
    if with_indexer:
        child = multiprocessing.get_context("spawn").Process(target=_run_indexer, args=(str(data),),
                                                             name="unicorn-indexer")
        child.start()
    try:
        uvicorn.run("api.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                    access_log=False, log_level="info")
    finally:
        if child is not None:
            child.terminate()
            child.join(30)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
