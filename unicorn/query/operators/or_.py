"""`or` (docs/query-language.md): the documents any operand yields. Planning flattens nested `or`s and drops
empty operands; running unions plain terms' postings before restricting them to the visible set
(unless explain needs each operand's own result)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pyroaring import BitMap

from unicorn.query.operators.base import UNKNOWN, Empty, Operator, Plan, check_operands
from unicorn.query.tree import NAry


@dataclass(eq=False)
class Or(NAry):
    name: ClassVar[str] = "or"


@dataclass(eq=False)
class OrPlan(Plan):
    name: ClassVar[str] = "or"
    operands: list[Plan]

    def children(self) -> list[Plan]:
        return self.operands


def _flat(node: Or, planner) -> list[Plan]:
    plans = []
    for operand in node.operands:
        if isinstance(operand, Or):
            plans.extend(_flat(operand, planner))
        else:
            plans.append(planner.plan(operand))
    return plans


def plan(node: Or, planner) -> Plan:
    operands = [p for p in _flat(node, planner) if not isinstance(p, Empty)]
    if not operands:
        return Empty(node.vertical, node)
    if len(operands) == 1:
        return operands[0]
    return OrPlan(node.vertical, node, operands, estimate=min(UNKNOWN, sum(p.estimate for p in operands)))


def run(node: OrPlan, ctx) -> BitMap:
    if ctx.trace is not None:  # explain reads each operand's result
        return BitMap.union(*(ctx.run(operand) for operand in node.operands))
    plain, rest = [], []
    for operand in node.operands:
        if _plain(operand):
            plain.append(operand)
        else:
            rest.append(ctx.run(operand))
    if not plain:
        return BitMap.union(*rest)
    union = BitMap.union(BitMap(), *(o.postings[0] for o in plain)) & plain[0].visible
    return BitMap.union(union, *rest)


def _plain(node: Plan) -> bool:
    """A term of one posting with nothing to verify: its documents are its posting's visible ones, so an
    `or` takes the union of such postings first and restricts it to the visible set once."""
    return node.name == "term" and len(node.postings) == 1 and node.verify is None


def why(node: OrPlan, iid: int, explainer) -> list[str]:
    return [r for o in node.operands for r in explainer.why(o, iid)]


OPERATOR = Operator("or", "operands", Or, check=check_operands, plan=plan, run=run, why=why)
