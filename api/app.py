"""The HTTP API of docs/http-api.md over the engine's Searcher (unicorn.searcher).

    app = create_app(Path("unicorn-data"), keys={"k1": "admin", "k2": "search"})

Checks run in this order: key (401), parameters (400: the models of api/models.py), viewer token
(401), viewer for a `search` key (403), index open (503), then the query (400 bad_query, 404, 413,
504). The time budget counts from the request's arrival.

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

import anyio
import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from api import demo, explorer, openapi
from api.auth import Keys, ViewerTokens, keys_from_env
from api.errors import ApiError, error_response
from api.metrics import Metrics, RequestMetrics
from api.models import DemoLoginRequest, DocumentParams, SearchRequest, TrendingParams, TypeaheadParams, parse
from api.responses import JSONResponse
from api.service import Service
from api.slowlog import SlowLog
from indexer.store import Index
from unicorn.errors import QueryError
from unicorn.query.typecheck import shown
from vocabulary.text import hashtag_name

STATIC = Path(__file__).parent / "static"
MAX_BODY = 64 * 1024
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
        asked = parse(TypeaheadParams, params)
        limit, verticals, typos = asked.limit, asked.verticals, asked.typos
        viewer = viewer_of(request, role, asked.viewer)
        allow(role, viewer)
        result = await off_loop(f"typeahead q={params['q']!r} viewer={viewer} limit={limit} verticals={verticals} "
                                f"typos={typos!r}",
                                lambda: service.searcher.typeahead(params["q"], viewer, limit, verticals, timeout_ms,
                                                                   arrived, typos))
        return JSONResponse(result.to_dict())

    async def trending_endpoint(request: Request) -> Response:
        role = role_of(request)
        asked = parse(TrendingParams, request.query_params)
        kind, limit = asked.kind, asked.limit
        viewer = viewer_of(request, role, asked.viewer)
        allow(role, viewer)
        result = await off_loop(f"trending kind={kind} limit={limit} viewer={viewer}",
                                lambda: service.searcher.trending(kind, limit, viewer))
        return JSONResponse(result)

    async def search(request: Request) -> Response:
        arrived = time.perf_counter()
        role = role_of(request)
        asked = parse(SearchRequest, await _json_object(request))
        viewer = viewer_of(request, role, asked.viewer)
        if asked.order == "social" and viewer is None:
            raise ApiError("bad_request", 'order "social" needs a viewer')
        allow(role, viewer)
        body = asked.model_dump(include={"vertical", "query"})
        args = asked.model_dump(include={"limit", "order", "explain", "apply_fanout_max"})
        what = f"search vertical={body['vertical']!r} viewer={viewer} query={orjson.dumps(body['query']).decode()}"
        result = await off_loop(what, lambda: service.searcher.search(body["vertical"], body["query"], viewer,
                                                                      timeout_ms=timeout_ms, arrived=arrived, **args))
        return JSONResponse(result.to_dict())

    async def document(request: Request) -> Response:
        arrived = time.perf_counter()
        role = role_of(request)
        vertical, ident = request.path_params["vertical"], request.path_params["id"]
        viewer = viewer_of(request, role, parse(DocumentParams, request.query_params).viewer)
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
        username = parse(DemoLoginRequest, await _json_object(request)).username
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

    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(RequestMetrics, metrics=metrics)],
                     exception_handlers={ApiError: api_error, QueryError: query_error, HTTPException: http_error,
                                         Exception: server_error})


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


def app_from_env() -> Starlette:
    """The app `serve` hands to uvicorn (a factory, so that each worker process builds its own)."""
    return create_app(Path(os.environ.get("UNICORN_DATA", "./unicorn-data")),
                      timeout_ms=float(os.environ.get("UNICORN_TIMEOUT_MS", "200")),
                      slow_ms=float(os.environ.get("UNICORN_SLOW_MS", "100")),
                      viewer_secret=os.environ.get("UNICORN_VIEWER_SECRET") or None,
                      demo_key=os.environ.get("UNICORN_DEMO_LOGIN_KEY") or None)
