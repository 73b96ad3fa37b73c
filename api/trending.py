"""`GET /v1/trending` parameters (docs/http-api.md): kind hashtag|place, limit 1..50 (default 10)."""

from __future__ import annotations

from urllib.parse import quote

from api.errors import ApiError
from unicorn.query.typecheck import decimal, shown
from unicorn.trending import KINDS, LIMIT_MAX


def params(query) -> tuple[str, int]:
    kind = query.get("kind")
    if kind is None:
        raise ApiError("bad_request", "missing parameter kind (hashtag or place)")
    if kind not in KINDS:
        raise ApiError("bad_request", f"kind must be hashtag or place, got {shown(quote(kind))}")
    raw = query.get("limit", "10")
    limit = decimal(raw)
    if limit is None or not 1 <= limit <= LIMIT_MAX:
        raise ApiError("bad_request", f"limit must be an integer from 1 to {LIMIT_MAX}, got {shown(quote(raw))}")
    return kind, limit
