"""Runs a plan: each node's operator (its registered `run`, operators/) yields the node's visible documents
as a bitmap, within the request's time budget."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pyroaring import AbstractBitMap, BitMap

from unicorn.errors import QueryError
from unicorn.query import operators, plan
from unicorn.query.operators.base import CHECK_EVERY, Empty, Plan
from unicorn.query.privacy import Visibility
from unicorn.query.tree import Node


APPLY_FANOUT_MAX = 100_000  # docs/query-language.md's default


@dataclass
class Context:
    """What every operator step needs: the snapshot, the viewer's visibility and the request's limits."""

    view: object
    vis: Visibility
    limit: int
    deadline: float  # time.perf_counter() past which the request fails with `timeout`
    fanout: int = APPLY_FANOUT_MAX  # inner ids an apply or-s at most
    truncated: bool = False  # an apply was cut to `fanout` inner ids
    trace: dict | None = None  # id(plan node) -> result, and (id, "via") -> apply expansions, for explain
    budget_ms: float = field(default=0.0)
    what: str = "query"  # what the timeout message says ran past the budget

    def check_time(self) -> None:
        if time.perf_counter() > self.deadline:
            raise QueryError("timeout", f"the {self.what} ran past its time budget of {self.budget_ms:g} ms")

    def checked(self, items: Iterable) -> Iterator:
        """`items`, checking the deadline every CHECK_EVERY of them."""
        for n, item in enumerate(items):
            if n % CHECK_EVERY == 0:
                self.check_time()
            yield item

    def run(self, node: Plan) -> BitMap:
        return evaluate(node, self)

    def restrict(self, node: Plan, candidates: AbstractBitMap) -> BitMap:
        """`candidates & run(node)`; by the operator's own `restrict` when it has one (then that is what is traced)."""
        restrict = None if isinstance(node, Empty) else operators.of(node).restrict
        if restrict is None:
            return candidates & self.run(node)
        self.check_time()
        found = restrict(node, self, candidates)
        if self.trace is not None:
            self.trace[id(node)] = found
        return found

    def execute(self, root: Node) -> BitMap:
        """The documents a type-checked tree yields to this viewer: planned and run here."""
        return evaluate(plan.plan(root, self.view, self.vis, self.limit, self.check_time), self)


def evaluate(node: Plan, ctx: Context) -> BitMap:
    ctx.check_time()
    result = BitMap() if isinstance(node, Empty) else operators.of(node).run(node, ctx)
    if ctx.trace is not None:
        ctx.trace[id(node)] = result
    return result
