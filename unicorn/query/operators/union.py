"""`or`: the union of the operands."""

from __future__ import annotations

from pyroaring import BitMap

from unicorn.query.plan import Union


def run(node: Union, ctx) -> BitMap:
    return BitMap.union(*(ctx.run(operand) for operand in node.operands))
