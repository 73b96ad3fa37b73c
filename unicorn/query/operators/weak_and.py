"""`weak-and` (docs/query-language.md): walk the documents matching every required operand in static order;
accept one when every optional operand it misses still has budget, taking one from each; stop at
the limit. Once a budget is spent, only documents in that operand can be accepted, so the rest
of the walk is restricted to them and never visits a document it would reject.

Operands without a modifier are required (at least one must be); `:optional-hits N` gives an
operand budget N, `:optional-weight F` budget floor(F x limit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from pyroaring import BitMap

from unicorn.errors import bad_query
from unicorn.query import rank
from unicorn.query.operators.base import Empty, Operator, Plan, check_operands
from unicorn.query.tree import NAry


@dataclass(eq=False)
class WeakAnd(NAry):
    name: ClassVar[str] = "weak-and"


@dataclass(eq=False)
class WeakAndPlan(Plan):
    name: ClassVar[str] = "weak-and"
    required: list[Plan]
    optional: list[tuple[Plan, int]]  # (operand, budget)
    limit: int

    def children(self) -> list[Plan]:
        return [*self.required, *(o for o, _ in self.optional)]


def check(node: WeakAnd, checker) -> None:
    if all(o.has_modifier for o in node.operands):
        raise bad_query("'weak-and' needs at least one required operand (one without a modifier)", node.pos)
    check_operands(node, checker)


def plan(node: WeakAnd, planner) -> Plan:
    required, optional = [], []
    for operand in node.operands:
        p = planner.plan(operand)
        if operand.optional_hits is not None:
            optional.append((p, operand.optional_hits))
        elif operand.optional_weight is not None:
            optional.append((p, math.floor(operand.optional_weight * planner.limit)))
        else:
            required.append(p)
    if any(isinstance(p, Empty) for p in required):
        return Empty(node.vertical, node)
    return WeakAndPlan(node.vertical, node, required, optional, planner.limit, estimate=planner.limit)


def run(node: WeakAndPlan, ctx) -> BitMap:
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


def why(node: WeakAndPlan, iid: int, explainer) -> list[str]:
    return [r for o in node.children() for r in explainer.why(o, iid)]


OPERATOR = Operator("weak-and", "operands", WeakAnd, check=check, plan=plan, run=run, why=why,
                    operand_modifiers=("optional-hits", "optional-weight"), top_k=True)
