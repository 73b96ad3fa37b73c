"""`strong-or` (docs/query-language.md): taking the operands in the order written, each weighted operand first
contributes its best documents not yet chosen, up to its quota (never past the limit); the
remaining slots go to the best documents of the whole union not yet chosen.
"""

from __future__ import annotations

from pyroaring import BitMap

from unicorn.query import rank
from unicorn.query.plan import StrongOr


def run(node: StrongOr, ctx) -> BitMap:
    results = [(ctx.run(operand), quota) for operand, quota in node.operands]
    chosen = BitMap()
    for docs, quota in results:
        ctx.check_time()
        room = min(quota or 0, node.limit - len(chosen))
        if room > 0:
            chosen.update(rank.top_k(ctx.view, node.vertical, docs - chosen, room).tolist())
    room = node.limit - len(chosen)
    if room > 0:
        ctx.check_time()
        union = BitMap.union(*(docs for docs, _ in results))
        chosen.update(rank.top_k(ctx.view, node.vertical, union - chosen, room).tolist())
    return chosen
