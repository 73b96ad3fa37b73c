"""One replica of an index shard served to the aggregator: an internal HTTP app on 127.0.0.1, and the replicas of
a layout as processes.

    python -m api.shard_server --index DATA/shards/0.0/index --port 9100   # the server
    HttpShard("http://127.0.0.1:9100")                                  # its client (unicorn.shard_http)

The calls' wire form is unicorn.shard_http's. `GET /ready` answers once the index is open.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn

from indexer.store import Index
from unicorn.aggregator import Aggregator
from unicorn.engine import Engine
from unicorn.errors import QueryError
from unicorn.shard import LocalShard
from unicorn.shard_http import ARGS, MSGPACK, HttpShard, carried, decode_args, encode, wait_ready
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


def serve(index_path: Path, host: str = "127.0.0.1", port: int = 0, port_file: Path | None = None,
          log_level: str = "warning") -> None:
    """Serve one replica on `host`:`port`; with port 0 the system picks a free port. The socket listens before
    the index opens, and its port is then written to `port_file` (atomically) when given."""
    sock = socket.create_server((host, port))
    if port_file is not None:
        tmp = port_file.with_name(f".{port_file.name}.tmp")
        tmp.write_text(str(sock.getsockname()[1]))
        os.replace(tmp, port_file)
    config = uvicorn.Config(create_app(index_path), host=host, port=port, access_log=False, log_level=log_level,
                            timeout_keep_alive=KEEP_ALIVE_S, lifespan="off")
    # uvicorn names no address for a socket it was given
    logging.getLogger("uvicorn.error").info("Uvicorn running on http://%s:%d", host, sock.getsockname()[1])
    uvicorn.Server(config).run(sockets=[sock])


def main(argv: list[str] | None = None) -> None:
    """`python -m api.shard_server --index PATH [--port PORT] [--port-file FILE]`."""
    parser = argparse.ArgumentParser(description="Serve one replica of an index shard to the aggregator.")
    parser.add_argument("--index", required=True, type=Path)
    parser.add_argument("--port", default=0, type=int, help="0 (the default): a free port, see --port-file")
    parser.add_argument("--port-file", type=Path, help="write the port listened on to this file")
    args = parser.parse_args(argv)
    serve(args.index, port=args.port, port_file=args.port_file)


SHARDS_ENV = "UNICORN_SHARDS"  # JSON {"partitions": P, "replicas": [[url, ...] per shard]}: serve as their aggregator


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
            with tempfile.TemporaryDirectory(prefix="unicorn-shard-ports-") as ports:
                port_files = []
                for s in range(layout.shards):
                    for r in range(layout.replicas):
                        port_files.append(Path(ports) / f"{s}.{r}")
                        self._commands.append([sys.executable, "-m", "api.shard_server", "--index",
                                               str(layout.index(data, s, r))])
                        self.processes.append(subprocess.Popen([*self._commands[-1], "--port-file",
                                                                str(port_files[-1])]))
                for n, port in enumerate(self._ports(port_files)):
                    self._commands[n] += ["--port", str(port)]  # a restart listens where the aggregator calls
                    if n % layout.replicas == 0:
                        self.urls.append([])
                    self.urls[-1].append(f"http://127.0.0.1:{port}")
            wait_ready(list(zip((u for urls in self.urls for u in urls), self.processes)))
        except BaseException:
            self.stop()
            raise
        if restart:
            self._watcher = threading.Thread(target=self._watch, name="shard-replicas", daemon=True)
            self._watcher.start()

    def _ports(self, port_files: list[Path], timeout_s: float = 60.0) -> list[int]:
        """The port each server wrote once listening."""
        deadline = time.monotonic() + timeout_s
        ports = []
        for port_file, process in zip(port_files, self.processes):
            while not port_file.exists():
                if process.poll() is not None:
                    raise RuntimeError(f"the shard server {port_file.name} exited with {process.returncode}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the shard server {port_file.name} did not listen in {timeout_s:g} s")
                time.sleep(0.02)
            ports.append(int(port_file.read_text()))
        return ports

    def _watch(self) -> None:
        while not self._stopping.wait(RESTART_POLL_S):
            for n, process in enumerate(self.processes):
                if process.poll() is not None and not self._stopping.is_set():
                    self.processes[n] = subprocess.Popen(self._commands[n])

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
