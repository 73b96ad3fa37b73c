"""`and`: operands in the planned order (cheapest first), stopping as soon as the result is empty."""

from __future__ import annotations

from pyroaring import BitMap

from unicorn.query.plan import Intersect


def run(node: Intersect, ctx) -> BitMap:
    result = ctx.run(node.operands[0])
    for operand in node.operands[1:]:
        if not result:
            break
        result = result & ctx.run(operand)  # a new bitmap: operand results stay as traced
    return result
