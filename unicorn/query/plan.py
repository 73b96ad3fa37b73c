"""Typed tree -> executable plan, against one index snapshot and one viewer.

The planner fetches each term's postings once, pushes privacy to the leaves (a term carries its
vertical's visible set; an edge term the viewer may not see becomes empty), flattens nested
and/or, drops or short-circuits empty operands, orders `and` operands cheapest first (terms by
posting size before apply/extract), and fixes weak-and budgets and strong-or quotas for the limit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from pyroaring import AbstractBitMap

from unicorn.query import tree
from unicorn.query.privacy import Visibility
from vocabulary.schema import EDGE_PREFIXES, PREFIX_MAX

UNKNOWN = 1 << 62  # estimate for operators whose size is only known by running them


@dataclass(eq=False)
class Plan:
    vertical: str
    source: tree.Node
    estimate: int = field(default=UNKNOWN, kw_only=True)


@dataclass(eq=False)
class Empty(Plan):
    estimate: int = field(default=0, kw_only=True)


@dataclass(eq=False)
class TermScan(Plan):
    label: str  # the term as the user wrote it, normalized: "name:jo"
    postings: list[AbstractBitMap]  # intersected, then restricted to `visible`
    visible: AbstractBitMap
    verify: tuple[str, list[str]] | None = None  # ("tokens", long tokens) or ("prefix", name): past PREFIX_MAX


@dataclass(eq=False)
class Intersect(Plan):
    operands: list[Plan]


@dataclass(eq=False)
class Union(Plan):
    operands: list[Plan]


@dataclass(eq=False)
class Subtract(Plan):
    first: Plan
    second: Plan


@dataclass(eq=False)
class WeakAnd(Plan):
    required: list[Plan]
    optional: list[tuple[Plan, int]]  # (operand, budget)
    limit: int


@dataclass(eq=False)
class StrongOr(Plan):
    operands: list[tuple[Plan, int | None]]  # (operand, quota or None), in the order written
    limit: int


@dataclass(eq=False)
class Apply(Plan):
    prefix: str
    inner: Plan
    edge: bool  # following:/follower:/liker: terms, empty when the viewer may not see X


@dataclass(eq=False)
class Extract(Plan):
    field: str
    inner: Plan


def plan(node: tree.Node, view, vis: Visibility, limit: int, check_time: Callable[[], None] = lambda: None) -> Plan:
    """The executable plan of a type-checked tree; `check_time` is called before each term's postings are read."""
    return _Planner(view, vis, limit, check_time).plan(node)


class _Planner:
    def __init__(self, view, vis: Visibility, limit: int, check_time: Callable[[], None]) -> None:
        self.view, self.vis, self.limit, self.check_time = view, vis, limit, check_time

    def plan(self, node: tree.Node) -> Plan:
        v = node.vertical
        if isinstance(node, tree.Term):
            return self.term(node)
        if isinstance(node, tree.Apply):
            inner = self.plan(node.inner)
            if isinstance(inner, Empty):
                return Empty(v, node)
            return Apply(v, node, node.prefix, inner, node.prefix in EDGE_PREFIXES)
        if isinstance(node, tree.Extract):
            inner = self.plan(node.inner)
            return Empty(v, node) if isinstance(inner, Empty) else Extract(v, node, node.field, inner)
        if isinstance(node, tree.And):
            return self.conjunction(node)
        if isinstance(node, tree.Or):
            return self.disjunction(node)
        if isinstance(node, tree.Difference):
            first, second = (self.plan(o) for o in node.operands)
            if isinstance(first, Empty) or isinstance(second, Empty):
                return first
            return Subtract(v, node, first, second, estimate=first.estimate)
        if isinstance(node, tree.WeakAnd):
            return self.weak_and(node)
        if isinstance(node, tree.StrongOr):
            return self.strong_or(node)
        raise TypeError(f"unknown node {node!r}")

    def _flat(self, node: tree.NAry, kind: type[tree.NAry]) -> list[Plan]:
        plans = []
        for operand in node.operands:
            if isinstance(operand, kind):
                plans.extend(self._flat(operand, kind))
            else:
                plans.append(self.plan(operand))
        return plans

    def conjunction(self, node: tree.And) -> Plan:
        operands = self._flat(node, tree.And)
        if any(isinstance(p, Empty) for p in operands):
            return Empty(node.vertical, node)
        if len(operands) == 1:
            return operands[0]
        operands.sort(key=lambda p: (not isinstance(p, TermScan), p.estimate))
        return Intersect(node.vertical, node, operands, estimate=min(p.estimate for p in operands))

    def disjunction(self, node: tree.Or) -> Plan:
        operands = [p for p in self._flat(node, tree.Or) if not isinstance(p, Empty)]
        if not operands:
            return Empty(node.vertical, node)
        if len(operands) == 1:
            return operands[0]
        return Union(node.vertical, node, operands, estimate=min(UNKNOWN, sum(p.estimate for p in operands)))

    def weak_and(self, node: tree.WeakAnd) -> Plan:
        required, optional = [], []
        for operand in node.operands:
            p = self.plan(operand)
            if operand.optional_hits is not None:
                optional.append((p, operand.optional_hits))
            elif operand.optional_weight is not None:
                optional.append((p, math.floor(operand.optional_weight * self.limit)))
            else:
                required.append(p)
        if any(isinstance(p, Empty) for p in required):
            return Empty(node.vertical, node)
        return WeakAnd(node.vertical, node, required, optional, self.limit, estimate=self.limit)

    def strong_or(self, node: tree.StrongOr) -> Plan:
        operands = []
        for operand in node.operands:
            weight = operand.optional_weight
            quota = None if weight is None else math.floor(weight * self.limit)
            operands.append((self.plan(operand), quota))
        if all(isinstance(p, Empty) for p, _ in operands):
            return Empty(node.vertical, node)
        return StrongOr(node.vertical, node, operands, self.limit, estimate=self.limit)

    def term(self, node: tree.Term) -> Plan:
        self.check_time()
        v, prefix, value = node.vertical, node.prefix, node.value
        label = f"{prefix}:{value}"
        verify = None
        if prefix in EDGE_PREFIXES:
            x = self.view.iid("user", int(value))
            if x is None or not self.vis.edge_visible(x):
                return Empty(v, node)
        if prefix == "name" and v in ("user", "place"):
            tokens = value.split()
            cut = PREFIX_MAX
            terms = [f"name:{t[:cut]}" for t in tokens]
            long = [t for t in tokens if len(t) > cut]
            verify = ("tokens", long) if long else None
        elif prefix == "name":  # hashtag: the whole name starts with the value
            cut = PREFIX_MAX
            terms = [f"name:{value[:cut]}"]
            verify = ("prefix", [value]) if len(value) > cut else None
        else:
            terms = [label]
        if not terms:
            return Empty(v, node)
        postings = [self.view.posting(v, t) for t in dict.fromkeys(terms)]
        estimate = min(len(p) for p in postings)
        if estimate == 0:
            return Empty(v, node)
        return TermScan(v, node, label, postings, self.vis.visible[v], verify, estimate=estimate)
