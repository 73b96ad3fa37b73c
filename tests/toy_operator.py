"""`one-of`: the documents exactly one operand yields. An operator written outside the engine, to show
that adding one is one module plus its registration (tests/test_query_operators.py registers it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pyroaring import BitMap

from unicorn.query.operators.base import Empty, Operator, Plan, check_operands
from unicorn.query.tree import NAry


@dataclass(eq=False)
class OneOf(NAry):
    name: ClassVar[str] = "one-of"


@dataclass(eq=False)
class OneOfPlan(Plan):
    name: ClassVar[str] = "one-of"
    operands: list[Plan]

    def children(self) -> list[Plan]:
        return self.operands


def plan(node: OneOf, planner) -> Plan:
    operands = [planner.plan(o) for o in node.operands]
    if all(isinstance(p, Empty) for p in operands):
        return Empty(node.vertical, node)
    return OneOfPlan(node.vertical, node, operands)


def run(node: OneOfPlan, ctx) -> BitMap:
    seen, again = BitMap(), BitMap()
    for operand in node.operands:
        docs = ctx.run(operand)
        again |= seen & docs
        seen |= docs
    return seen - again


def why(node: OneOfPlan, iid: int, explainer) -> list[str]:
    return [f"one-of <- {reason}" for o in node.operands for reason in explainer.why(o, iid)]


OPERATOR = Operator("one-of", "operands", OneOf, check=check_operands, plan=plan, run=run, why=why)
