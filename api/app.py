"""The HTTP API of docs/http-api.md over the engine's Searcher (unicorn.searcher).

    app = create_app(Path("unicorn-data"), keys={"k1": "admin", "k2": "search"})

Checks run in this order: key (401), parameters (400), viewer token (401), viewer for a `search`
key (403), index open (503), then the query (400 bad_query, 404, 413, 504). The time budget
counts from the request's arrival.

Viewers: without a viewer secret, the `viewer` parameter is the viewer. With one, a `search` key
must send `X-Viewer-Token` (api.auth.ViewerTokens) and its `sub` is the viewer; a `viewer`
parameter may come too and must equal it. An `admin` key may omit both (no viewer: everything is
visible) or give a bare `viewer` parameter; a token it sends is verified like any other.

Engine work (search, typeahead, documents) runs in worker threads, at most ENGINE_THREADS at
once, never on the event loop: a request that runs to its budget holds one worker, not the
server, so `/healthz` and lighter requests are answered meanwhile (figures in bench/hostile.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import anyio
import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Match, Mount, Route
from starlette.staticfiles import StaticFiles

from api import demo, explorer, openapi, trending
from api.auth import Keys, ViewerTokens, keys_from_env
from api.errors import ApiError, error_response
from api.metrics import Metrics
from api.responses import JSONResponse
from api.service import Service
from api.slowlog import SlowLog
from indexer.store import Index
from unicorn.engine import parse_id
from unicorn.errors import QueryError
from unicorn.query.typecheck import decimal, shown
from unicorn.typeahead import TYPOS
from vocabulary.text import hashtag_name

STATIC = Path(__file__).parent / "static"
MAX_BODY = 64 * 1024
SEARCH_FIELDS = frozenset({"vertical", "query", "viewer", "limit", "order", "explain", "apply_fanout_max"})
TYPEAHEAD_VERTICALS = "user,hashtag,place"
ENGINE_THREADS = 4  # engine calls running at once per process; more wait for a thread
T = TypeVar("T")


def create_app(data: Path | None = None, *, keys: dict[str, str] | None = None, index: Index | None = None,
               timeout_ms: float = 200, slow_ms: float = 100, viewer_secret: str | None = None,
               demo_key: str | None = None) -> Starlette:
    """The ASGI app over the index under `data` (opened when it appears), or over an open `index`.

    `keys` maps API key -> "admin" | "search"; by default they come from the environment (api.auth).
    `viewer_secret` makes viewers come as signed tokens (docs/http-api.md). `demo_key`, a `search` key, turns
    on the demo's login (api.demo), which hands out that key with a token; it needs `viewer_secret`.
    """
    keys = keys_from_env() if keys is None else keys
    service = Service(data, index)
    auth = Keys(keys)
    tokens = None if viewer_secret is None else ViewerTokens(viewer_secret)
    if demo_key is not None and (tokens is None or keys.get(demo_key) != "search"):
        raise ValueError("the demo login needs a viewer secret and a search key to hand out")
    slow = SlowLog(slow_ms)
    metrics = Metrics(service.state)
    engine_threads = anyio.CapacityLimiter(ENGINE_THREADS)

    async def off_loop(what: str, work: Callable[[], T]) -> T:
        """`work()` in a worker thread, watched by the slow log from that thread."""
        def watched() -> T:
            with slow.watch(what):
                return work()
        return await anyio.to_thread.run_sync(watched, limiter=engine_threads)

    def role_of(request: Request) -> str:
        role = auth.role(request.headers.get("authorization"))
        if role is None:
            raise ApiError("unauthorized", "a valid API key is required: Authorization: Bearer KEY")
        return role

    def viewer_of(request: Request, role: str, asserted: int | None) -> int | None:
        """The request's viewer: the `viewer` parameter (`asserted`) or, with a viewer secret, the token's."""
        if tokens is None:
            return asserted
        token = request.headers.get("x-viewer-token")
        if token is None:
            if role == "admin":
                return asserted
            raise ApiError("unauthorized", "a search key must send the viewer as a signed X-Viewer-Token")
        viewer = tokens.viewer(token)
        if asserted is not None and asserted != viewer:
            raise ApiError("unauthorized", "the viewer parameter is not the viewer of the X-Viewer-Token")
        return viewer

    def allow(role: str, viewer: int | None) -> None:
        if viewer is None and role != "admin":
            raise ApiError("forbidden", "a search key must give a viewer")
        if not service.try_open():
            raise ApiError("not_ready", "the index is not open yet")

    async def typeahead(request: Request) -> Response:
        arrived = time.perf_counter()
        role = role_of(request)
        params = request.query_params
        if "q" not in params:
            raise ApiError("bad_request", "missing parameter q")
        viewer = _viewer(params.get("viewer"))
        limit = _int_param(params.get("limit", "10"), "limit")
        verticals = tuple(params.get("verticals", TYPEAHEAD_VERTICALS).split(","))
        typos = params.get("typos", "auto")
        if typos not in TYPOS:
            raise ApiError("bad_request", f"typos must be one of {', '.join(TYPOS)}, got {shown(typos)}")
        viewer = viewer_of(request, role, viewer)
        allow(role, viewer)
        result = await off_loop(f"typeahead q={params['q']!r} viewer={viewer} limit={limit} verticals={verticals} "
                                f"typos={typos!r}",
                                lambda: service.searcher.typeahead(params["q"], viewer, limit, verticals, timeout_ms,
                                                                   arrived, typos))
        return JSONResponse(result.to_dict())

    async def trending_endpoint(request: Request) -> Response:
        role = role_of(request)
        kind, limit = trending.params(request.query_params)
        viewer = viewer_of(request, role, _viewer(request.query_params.get("viewer")))
        allow(role, viewer)
        result = await off_loop(f"trending kind={kind} limit={limit} viewer={viewer}",
                                lambda: service.searcher.trending(kind, limit, viewer))
        return JSONResponse(result)

    async def search(request: Request) -> Response:
        arrived = time.perf_counter()
        role = role_of(request)
        body = await _json_body(request)
        viewer = viewer_of(request, role, _viewer(body.get("viewer")))
        if body.get("order") == "social" and viewer is None:
            raise ApiError("bad_request", 'order "social" needs a viewer')
        allow(role, viewer)
        args = {k: body[k] for k in ("limit", "order", "explain", "apply_fanout_max") if k in body}
        what = f"search vertical={body['vertical']!r} viewer={viewer} query={orjson.dumps(body['query']).decode()}"
        result = await off_loop(what, lambda: service.searcher.search(body["vertical"], body["query"], viewer,
                                                                      timeout_ms=timeout_ms, arrived=arrived, **args))
        return JSONResponse(result.to_dict())

    async def document(request: Request) -> Response:
        arrived = time.perf_counter()
        role = role_of(request)
        vertical, ident = request.path_params["vertical"], request.path_params["id"]
        viewer = viewer_of(request, role, _viewer(request.query_params.get("viewer")))
        allow(role, viewer)
        key = hashtag_name(ident) if vertical == "hashtag" else ident
        if vertical == "hashtag" and not key:
            raise ApiError("bad_request", f"a hashtag id is a hashtag's name, got {shown(ident)}")
        doc = await off_loop(f"document {vertical}/{ident} viewer={viewer}",
                             lambda: service.searcher.document(vertical, key, viewer, timeout_ms, arrived))
        if doc is None:
            raise ApiError("not_found", "no such document")
        return JSONResponse({"vertical": vertical, "id": doc["id"], "doc": doc})

    async def demo_users(request: Request) -> Response:
        if not service.try_open():
            raise ApiError("not_ready", "the index is not open yet")
        with service.index.reader() as view:
            return JSONResponse({"users": demo.personas(view)})

    async def demo_login(request: Request) -> Response:
        body = await _json_object(request)
        username = body.get("username")
        if set(body) != {"username"} or not isinstance(username, str) or not 0 < len(username) <= demo.MAX_USERNAME:
            raise ApiError("bad_request", f'the body must be {{"username": NAME}}, a name of 1 to {demo.MAX_USERNAME} '
                                          "characters")
        if not service.try_open():
            raise ApiError("not_ready", "the index is not open yet")
        with service.index.reader() as view:
            user = demo.user_named(view, username)
        if user is None:
            raise ApiError("not_found", "no such user")
        token, expires = tokens.mint(user["id"], demo.TOKEN_TTL_S)
        return JSONResponse({"token": token, "key": demo_key, "viewer": str(user["id"]),
                             "username": user["username"], "expires": expires})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        state = service.state()
        if not state["index_open"]:
            return error_response("not_ready", "the index is not open yet")
        return JSONResponse({"status": "ready", **state})

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    async def openapi_endpoint(request: Request) -> Response:
        return JSONResponse(openapi.document(demo=demo_key is not None))

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    routes = [
        Route("/v1/typeahead", typeahead, methods=["GET"]),
        Route("/v1/trending", trending_endpoint, methods=["GET"]),
        Route("/v1/search", search, methods=["POST"]),
        Route("/v1/documents/{vertical}/{id}", document, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/openapi.json", openapi_endpoint, methods=["GET"]),
        Route("/", page, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        *explorer.routes(),
    ]
    if demo_key is not None:
        routes += [Route("/v1/demo/users", demo_users, methods=["GET"]),
                   Route("/v1/demo/login", demo_login, methods=["POST"])]

    async def api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc.code, exc.message)

    async def query_error(request: Request, exc: QueryError) -> Response:
        return error_response(exc.code, exc.message)

    async def http_error(request: Request, exc: HTTPException) -> Response:
        path = request.url.path
        if exc.status_code == 405:
            return error_response("method_not_allowed", f"{request.method} is not allowed on {path}",
                                  headers=exc.headers)
        if exc.status_code == 404:
            if isinstance(request.scope.get("endpoint"), StaticFiles):
                return error_response("not_found", f"no such file {path}")
            return error_response("not_found", f"no route {request.method} {path}")
        return error_response("bad_request", str(exc.detail))

    async def server_error(request: Request, exc: Exception) -> Response:
        return error_response("internal", "internal server error")

    @asynccontextmanager
    async def lifespan(app: Starlette):
        service.try_open()
        yield

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        ApiError: api_error, QueryError: query_error, HTTPException: http_error, Exception: server_error})
    return _Measured(app, metrics, routes)


class _Measured:
    """ASGI wrapper that counts every HTTP response and its latency under its route's path."""

    def __init__(self, app: Starlette, metrics: Metrics, routes: list) -> None:
        self.app, self.metrics, self.routes = app, metrics, routes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def sent(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            self.metrics.observe(self._endpoint(scope), scope["method"], status, time.perf_counter() - started)

    def _endpoint(self, scope) -> str:
        for route in self.routes:
            if route.matches(scope)[0] != Match.NONE:
                return route.path if isinstance(route, Route) else f"{route.path}/"
        return "other"


def _viewer(value) -> int | None:
    if value is None:
        return None
    try:
        return parse_id(value, "viewer")
    except QueryError as exc:
        raise ApiError("bad_request", exc.message) from None


def _int_param(raw: str, name: str) -> int:
    number = decimal(raw)
    if number is None:
        raise ApiError("bad_request", f"{name} must be a positive integer up to 2^64 - 1, got {shown(quote(raw))}")
    return number


async def _body(request: Request) -> bytes:
    """The request body, at most MAX_BODY bytes, else 413 `too_large`.

    A longer body is still read to its end (and dropped) before the answer: a server that answers
    and closes while the client is sending makes the kernel reset the connection, and the client
    then sees a reset instead of the 413. A client that waits for `100 Continue` sends nothing.
    """
    too_large = ApiError("too_large", f"request body is over {MAX_BODY} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY \
            and request.headers.get("expect", "").lower() == "100-continue":
        raise too_large
    raw = bytearray()
    async for chunk in request.stream():
        if len(raw) <= MAX_BODY:
            raw += chunk
    if len(raw) > MAX_BODY:
        raise too_large
    return bytes(raw)


async def _json_object(request: Request) -> dict:
    try:
        body = orjson.loads(await _body(request))
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):  # a query nested far deeper than the 32 levels allowed
            raise ApiError("too_large", "the query is nested deeper than 32") from None
        raise ApiError("bad_request", f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError("bad_request", "the body must be a JSON object")
    return body


async def _json_body(request: Request) -> dict:
    """A search request's body, its fields checked."""
    body = await _json_object(request)
    unknown = sorted(set(body) - SEARCH_FIELDS)
    if unknown:
        raise ApiError("bad_request", f"unknown fields {unknown}; expected {sorted(SEARCH_FIELDS)}")
    for field in ("vertical", "query"):
        if field not in body:
            raise ApiError("bad_request", f"missing field {field!r}")
    if not isinstance(body["vertical"], str):
        raise ApiError("bad_request", "vertical must be a string")
    if not isinstance(body.get("order", ""), str):
        raise ApiError("bad_request", "order must be a string")
    if not isinstance(body.get("explain", False), bool):
        raise ApiError("bad_request", "explain must be true or false")
    return body


def app_from_env() -> Starlette:
    """The app `serve` hands to uvicorn (a factory, so that each worker process builds its own)."""
    return create_app(Path(os.environ.get("UNICORN_DATA", "./unicorn-data")),
                      timeout_ms=float(os.environ.get("UNICORN_TIMEOUT_MS", "200")),
                      slow_ms=float(os.environ.get("UNICORN_SLOW_MS", "100")),
                      viewer_secret=os.environ.get("UNICORN_VIEWER_SECRET") or None,
                      demo_key=os.environ.get("UNICORN_DEMO_LOGIN_KEY") or None)
