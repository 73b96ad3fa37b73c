"""A typed Python client of the HTTP API, sync and async, over httpx.

    from unicorn_client import Client

    with Client("http://127.0.0.1:8080", key="KEY") as client:
        hits = client.typeahead("jo", viewer=42)
        page = client.search("media", "(and (term hashtag:sunset) (apply owner: (term following:42)))", viewer=42)
        doc = client.document("user", 42, viewer=42)
        trends = client.trending("hashtag", viewer=42)

`AsyncClient` has the same methods as coroutines. When the server requires signed viewers
(`UNICORN_VIEWER_SECRET`), pass `viewer_token=` (see `sign_viewer`) with each call. An error
answer raises `UnicornError` with the API's `status`, `code` and `message`. `client.requests`
builds the same requests without sending them (a load generator replays them). The client
imports nothing of the server: it is what the platform's web tier would embed.
"""

from __future__ import annotations

import time
from typing import Any, Literal, NotRequired, TypedDict

import httpx

Vertical = Literal["user", "media", "hashtag", "place"]
TypeaheadVertical = Literal["user", "hashtag", "place"]
Id = int | str


class UnicornError(Exception):
    """An error answer: `status` (HTTP), `code` and `message` as the API gives them."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class Followee(TypedDict):
    id: str
    username: str
    full_name: str


class Social(TypedDict):
    following: bool
    followed_by_count: int
    followed_by: list[Followee]


class TypeaheadResult(TypedDict):
    vertical: TypeaheadVertical
    id: str
    title: str
    subtitle: str
    score: float
    verified: NotRequired[bool]
    typo: NotRequired[bool]
    social: NotRequired[Social]


class TypeaheadResponse(TypedDict):
    q: str
    results: list[TypeaheadResult]
    took_ms: float


class SearchResult(TypedDict):
    id: str
    score: float
    doc: dict[str, Any]
    why: NotRequired[list[str]]


class SearchResponse(TypedDict):
    vertical: Vertical
    total: int
    truncated: bool
    results: list[SearchResult]
    took_ms: float


class DocumentResponse(TypedDict):
    vertical: Vertical
    id: str
    doc: dict[str, Any]


class TrendingResult(TypedDict):
    id: str
    title: str
    score: float
    recent: int
    baseline: float


class TrendingResponse(TypedDict):
    kind: Literal["hashtag", "place"]
    results: list[TrendingResult]
    as_of: int | None


def sign_viewer(secret: str, viewer: Id, ttl_s: float = 300.0) -> str:
    """An `X-Viewer-Token` for `viewer`: a JWT (HS256) with `sub` and `exp`, as the trusted backend makes it."""
    import jwt

    return jwt.encode({"sub": str(viewer), "exp": int(time.time() + ttl_s)}, secret, algorithm="HS256")


class Requests:
    """The API's requests, built and not sent, each with the key (and the viewer token when given)."""

    def __init__(self, http: httpx.Client | httpx.AsyncClient, key: str) -> None:
        self._http, self._key = http, key

    def _build(self, method: str, path: str, viewer_token: str | None = None, **kwargs: Any) -> httpx.Request:
        headers = {"Authorization": f"Bearer {self._key}"}
        if viewer_token is not None:
            headers["X-Viewer-Token"] = viewer_token
        return self._http.build_request(method, path, headers=headers, **kwargs)

    def typeahead(self, q: str, viewer: Id | None = None, *, limit: int = 10,
                  verticals: tuple[TypeaheadVertical, ...] | None = None, typos: Literal["auto", "0"] | None = None,
                  viewer_token: str | None = None) -> httpx.Request:
        params: dict[str, Any] = {"q": q, "limit": limit, **_viewer(viewer)}
        if verticals is not None:
            params["verticals"] = ",".join(verticals)
        if typos is not None:
            params["typos"] = typos
        return self._build("GET", "/v1/typeahead", viewer_token, params=params)

    def search(self, vertical: Vertical, query: str | dict, viewer: Id | None = None, *, limit: int = 20,
               order: Literal["static", "social"] = "static", explain: bool = False,
               apply_fanout_max: int | None = None, viewer_token: str | None = None) -> httpx.Request:
        body: dict[str, Any] = {"vertical": vertical, "query": query, "limit": limit, "order": order,
                                "explain": explain, **_viewer(viewer)}
        if apply_fanout_max is not None:
            body["apply_fanout_max"] = apply_fanout_max
        return self._build("POST", "/v1/search", viewer_token, json=body)

    def document(self, vertical: Vertical, id: Id, viewer: Id | None = None, *,
                 viewer_token: str | None = None) -> httpx.Request:
        return self._build("GET", f"/v1/documents/{vertical}/{id}", viewer_token, params=_viewer(viewer))

    def trending(self, kind: Literal["hashtag", "place"], viewer: Id | None = None, *, limit: int = 10,
                 viewer_token: str | None = None) -> httpx.Request:
        return self._build("GET", "/v1/trending", viewer_token, params={"kind": kind, "limit": limit,
                                                                         **_viewer(viewer)})

    def health(self) -> httpx.Request:
        return self._http.build_request("GET", "/healthz")

    def ready(self) -> httpx.Request:
        return self._http.build_request("GET", "/readyz")


