"""`weak-and` (docs/query-language.md): walk the documents matching every required operand in static order;
accept one when every optional operand it misses still has budget, taking one from each; stop at
the limit. Once a budget is spent, only documents in that operand can be accepted, so the rest
of the walk is restricted to them and never visits a document it would reject.
"""

from __future__ import annotations

from pyroaring import BitMap

from unicorn.query import rank
from unicorn.query.plan import WeakAnd


def run(node: WeakAnd, ctx) -> BitMap:
    candidates = BitMap(ctx.run(node.required[0]))  # a copy: operand results stay as traced
    for operand in node.required[1:]:
        if not candidates:
            return BitMap()
        candidates &= ctx.run(operand)
    optional = [(ctx.run(operand), budget) for operand, budget in node.optional]
    budgets = [budget for _, budget in optional]
    for (docs, _), budget in zip(optional, budgets):
        if budget == 0:
            candidates &= docs
    accepted = BitMap()
    while candidates and len(accepted) < node.limit:
        restrict = None
        for doc in rank.walk(ctx.view, node.vertical, candidates):
            ctx.check_time()
            candidates.discard(doc)
            missing = [i for i, (docs, _) in enumerate(optional) if doc not in docs]
            if any(budgets[i] == 0 for i in missing):
                continue
            accepted.add(doc)
            for i in missing:
                budgets[i] -= 1
                if budgets[i] == 0:
                    restrict = optional[i][0] if restrict is None else restrict & optional[i][0]
            if len(accepted) == node.limit or restrict is not None:
                break
        if restrict is not None:
            candidates &= restrict
        elif len(accepted) < node.limit:
            break
    return accepted
