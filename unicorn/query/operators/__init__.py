"""The query operators, one module each (see base.py for what a module provides), registered here once.

Parsing, type checking, planning, evaluation and explain find an operator by its
query-language name: `of(node)` for a tree or plan node, `REGISTRY[name]` for a name. Adding an
operator is its module plus its line in BUILTIN (or `register(module.OPERATOR)`).
"""

from __future__ import annotations

from unicorn.query.operators import and_, apply, difference, extract, ids, or_, strong_or, term, weak_and
from unicorn.query.operators.base import Operator
from unicorn.query.tree import Node, walk

BUILTIN = (term.OPERATOR, and_.OPERATOR, or_.OPERATOR, difference.OPERATOR, weak_and.OPERATOR,
           strong_or.OPERATOR, apply.OPERATOR, extract.OPERATOR)
REGISTRY: dict[str, Operator] = {}  # name -> operator, in the order error messages list them
INTERNAL: dict[str, Operator] = {ids.OPERATOR.name: ids.OPERATOR}  # planned and run, never parsed: no query names them


def register(operator: Operator) -> None:
    if operator.name in REGISTRY or operator.name in INTERNAL:
        raise ValueError(f"an operator named {operator.name!r} is already registered")
    REGISTRY[operator.name] = operator


def unregister(name: str) -> None:
    del REGISTRY[name]


def of(node) -> Operator:
    """The operator of a tree or plan node."""
    return REGISTRY.get(node.name) or INTERNAL[node.name]


def has_top_k(root: Node) -> bool:
    """Whether the tree contains a top-k operator (then docs/query-language.md's `total` is the number of results)."""
    return any(of(node).top_k for node in walk(root))


for _operator in BUILTIN:
    register(_operator)
