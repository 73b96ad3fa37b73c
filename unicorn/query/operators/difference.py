"""`difference`: the first operand minus the second; the second is not run when the first is empty."""

from __future__ import annotations

from pyroaring import BitMap

from unicorn.query.plan import Subtract


def run(node: Subtract, ctx) -> BitMap:
    first = ctx.run(node.first)
    return first - ctx.run(node.second) if first else first
