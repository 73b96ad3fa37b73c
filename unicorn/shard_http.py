"""The shard calls (unicorn.shard.Shard) over HTTP: their wire form, shared by the shard server (api/shard.py) and
the aggregator's client `HttpShard`.

Each call is `POST /call/NAME` with the msgpack of its arguments (a viewer context as its Struct) and answers
the msgpack of (generation, result), sort keys past 64 bits as extensions; a refused request answers 400 with
{"code", "message"}, which the client raises as the same QueryError. The client keeps its connections alive
and turns a transport failure or a 5xx into unicorn.aggregator.Unavailable, so the aggregator asks another
replica.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec

from unicorn.aggregator import Unavailable
from unicorn.context import ViewerContext
from unicorn.errors import QueryError

MSGPACK = b"application/msgpack"
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
INT64_MIN = -(2**63)
BIG_NEGATIVE = 1  # msgpack extension code of an int below INT64_MIN (a media's -id in a sort key), as decimal text


def _key(key: tuple) -> tuple:
    """A sort key msgpack can carry: ints below INT64_MIN as BIG_NEGATIVE extensions."""
    if all(not isinstance(v, int) or v >= INT64_MIN for v in key):
        return key
    return tuple(msgspec.msgpack.Ext(BIG_NEGATIVE, str(v).encode()) if isinstance(v, int) and v < INT64_MIN else v
                 for v in key)


def carried(name: str, result):
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


def decode_args(name: str, raw: bytes) -> tuple:
    return _decoders[name].decode(raw)


def encode(value) -> bytes:
    return _encoder.encode(value)


_answers: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(ext_hook=lambda code, data: _ext(code, data))


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
        body = _answers.decode(raw)
        if status != 200:
            raise QueryError(body["code"], body["message"])
        return body

    def __getattr__(self, name: str):
        if name not in CALLS:
            raise AttributeError(name)
        return lambda *args: self._call(name, *args)


def wait_ready(servers: list[tuple[str, subprocess.Popen]], timeout_s: float = 60.0) -> None:
    """Return once every shard server (url, its process) answers `/ready`; RuntimeError when one exits
    first, TimeoutError past `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    for url, process in servers:
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
