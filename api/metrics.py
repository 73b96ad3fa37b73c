"""Prometheus metrics: requests and latency per endpoint (RequestMetrics, a Starlette middleware),
index size and firehose lag.

With several uvicorn workers or the indexer beside the server, `serve` sets PROMETHEUS_MULTIPROC_DIR
before those processes start; each writes its metrics there and `/metrics` merges them (the
indexer's own `unicorn_indexer_*` included). Index size and firehose lag are read from the data
directory when scraped, so any worker reports them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5)


class _State(Collector):
    """Gauges computed at scrape time from `read()`: {"index_size_bytes", "index_generation", "firehose_lag"}."""

    def __init__(self, read: Callable[[], dict]) -> None:
        self._read = read

    def collect(self):
        state = self._read()
        for name, text in (("index_size_bytes", "Size of the LMDB index on disk"),
                           ("index_generation", "Committed index generation"),
                           ("firehose_lag", "Firehose events not yet indexed")):
            if state.get(name) is not None:
                yield GaugeMetricFamily(f"unicorn_{name}", text, value=state[name])


class Metrics:
    def __init__(self, read_state: Callable[[], dict]) -> None:
        # counters go to PROMETHEUS_MULTIPROC_DIR files when that was set before prometheus_client was imported
        self.in_files = values.ValueClass is not values.MutexValue
        self.requests = Counter("unicorn_http_requests", "HTTP requests by endpoint and status",
                                ["endpoint", "method", "status"], registry=None)
        self.latency = Histogram("unicorn_http_request_seconds", "HTTP request latency by endpoint",
                                 ["endpoint"], buckets=BUCKETS, registry=None)
        self._state = _State(read_state)

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, method, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def render(self) -> bytes:
        """This process's metrics, every process's in PROMETHEUS_MULTIPROC_DIR (workers, indexer), and the state."""
        registry = CollectorRegistry()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            MultiProcessCollector(registry)
        if not self.in_files:
            registry.register(self.requests)
            registry.register(self.latency)
        registry.register(self._state)
        return generate_latest(registry)


class RequestMetrics:
    """Middleware that counts every HTTP response and its latency under the path of the route that
    matched it ("other" when none did): `Middleware(RequestMetrics, metrics=...)`."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        endpoint = _endpoint(scope)
        started = time.perf_counter()
        status = 500

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            self.metrics.observe(endpoint, scope["method"], status, time.perf_counter() - started)


def _endpoint(scope: Scope) -> str:
    for route in scope["app"].routes:
        if route.matches(scope)[0] != Match.NONE:
            return route.path if isinstance(route, Route) else f"{route.path}/"
    return "other"
