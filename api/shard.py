"""One replica of an index shard served to the aggregator: an internal HTTP app on 127.0.0.1, and the replicas of
a layout as processes.

    python -m api.shard_server --index DATA/shards/0.0/index --port 9100   # the server
    HttpShard("http://127.0.0.1:9100")                                  # its client (unicorn.shard_http)

The calls' wire form is unicorn.shard_http's. `GET /ready` answers once the index is open.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from indexer.store import Index
from unicorn.aggregator import Aggregator
from unicorn.engine import Engine
from unicorn.errors import QueryError
from unicorn.shard import LocalShard
from unicorn.shard_http import ARGS, MSGPACK, HttpShard, carried, decode_args, encode
from vocabulary.shards import Layout

KEEP_ALIVE_S = 300  # an idle aggregator connection stays open this long
RESTART_POLL_S = 0.2  # how often `Replicas` looks for a replica that exited
def create_app(index_path: Path):
    """The shard's ASGI app: `POST /call/NAME` and `GET /ready`, with nothing between uvicorn and the call."""
    index = Index(index_path, readonly=True)
    engine = Engine(index)
    engine.warm()
    shard = LocalShard(engine)

    async def app(scope: dict, receive, send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/ready":
            return await _respond(send, 200, b"ready", b"text/plain")
        name = path.removeprefix("/call/")
        if scope["method"] != "POST" or not path.startswith("/call/") or name not in ARGS:
            return await _respond(send, 404, encode({"code": "not_found", "message": f"no call {path!r}"}))
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            # the engine's work: short; this process serves one aggregator
            gen, result = getattr(shard, name)(*decode_args(name, body))
        except QueryError as exc:
            return await _respond(send, 400, encode({"code": exc.code, "message": exc.message}))
        await _respond(send, 200, encode((gen, carried(name, result))))

    return app


async def _respond(send, status: int, body: bytes, media_type: bytes = MSGPACK) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", media_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str] | None = None) -> None:
    """`python -m api.shard_server --index PATH --port PORT`."""
    parser = argparse.ArgumentParser(description="Serve one replica of an index shard to the aggregator.")
    parser.add_argument("--index", required=True, type=Path)
    parser.add_argument("--port", required=True, type=int)
    args = parser.parse_args(argv)
    uvicorn.run(create_app(args.index), host="127.0.0.1", port=args.port, access_log=False, log_level="warning",
                timeout_keep_alive=KEEP_ALIVE_S, lifespan="off")


SHARDS_ENV = "UNICORN_SHARDS"  # JSON {"partitions": P, "replicas": [[url, ...] per shard]}: serve as their aggregator


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Replicas:
    """The shard servers of a layout, one process per replica of each shard, stopped together. With `restart`,
    a replica that exits is started again on its port (the aggregator's other replicas answer meanwhile)."""

    def __init__(self, data: Path, layout: Layout, restart: bool = True) -> None:
        self.layout = layout
        self.processes: list[subprocess.Popen] = []
        self.urls: list[list[str]] = []
        self._commands: list[list[str]] = []
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        try:
            for s in range(layout.shards):
                self.urls.append([])
                for r in range(layout.replicas):
                    port = _free_port()
                    index = layout.index(data, s, r)
                    self._commands.append([sys.executable, "-m", "api.shard_server", "--index", str(index),
                                           "--port", str(port)])
                    self.processes.append(subprocess.Popen(self._commands[-1]))
                    self.urls[-1].append(f"http://127.0.0.1:{port}")
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        if restart:
            self._watcher = threading.Thread(target=self._watch, name="shard-replicas", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        while not self._stopping.wait(RESTART_POLL_S):
            for n, process in enumerate(self.processes):
                if process.poll() is not None and not self._stopping.is_set():
                    self.processes[n] = subprocess.Popen(self._commands[n])

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        for url, process in zip((u for urls in self.urls for u in urls), self.processes):
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the shard server for {url} exited with {process.returncode}")
                try:
                    if httpx.get(f"{url}/ready", timeout=1.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the shard server for {url} was not ready in {timeout_s:g} s")
                time.sleep(0.05)

    def env(self) -> str:
        return json.dumps({"partitions": self.layout.partitions, "replicas": self.urls})

    def stop(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def aggregator_from_env() -> Aggregator | None:
    """The aggregator over the shard servers that `UNICORN_SHARDS` names, or None when it is unset."""
    raw = os.environ.get(SHARDS_ENV)
    if not raw:
        return None
    spec = json.loads(raw)
    return Aggregator([[HttpShard(url) for url in urls] for urls in spec["replicas"]], spec["partitions"])
