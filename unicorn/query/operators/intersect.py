"""`and`: operands in the planned order (cheapest first), stopping as soon as the result is empty.
An `apply` after the first operand is asked only for the documents found so far (`apply.restrict`)."""

from __future__ import annotations

from pyroaring import BitMap

from unicorn.query.operators import apply
from unicorn.query.plan import Apply, Intersect


def run(node: Intersect, ctx) -> BitMap:
    result = ctx.run(node.operands[0])
    for operand in node.operands[1:]:
        if not result:
            break
        if isinstance(operand, Apply):
            ctx.check_time()
            found = apply.restrict(operand, ctx, result)
            if ctx.trace is not None:
                ctx.trace[id(operand)] = found
            result = found
        else:
            result = result & ctx.run(operand)  # a new bitmap: operand results stay as traced
    return result
