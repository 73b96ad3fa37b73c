"""click parameter types shared by the bench commands."""

from __future__ import annotations

import click


class CommaInts(click.ParamType):
    """A comma-separated list of positive integers, as a tuple: "1,16" -> (1, 16)."""

    name = "N[,N...]"

    def convert(self, value, param, ctx) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        try:
            numbers = tuple(int(part) for part in value.split(","))
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of integers", param, ctx)
        if any(n < 1 for n in numbers):
            self.fail(f"{value!r}: each number must be at least 1", param, ctx)
        return numbers


COMMA_INTS = CommaInts()
