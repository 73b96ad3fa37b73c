"""One replica of an index shard served to the aggregator: an internal HTTP app on 127.0.0.1, and its client.

    python -m api.shard_server --index DATA/shards/0.0/index --port 9100   # the server
    HttpShard("http://127.0.0.1:9100")                                  # a unicorn.shard.Shard for the aggregator

Each call of unicorn.shard.Shard is `POST /call/NAME` with the msgpack of its arguments (a viewer context
as unicorn.context encodes it) and answers the msgpack of its (generation, result); a refused request answers 400
with {"code", "message"} and the client raises the same QueryError. The client keeps its connections
alive and turns a transport failure or a 5xx into unicorn.aggregator.Unavailable, so the aggregator
asks another replica. `GET /ready` answers once the index is open.
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
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import uvicorn

from indexer.store import Index
from unicorn.aggregator import Aggregator, Unavailable
from unicorn.context import ViewerContext
from unicorn.engine import Engine
from unicorn.errors import QueryError
from unicorn.shard import LocalShard
from vocabulary.shards import Layout

MSGPACK = "application/msgpack"
KEEP_ALIVE_S = 300  # an idle aggregator connection stays open this long
RESTART_POLL_S = 0.2  # how often `Replicas` looks for a replica that exited
Ctx = ViewerContext | None
# each call's arguments, decoded in one pass (a viewer context as its Struct)
ARGS = {"viewer_part": tuple[int], "hashtag_part": tuple[Ctx], "private_users": tuple[list[int]],
        "search": tuple[str, list, Ctx, int, str, float],
        "candidates": tuple[str, list, Ctx, int, list, list, bool, float],
        "extract": tuple[str, list, Ctx, float],
        "typeahead": tuple[str, Ctx, int | None, int, list[str], str, float],
        "document": tuple[str, int | str, Ctx, int | None], "trending": tuple[str, Ctx, int | None]}
CALLS = tuple(ARGS)
_decoders = {name: msgspec.msgpack.Decoder(args) for name, args in ARGS.items()}
_encoder = msgspec.msgpack.Encoder()
_answer: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(ext_hook=lambda code, data: _ext(code, data))
INT64_MIN = -(2**63)
BIG_NEGATIVE = 1  # msgpack extension code of an int below INT64_MIN (a media's -id in a sort key), as decimal text


def _key(key: tuple) -> tuple:
    """A sort key msgpack can carry: ints below INT64_MIN as BIG_NEGATIVE extensions."""
    if all(not isinstance(v, int) or v >= INT64_MIN for v in key):
        return key
    return tuple(msgspec.msgpack.Ext(BIG_NEGATIVE, str(v).encode()) if isinstance(v, int) and v < INT64_MIN else v
                 for v in key)


def _carried(name: str, result):
    """`result` with its sort keys made carriable (`_key`)."""
    if name in ("search", "typeahead"):
        result["keys"] = [_key(k) for k in result["keys"]]
    elif name == "candidates":
        result["rows"] = [(_key(k), ext, bits) for k, ext, bits in result["rows"]]
    return result


def _ext(code: int, data: memoryview) -> int:
    if code != BIG_NEGATIVE:
        raise ValueError(f"unknown msgpack extension {code}")
    return int(bytes(data).decode())


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
            return await _respond(send, 404, _encoder.encode({"code": "not_found", "message": f"no call {path!r}"}))
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            # the engine's work: short; this process serves one aggregator
            gen, result = getattr(shard, name)(*_decoders[name].decode(body))
        except QueryError as exc:
            return await _respond(send, 400, _encoder.encode({"code": exc.code, "message": exc.message}))
        await _respond(send, 200, _encoder.encode((gen, _carried(name, result))))

    return app


async def _respond(send, status: int, body: bytes, media_type: bytes = MSGPACK.encode()) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", media_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class _Connection:
    """One keep-alive HTTP/1.1 connection to a shard server, speaking only what its app answers: a status line,
    headers with content-length, and a body (a leaner client than http.client, whose header parsing costs more
    than the rest of a call)."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")
        self.host = host.encode()

    def post(self, name: str, body: bytes) -> tuple[int, bytes]:
        head = (b"POST /call/%s HTTP/1.1\r\nhost: %s\r\ncontent-type: application/msgpack\r\ncontent-length: %d\r\n\r\n"
                % (name.encode(), self.host, len(body)))
        self.sock.sendall(head + body)
        status_line = self.file.readline()
        if not status_line:
            raise ConnectionError("the shard server closed the connection")
        length = None
        while (line := self.file.readline()) not in (b"\r\n", b""):
            field, _, value = line.partition(b":")
            if field.lower() == b"content-length":
                length = int(value)
        parts = status_line.split(None, 2)
        if length is None or len(parts) < 2 or not parts[1].isdigit():
            raise ConnectionError(f"an answer the shard client does not read: {status_line!r}")
        body = self.file.read(length)
        if len(body) != length:
            raise ConnectionError("the shard server closed the connection within an answer")
        return int(parts[1]), body

    def close(self) -> None:
        self.file.close()
        self.sock.close()


class HttpShard:
    """unicorn.shard.Shard over one replica's HTTP app: a keep-alive connection per calling thread (`_Connection`,
    see ARCHITECTURE.md), made again once when a kept one turns out closed; the calls only read, so sending one
    again is harmless."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        split = urlsplit(self.url)
        self._host, self._port, self._timeout = split.hostname, split.port, timeout_s
        self._local = threading.local()
        self._made: list[_Connection] = []
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            for conn in self._made:
                conn.close()
            self._made.clear()

    def _connection(self) -> _Connection:
        conn = self._local.conn = _Connection(self._host, self._port, self._timeout)
        with self._lock:
            self._made.append(conn)
        return conn

    def _drop(self, conn: _Connection) -> None:
        conn.close()
        with self._lock:
            if conn in self._made:
                self._made.remove(conn)

    def _post(self, name: str, body: bytes) -> tuple[int, bytes]:
        conn = getattr(self._local, "conn", None)
        failure: Exception | None = None
        for kept in ((True, False) if conn is not None else (False,)):
            try:
                conn = conn if kept else self._connection()
                return conn.post(name, body)
            except OSError as exc:
                if conn is not None:
                    self._drop(conn)
                self._local.conn = conn = None
                failure = exc
        raise Unavailable(f"{self.url}: {failure!r}") from failure

    def _call(self, name: str, *args):
        status, raw = self._post(name, _encoder.encode(args))
        if status >= 500:
            raise Unavailable(f"{self.url}: HTTP {status}")
        body = _answer.decode(raw)
        if status != 200:
            raise QueryError(body["code"], body["message"])
        return body

    def __getattr__(self, name: str):
        if name not in CALLS:
            raise AttributeError(name)
        return lambda *args: self._call(name, *args)


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
