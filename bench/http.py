"""HTTP typeahead load over loopback: p50/p99 latency and requests/s at 1 and 16 connections, with
1 and 2 uvicorn workers (`api.serve`) sharing one read-only LMDB index; and, as the baseline, the
same typeahead requests in-process.

    python3 -m bench.http [--scale M] [--seconds 10] [--connections 1,16] [--workers 1,2]

The index is the harness's (DATA/index, open in its process) when it runs this scenario, else bench/engine.py's (built
once into /tmp/unicorn-bench-engine-SCALE and reused).
Requests are social typeaheads: one of 1,000 viewers with followees types a 1-5 character prefix
of a random user's username, made by the typed client (unicorn_client), as the platform's web
tier would. The load generator is wrk (Debian package `wrk`) when installed, replaying the
client's requests, else the client itself in a closed loop (which takes CPU from the server on a
small machine). Each server is warmed with WARM_S seconds of the same load before measuring. Each
load reports the share of the machine's cores used by wrk itself and by the server's processes.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import httpx
import orjson

from bench.engine import build
from bench.options import COMMA_INTS
from bench.servers import free_port
from bench.timing import percentiles
from indexer.store import Index
from unicorn.engine import Engine
from unicorn_client import AsyncClient, Client, UnicornError
from vocabulary import paths, terms

KEY = "bench-http-key"
TIMEOUT_MS = 60_000  # in-process: measure a slow first request (the link columns' first load at M) rather than fail
# Each worker's first requests that need a viewer's hashtags load the media link columns (15-20 s of
# CPU at M, which the server's warm-up does not do yet): the load before measuring covers it.
WARM_S = 40.0
REQUESTS = 40_000  # more than a run sends, so that a request is rarely repeated
WRK_SCRIPT = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i], {["Authorization"] = "Bearer %(key)s"})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %%d, "duration_us": %%d, "errors": %%d, "non_2xx": %%d, ' ..
    '"p50_us": %%d, "p99_us": %%d}\\n', summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status, latency:percentile(50), latency:percentile(99)))
end
"""


def workload(index, n: int, seed: int) -> list[tuple[str, int]]:
    """(typed prefix, viewer) pairs."""
    rng = random.Random(seed)
    with index.reader() as view:
        live = list(view.posting("user", terms.LIVE))
        viewers = [u for u in (view.ext("user", i) for i in rng.sample(live, min(3000, len(live))))
                   if len(view.posting("user", terms.following(u)))][:1000]
        names = [view.doc("user", i)["username"] for i in rng.sample(live, min(3000, len(live)))]
    return [(rng.choice(names)[: rng.randint(1, 5)], rng.choice(viewers)) for _ in range(n)]


def in_process(index, warm: list[tuple[str, int]], measured: list[tuple[str, int]]) -> dict:
    """Readied as the server readies it, warmed with one set of requests (the same viewers' circles, postings,
    rank columns), timed on another."""
    engine = Engine(index)
    engine.warm()
    for q, viewer in warm:
        engine.typeahead(q, viewer, timeout_ms=TIMEOUT_MS)
    samples = []
    for q, viewer in measured:
        started = time.perf_counter()
        engine.typeahead(q, viewer, timeout_ms=TIMEOUT_MS)
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


