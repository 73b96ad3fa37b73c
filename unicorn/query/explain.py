"""Lineage for `explain: true`: which terms and apply/extract paths produced a result.

`why` reads the results the evaluator traced per plan node and asks the node's operator (its
registered `why`, operators/): a term contributes its label (`name:jo`), an apply
`apply following: following:42 <- [reasons the inner query yielded user 42]`, an extract
`extract owner: media 7 <- [reasons for media 7]`. Explain refuses a plan holding an operator
without `why` (`require`), rather than leave its results unexplained. The request's deadline is
checked as operators look at apply expansions or extracted media (`ctx.check_time`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from unicorn.query import operators
from unicorn.query.operators.base import Empty, Plan


class UnexplainedOperator(NotImplementedError):
    """A plan holds an operator that has no `why`."""


def require(node: Plan) -> None:
    """Refuse to explain a plan holding an operator without `why`."""
    if not isinstance(node, Empty) and operators.of(node).why is None:
        raise UnexplainedOperator(f"operator {node.name!r} has no `why`: explain cannot say why it yields a document")
    for child in node.children():
        require(child)


def why(node: Plan, iid: int, ctx) -> list[str]:
    """The reasons plan `node` yielded document `iid`, from the evaluation context `ctx` (its trace)."""
    return _Explainer(ctx).why(node, iid)


class _Explainer:
    def __init__(self, ctx) -> None:
        self.ctx, self.view, self.trace = ctx, ctx.view, ctx.trace

    def why(self, node: Plan, iid: int) -> list[str]:
        if isinstance(node, Empty):
            return []
        explain = operators.of(node).why
        if explain is None:
            require(node)
        result = self.trace.get(id(node))
        if result is None or iid not in result:
            return []
        return explain(node, iid, self)

    def check_time(self) -> None:
        self.ctx.check_time()

    def checked(self, items: Iterable) -> Iterator:
        return self.ctx.checked(items)
