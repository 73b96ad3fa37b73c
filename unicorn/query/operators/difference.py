"""`difference` (docs/query-language.md): the first operand's documents minus the second's; exactly two operands.
The second is not run when the first is empty."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pyroaring import BitMap

from unicorn.errors import bad_query
from unicorn.query.operators.base import Empty, Operator, Plan, check_operands
from unicorn.query.tree import NAry, Node, Pos


@dataclass(eq=False)
class Difference(NAry):
    name: ClassVar[str] = "difference"


@dataclass(eq=False)
class DifferencePlan(Plan):
    name: ClassVar[str] = "difference"
    first: Plan
    second: Plan

    def children(self) -> list[Plan]:
        return [self.first, self.second]


def arity(operands: list[Node], pos: Pos) -> None:
    if len(operands) != 2:
        raise bad_query(f"'difference' takes exactly two operands, got {len(operands)}", pos)


def check(node: Difference, checker) -> None:
    if len(node.operands) != 2:
        raise bad_query("'difference' takes exactly two operands", node.pos)
    check_operands(node, checker)


def plan(node: Difference, planner) -> Plan:
    first, second = (planner.plan(o) for o in node.operands)
    if isinstance(first, Empty) or isinstance(second, Empty):
        return first
    return DifferencePlan(node.vertical, node, first, second, estimate=first.estimate)


def run(node: DifferencePlan, ctx) -> BitMap:
    first = ctx.run(node.first)
    return first - ctx.run(node.second) if first else first


def why(node: DifferencePlan, iid: int, explainer) -> list[str]:
    return explainer.why(node.first, iid)


OPERATOR = Operator("difference", "operands", Difference, check=check, plan=plan, run=run, why=why, arity=arity)
