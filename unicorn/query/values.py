"""Request values: ids as decimal text, and how an error message quotes a value."""

from __future__ import annotations

from unicorn.errors import QueryError

MAX_ID = 2**64 - 1
MAX_ID_DIGITS = len(str(MAX_ID))


def decimal(text: str) -> int | None:
    """The value of a string of ASCII digits when it is at most MAX_ID, else None.

    The length is checked first: int() refuses strings of thousands of digits (ValueError)."""
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"
    if len(digits) > MAX_ID_DIGITS:
        return None
    number = int(digits)
    return number if number <= MAX_ID else None


def shown(value: object) -> str:
    """A request value as an error message quotes it: repr, cut to 80 characters."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def check_limit(limit: object, maximum: int) -> int:
    """A request's `limit`: an integer from 1 to `maximum`, else `bad_request`."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise QueryError("bad_request", f"limit must be an integer from 1 to {maximum}, got {limit!r}")
    return limit