class Server:
    """`api.serve` in a child process on a free loopback port."""

    def __init__(self, data: Path, workers: int, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "UNICORN_API_KEYS": f"{KEY}:search", "UNICORN_SLOW_MS": "1000", **(env or {})}
        code = f"import api; api.serve({str(data)!r}, host='127.0.0.1', port={self.port}, workers={workers})"
        self.process = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        try:
            self._wait_until_ready(deadline=time.monotonic() + 300)
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self, deadline: float) -> None:
        with Client(self.url, KEY) as client:
            while time.monotonic() < deadline:
                try:
                    client.ready()
                    return
                except (UnicornError, httpx.TransportError):
                    pass
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited with {self.process.returncode}")
                time.sleep(0.2)
        raise RuntimeError("the server did not become ready")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children that exited (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _server_cpu_seconds(server: Server) -> float:
    """CPU seconds of the server process and its live worker processes."""
    pids = [server.process.pid]
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    return sum(_cpu_seconds(pid) for pid in pids if Path(f"/proc/{pid}").exists())


def _wrk(url: str, path_file: Path, connections: int, seconds: float) -> dict:
    """wrk's figures, and the share of the machine's cores that wrk itself used."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"paths": path_file, "key": KEY})
    try:
        threads = min(connections, 2)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
                              "-s", script.name, url], capture_output=True, text=True, check=True).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        os.unlink(script.name)
    raw = orjson.loads(out.strip().splitlines()[-1])
    wrk_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    duration = raw["duration_us"] / 1e6
    return {"p50_ms": round(raw["p50_us"] / 1000, 3), "p99_ms": round(raw["p99_us"] / 1000, 3),
            "requests_per_s": round(raw["requests"] / duration, 1),
            "errors": raw["errors"] + raw["non_2xx"], "threads": threads,
            "wrk_cpu_share_of_cores": round(wrk_cpu / (duration * os.cpu_count()), 3)}


async def _client_loop(url: str, requests: list[tuple[str, int]], connections: int, seconds: float) -> dict:
    samples: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with AsyncClient(url, KEY, http=httpx.AsyncClient(base_url=url, limits=limits)) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def one_connection(offset: int) -> None:
            nonlocal errors
            i = offset
            while time.perf_counter() < deadline:
                q, viewer = requests[i % len(requests)]
                sent = time.perf_counter()
                try:
                    await client.typeahead(q, viewer)
                except UnicornError:
                    errors += 1
                samples.append((time.perf_counter() - sent) * 1000)
                i += 1

        await asyncio.gather(*(one_connection(c * 97) for c in range(connections)))
        elapsed = time.perf_counter() - started
    return {**percentiles(samples), "requests_per_s": round(len(samples) / elapsed, 1), "errors": errors}


def load(server: Server, requests: list[tuple[str, int]], path_file: Path, connections: int, seconds: float) -> dict:
    """One load of `connections` over `seconds`; with the server's share of the cores and the load average."""
    server_cpu, started, load_before = _server_cpu_seconds(server), time.perf_counter(), os.getloadavg()[0]
    if shutil.which("wrk"):
        figures = {"generator": "wrk", **_wrk(server.url, path_file, connections, seconds)}
    else:
        figures = {"generator": "unicorn_client",
                   **asyncio.run(_client_loop(server.url, requests, connections, seconds))}
    elapsed = time.perf_counter() - started
    figures["server_cpu_share_of_cores"] = round((_server_cpu_seconds(server) - server_cpu)
                                                 / (elapsed * os.cpu_count()), 3)
    figures["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return figures


def request_paths(requests: list[tuple[str, int]]) -> list[str]:
    """The typed client's typeahead requests as the path and query string wrk sends."""
    with Client("http://127.0.0.1", KEY) as client:
        return [client.requests.typeahead(q, viewer).url.raw_path.decode() for q, viewer in requests]


def run(scale: str = "M", seconds: float = 10, connections: tuple[int, ...] = (1, 16),
        workers: tuple[int, ...] = (1, 2), seed: int = 0, index: Index | None = None) -> dict:
    """`index`: an open index of (scale, seed), left open (default: bench/engine.py's, built when absent)."""
    opened = index is None
    if opened:
        index = build(Path(f"/tmp/unicorn-bench-engine-{scale}"), scale, seed)
    requests = workload(index, REQUESTS, seed)
    report: dict = {"scale": scale, "seconds": seconds, "in_process": in_process(index, requests[:5000], requests[5000:10000])}
    index_dir = Path(index.path).resolve()
    if opened:
        index.close()
    data = Path(tempfile.mkdtemp(prefix="unicorn-bench-http-"))
    paths.index(data).symlink_to(index_dir, target_is_directory=True)
    path_file = data / "paths.txt"
    path_file.write_text("\n".join(request_paths(requests)) + "\n")
    try:
        for count in workers:
            server = Server(data, count)
            try:
                load(server, requests, path_file, 2 * count, WARM_S)  # warm every worker
                for conns in connections:
                    report[f"workers_{count}_connections_{conns}"] = load(server, requests, path_file, conns, seconds)
            finally:
                server.stop()
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return report


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--scale", default="M", show_default=True, help="Generator scale: S, demo, M or L.")
@click.option("--seconds", default=10.0, show_default=True, help="Load per measurement.")
@click.option("--connections", default="1,16", show_default=True, type=COMMA_INTS, help="Comma-separated.")
@click.option("--workers", default="1,2", show_default=True, type=COMMA_INTS, help="uvicorn workers, comma-separated.")
def main(scale: str, seconds: float, connections: tuple[int, ...], workers: tuple[int, ...]) -> None:
    """HTTP typeahead load over loopback: p50/p99 and requests/s per workers and connections."""
    click.echo(orjson.dumps(run(scale, seconds, connections, workers), option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
