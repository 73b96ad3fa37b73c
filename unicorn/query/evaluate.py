"""Runs a plan: each node's operator (operators/) yields the node's visible documents as a bitmap."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pyroaring import BitMap

from unicorn.errors import QueryError
from unicorn.query import plan as p
from unicorn.query.operators import apply, difference, extract, intersect, strong_or, term, union, weak_and
from unicorn.query.privacy import Visibility

OPERATORS = {
    p.TermScan: term.run,
    p.Intersect: intersect.run,
    p.Union: union.run,
    p.Subtract: difference.run,
    p.WeakAnd: weak_and.run,
    p.StrongOr: strong_or.run,
    p.Apply: apply.run,
    p.Extract: extract.run,
}


@dataclass
class Context:
    """What every operator step needs: the snapshot, the viewer's visibility and the request's limits."""

    view: object
    vis: Visibility
    limit: int
    fanout: int
    deadline: float  # time.perf_counter() past which the query fails with `timeout`
    truncated: bool = False  # an apply was cut to `fanout` inner ids
    trace: dict | None = None  # id(plan node) -> result, and (id, "via") -> apply expansions, for explain
    budget_ms: float = field(default=0.0)

    def check_time(self) -> None:
        if time.perf_counter() > self.deadline:
            raise QueryError("timeout", f"the query ran past its time budget of {self.budget_ms:g} ms")

    def run(self, node: p.Plan) -> BitMap:
        return evaluate(node, self)


def evaluate(node: p.Plan, ctx: Context) -> BitMap:
    ctx.check_time()
    result = BitMap() if isinstance(node, p.Empty) else OPERATORS[type(node)](node, ctx)
    if ctx.trace is not None:
        ctx.trace[id(node)] = result
    return result
