"""`ids`: given documents by external id, the leaf an aggregator puts where it ran a step over all shards
(an extract, a weak-and, a strong-or) before it sends the query to each shard (unicorn.aggregator). No
query names it: it is registered as an internal operator (operators.INTERNAL), which parsing and type
checking do not know. It yields the visible documents among its ids that the index holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from pyroaring import BitMap

from unicorn.query.operators.base import Empty, Operator, Plan
from unicorn.query.operators.term import TermPlan
from unicorn.query.tree import Node


@dataclass(eq=False)
class Ids(Node):
    name: ClassVar[str] = "ids"
    ids: list = field(default_factory=list)  # external ids (hashtag names)


def _check(node: Ids, checker) -> None:
    raise TypeError("'ids' is internal: no query names it")


def plan(node: Ids, planner) -> Plan:
    planner.check_time()
    local = BitMap(i for i in (planner.view.iid(node.vertical, e) for e in node.ids) if i is not None)
    local &= planner.vis.visible[node.vertical]
    if not local:
        return Empty(node.vertical, node)
    return TermPlan(node.vertical, node, "ids", [local], planner.vis.visible[node.vertical], estimate=len(local))


def run(node, ctx) -> BitMap:
    raise AssertionError("an 'ids' node plans to a term plan")


OPERATOR = Operator("ids", "operands", Ids, check=_check, plan=plan, run=run)
