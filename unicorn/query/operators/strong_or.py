"""`strong-or` (docs/query-language.md): taking the operands in the order written, each weighted operand first
contributes its best documents not yet chosen, up to its quota (never past the limit); the
remaining slots go to the best documents of the whole union not yet chosen. An operand with
`:optional-weight F` has quota floor(F x limit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from pyroaring import BitMap

from unicorn.query import rank
from unicorn.query.operators.base import Empty, Operator, Plan, check_operands
from unicorn.query.tree import NAry


@dataclass(eq=False)
class StrongOr(NAry):
    name: ClassVar[str] = "strong-or"


@dataclass(eq=False)
class StrongOrPlan(Plan):
    name: ClassVar[str] = "strong-or"
    operands: list[tuple[Plan, int | None]]  # (operand, quota or None), in the order written
    limit: int

    def children(self) -> list[Plan]:
        return [o for o, _ in self.operands]


def plan(node: StrongOr, planner) -> Plan:
    operands = []
    for operand in node.operands:
        weight = operand.optional_weight
        quota = None if weight is None else math.floor(weight * planner.limit)
        operands.append((planner.plan(operand), quota))
    if all(isinstance(p, Empty) for p, _ in operands):
        return Empty(node.vertical, node)
    return StrongOrPlan(node.vertical, node, operands, planner.limit, estimate=planner.limit)


def run(node: StrongOrPlan, ctx) -> BitMap:
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


def why(node: StrongOrPlan, iid: int, explainer) -> list[str]:
    return [r for o in node.children() for r in explainer.why(o, iid)]


OPERATOR = Operator("strong-or", "operands", StrongOr, check=check_operands, plan=plan, run=run, why=why,
                    operand_modifiers=("optional-weight",), top_k=True)
