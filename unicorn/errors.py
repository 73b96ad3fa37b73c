"""Errors the query engine reports; `code` is the docs/http-api.md `error.code`."""

from __future__ import annotations

CODES = frozenset({"bad_query", "bad_request", "too_large", "timeout", "not_found", "not_ready"})


class QueryError(Exception):
    """A request the engine refuses: `code` per docs/http-api.md, `message` names the position when there is one."""

    def __init__(self, code: str, message: str, position: int | str | None = None) -> None:
        assert code in CODES, code
        super().__init__(message)
        self.code = code
        self.message = message
        self.position = position

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


def where(pos: int | str) -> str:
    """A query position as messages name it: a character offset in text, a JSON path in JSON."""
    return f"position {pos}" if isinstance(pos, int) else str(pos)


def bad_query(message: str, pos: int | str) -> QueryError:
    """`bad_query` at `pos`, the message ending with where."""
    return QueryError("bad_query", f"{message} at {where(pos)}", pos)