def _viewer(viewer: Id | None) -> dict[str, str]:
    return {} if viewer is None else {"viewer": str(viewer)}


def _answer(response: httpx.Response) -> Any:
    if response.is_success:
        return response.json()
    try:
        error = response.json()["error"]
        code, message = error["code"], error["message"]
    except (ValueError, KeyError, TypeError):
        code, message = "http_error", response.text[:200]
    raise UnicornError(response.status_code, code, message)


class Client:
    """Blocking client; one keep-alive connection pool per instance (or the given `http` client's)."""

    def __init__(self, base_url: str, key: str, *, timeout_s: float = 5.0, http: httpx.Client | None = None) -> None:
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout_s)
        self.requests = Requests(self._http, key)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, request: httpx.Request) -> Any:
        return _answer(self._http.send(request))

    def typeahead(self, q: str, viewer: Id | None = None, *, limit: int = 10,
                  verticals: tuple[TypeaheadVertical, ...] | None = None, typos: Literal["auto", "0"] | None = None,
                  viewer_token: str | None = None) -> TypeaheadResponse:
        return self._send(self.requests.typeahead(q, viewer, limit=limit, verticals=verticals, typos=typos,
                                                  viewer_token=viewer_token))

    def search(self, vertical: Vertical, query: str | dict, viewer: Id | None = None, *, limit: int = 20,
               order: Literal["static", "social"] = "static", explain: bool = False,
               apply_fanout_max: int | None = None, viewer_token: str | None = None) -> SearchResponse:
        return self._send(self.requests.search(vertical, query, viewer, limit=limit, order=order, explain=explain,
                                               apply_fanout_max=apply_fanout_max, viewer_token=viewer_token))

    def document(self, vertical: Vertical, id: Id, viewer: Id | None = None, *,
                 viewer_token: str | None = None) -> DocumentResponse:
        return self._send(self.requests.document(vertical, id, viewer, viewer_token=viewer_token))

    def trending(self, kind: Literal["hashtag", "place"], viewer: Id | None = None, *, limit: int = 10,
                 viewer_token: str | None = None) -> TrendingResponse:
        return self._send(self.requests.trending(kind, viewer, limit=limit, viewer_token=viewer_token))

    def health(self) -> dict:
        return self._send(self.requests.health())

    def ready(self) -> dict:
        return self._send(self.requests.ready())


class AsyncClient:
    """The same calls as coroutines; one keep-alive connection pool per instance (or the given `http` client's)."""

    def __init__(self, base_url: str, key: str, *, timeout_s: float = 5.0,
                 http: httpx.AsyncClient | None = None) -> None:
        self._http = http or httpx.AsyncClient(base_url=base_url, timeout=timeout_s)
        self.requests = Requests(self._http, key)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _send(self, request: httpx.Request) -> Any:
        return _answer(await self._http.send(request))

    async def typeahead(self, q: str, viewer: Id | None = None, *, limit: int = 10,
                        verticals: tuple[TypeaheadVertical, ...] | None = None,
                        typos: Literal["auto", "0"] | None = None,
                        viewer_token: str | None = None) -> TypeaheadResponse:
        return await self._send(self.requests.typeahead(q, viewer, limit=limit, verticals=verticals, typos=typos,
                                                        viewer_token=viewer_token))

    async def search(self, vertical: Vertical, query: str | dict, viewer: Id | None = None, *, limit: int = 20,
                     order: Literal["static", "social"] = "static", explain: bool = False,
                     apply_fanout_max: int | None = None, viewer_token: str | None = None) -> SearchResponse:
        return await self._send(self.requests.search(vertical, query, viewer, limit=limit, order=order,
                                                     explain=explain, apply_fanout_max=apply_fanout_max,
                                                     viewer_token=viewer_token))

    async def document(self, vertical: Vertical, id: Id, viewer: Id | None = None, *,
                       viewer_token: str | None = None) -> DocumentResponse:
        return await self._send(self.requests.document(vertical, id, viewer, viewer_token=viewer_token))

    async def trending(self, kind: Literal["hashtag", "place"], viewer: Id | None = None, *, limit: int = 10,
                       viewer_token: str | None = None) -> TrendingResponse:
        return await self._send(self.requests.trending(kind, viewer, limit=limit, viewer_token=viewer_token))

    async def health(self) -> dict:
        return await self._send(self.requests.health())

    async def ready(self) -> dict:
        return await self._send(self.requests.ready())
