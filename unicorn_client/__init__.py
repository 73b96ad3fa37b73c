"""A typed Python client of the HTTP API, sync and async, over httpx.

    from unicorn_client import Client

    with Client("http://127.0.0.1:8080", key="KEY") as client:
        hits = client.typeahead("jo", viewer=42)
        page = client.search("media", "(and (term hashtag:sunset) (apply owner: (term following:42)))", viewer=42)
        doc = client.document("user", 42, viewer=42)

`AsyncClient` has the same methods as coroutines. When the server requires signed viewers
(`UNICORN_VIEWER_SECRET`), pass `viewer_token=` (see `sign_viewer`) with each call. An error
answer raises `UnicornError` with the API's `status`, `code` and `message`. The client imports
nothing of the server: it is what the platform's web tier would embed.
"""

from __future__ import annotations

import time
from typing import Any, Literal, NotRequired, TypedDict

import httpx

Vertical = Literal["user", "media", "hashtag", "place"]
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
    vertical: Literal["user", "hashtag", "place"]
    id: str
    title: str
    subtitle: str
    score: float
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


def sign_viewer(secret: str, viewer: Id, ttl_s: float = 300.0) -> str:
    """An `X-Viewer-Token` for `viewer`: a JWT (HS256) with `sub` and `exp`, as the trusted backend makes it."""
    import jwt

    return jwt.encode({"sub": str(viewer), "exp": int(time.time() + ttl_s)}, secret, algorithm="HS256")


def _typeahead_params(q: str, viewer: Id | None, limit: int, verticals: tuple[str, ...] | None) -> dict:
    params: dict[str, Any] = {"q": q, "limit": limit}
    if viewer is not None:
        params["viewer"] = str(viewer)
    if verticals is not None:
        params["verticals"] = ",".join(verticals)
    return params


def _search_body(vertical: Vertical, query: str | dict, viewer: Id | None, limit: int, order: str,
                 explain: bool, apply_fanout_max: int | None) -> dict:
    body: dict[str, Any] = {"vertical": vertical, "query": query, "limit": limit, "order": order, "explain": explain}
    if viewer is not None:
        body["viewer"] = str(viewer)
    if apply_fanout_max is not None:
        body["apply_fanout_max"] = apply_fanout_max
    return body


def _document_params(viewer: Id | None) -> dict:
    return {} if viewer is None else {"viewer": str(viewer)}


def _headers(viewer_token: str | None) -> dict:
    return {} if viewer_token is None else {"X-Viewer-Token": viewer_token}


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
    """Blocking client; one keep-alive connection pool per instance."""

    def __init__(self, base_url: str, key: str, *, timeout_s: float = 5.0, http: httpx.Client | None = None) -> None:
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout_s)
        self._http.headers["Authorization"] = f"Bearer {key}"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def typeahead(self, q: str, viewer: Id | None = None, *, limit: int = 10,
                  verticals: tuple[str, ...] | None = None, viewer_token: str | None = None) -> TypeaheadResponse:
        return _answer(self._http.get("/v1/typeahead", params=_typeahead_params(q, viewer, limit, verticals),
                                      headers=_headers(viewer_token)))

    def search(self, vertical: Vertical, query: str | dict, viewer: Id | None = None, *, limit: int = 20,
               order: str = "static", explain: bool = False, apply_fanout_max: int | None = None,
               viewer_token: str | None = None) -> SearchResponse:
        body = _search_body(vertical, query, viewer, limit, order, explain, apply_fanout_max)
        return _answer(self._http.post("/v1/search", json=body, headers=_headers(viewer_token)))

    def document(self, vertical: Vertical, id: Id, viewer: Id | None = None, *,
                 viewer_token: str | None = None) -> DocumentResponse:
        return _answer(self._http.get(f"/v1/documents/{vertical}/{id}", params=_document_params(viewer),
                                      headers=_headers(viewer_token)))

    def ready(self) -> dict:
        return _answer(self._http.get("/readyz"))


class AsyncClient:
    """The same calls as coroutines; one keep-alive connection pool per instance."""

    def __init__(self, base_url: str, key: str, *, timeout_s: float = 5.0,
                 http: httpx.AsyncClient | None = None) -> None:
        self._http = http or httpx.AsyncClient(base_url=base_url, timeout=timeout_s)
        self._http.headers["Authorization"] = f"Bearer {key}"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def typeahead(self, q: str, viewer: Id | None = None, *, limit: int = 10,
                        verticals: tuple[str, ...] | None = None,
                        viewer_token: str | None = None) -> TypeaheadResponse:
        return _answer(await self._http.get("/v1/typeahead", params=_typeahead_params(q, viewer, limit, verticals),
                                            headers=_headers(viewer_token)))

    async def search(self, vertical: Vertical, query: str | dict, viewer: Id | None = None, *, limit: int = 20,
                     order: str = "static", explain: bool = False, apply_fanout_max: int | None = None,
                     viewer_token: str | None = None) -> SearchResponse:
        body = _search_body(vertical, query, viewer, limit, order, explain, apply_fanout_max)
        return _answer(await self._http.post("/v1/search", json=body, headers=_headers(viewer_token)))

    async def document(self, vertical: Vertical, id: Id, viewer: Id | None = None, *,
                       viewer_token: str | None = None) -> DocumentResponse:
        return _answer(await self._http.get(f"/v1/documents/{vertical}/{id}", params=_document_params(viewer),
                                            headers=_headers(viewer_token)))

    async def ready(self) -> dict:
        return _answer(await self._http.get("/readyz"))
