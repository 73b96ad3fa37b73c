"""Typed tree -> executable plan, against one index snapshot and one viewer.

Each operator plans its own node (its registered `plan`, operators/): terms fetch their postings
once and carry their vertical's visible set (privacy pushed to the leaves), empty operands drop
out or short-circuit, `and` orders its operands cheapest first, and the top-k operators fix their
budgets and quotas for the limit.
"""

from __future__ import annotations

from collections.abc import Callable

from unicorn.query import operators
from unicorn.query.operators.base import Plan
from unicorn.query.privacy import Visibility
from unicorn.query.tree import Node


def plan(node: Node, view, vis: Visibility, limit: int, check_time: Callable[[], None] = lambda: None) -> Plan:
    """The executable plan of a type-checked tree; `check_time` is called before each term's postings are read."""
    return _Planner(view, vis, limit, check_time).plan(node)


class _Planner:
    def __init__(self, view, vis: Visibility, limit: int, check_time: Callable[[], None]) -> None:
        self.view, self.vis, self.limit, self.check_time = view, vis, limit, check_time

    def plan(self, node: Node) -> Plan:
        return operators.of(node).plan(node, self)
