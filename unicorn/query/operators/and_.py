"""`and` (docs/query-language.md): the documents every operand yields.

Planning flattens nested `and`s, short-circuits on an empty operand and orders the operands
cheapest first (terms by posting size before apply/extract). Running stops as soon as the result
is empty; an operand after the first is asked only about the documents found so far
(`ctx.restrict`: an `apply` then checks the candidates' side when that costs less).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pyroaring import BitMap

from unicorn.query.operators.base import Empty, Operator, Plan, check_operands
from unicorn.query.tree import NAry


@dataclass(eq=False)
class And(NAry):
    name: ClassVar[str] = "and"


@dataclass(eq=False)
class AndPlan(Plan):
    name: ClassVar[str] = "and"
    operands: list[Plan]

    def children(self) -> list[Plan]:
        return self.operands


def _flat(node: And, planner) -> list[Plan]:
    plans = []
    for operand in node.operands:
        if isinstance(operand, And):
            plans.extend(_flat(operand, planner))
        else:
            plans.append(planner.plan(operand))
    return plans


def plan(node: And, planner) -> Plan:
    operands = _flat(node, planner)
    if any(isinstance(p, Empty) for p in operands):
        return Empty(node.vertical, node)
    if len(operands) == 1:
        return operands[0]
    operands.sort(key=lambda p: (p.name != "term", p.estimate))
    return AndPlan(node.vertical, node, operands, estimate=min(p.estimate for p in operands))


def run(node: AndPlan, ctx) -> BitMap:
    result = ctx.run(node.operands[0])
    for operand in node.operands[1:]:
        if not result:
            break
        result = ctx.restrict(operand, result)  # a new bitmap: operand results stay as traced
    return result


def why(node: AndPlan, iid: int, explainer) -> list[str]:
    return [r for o in node.operands for r in explainer.why(o, iid)]


OPERATOR = Operator("and", "operands", And, check=check_operands, plan=plan, run=run, why=why)
