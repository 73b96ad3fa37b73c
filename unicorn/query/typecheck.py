"""Verticals and values (docs/query-language.md §4): checks a parsed tree for one vertical and normalizes term values.

After `check(tree, vertical)` every node's `vertical` is what it yields and every term value is
normalized (operators/term.py). Each operator checks its own node (its registered `check`); a
modifier is accepted only on an operand of an operator whose `operand_modifiers` name it.
"""

from __future__ import annotations

from unicorn.errors import QueryError, bad_query
from unicorn.query import operators
from unicorn.query.tree import Node
from unicorn.query.values import decimal, shown
from vocabulary.schema import VERTICALS

__all__ = ["check", "check_vertical", "decimal", "shown"]  # decimal and shown: the API's parameters use them too


def check_vertical(vertical: str) -> str:
    if vertical not in VERTICALS:
        raise QueryError("bad_request", f"unknown vertical {vertical!r}; expected one of {', '.join(VERTICALS)}")
    return vertical


def check(node: Node, vertical: str) -> Node:
    """Type-check `node` as a query of `vertical`; returns it annotated and normalized."""
    check_vertical(vertical)
    _Checker().check(node, vertical, None)
    return node


class _Checker:
    def check(self, node: Node, vertical: str, parent: Node | None) -> None:
        node.vertical = vertical
        _check_modifier(node, parent)
        operators.of(node).check(node, self)


def _check_modifier(node: Node, parent: Node | None) -> None:
    if not node.has_modifier:
        return
    takes = () if parent is None else operators.of(parent).operand_modifiers
    if not takes:
        takers = [op.name for op in operators.REGISTRY.values() if op.operand_modifiers]
        raise bad_query(f"a modifier applies only to an operand of {' or '.join(takers)}", node.pos)
    for used, value in (("optional-hits", node.optional_hits), ("optional-weight", node.optional_weight)):
        if value is not None and used not in takes:
            takers = [op.name for op in operators.REGISTRY.values() if used in op.operand_modifiers]
            raise bad_query(f"':{used}' applies to {' and '.join(takers)} operands; "
                            f"{parent.name} takes {', '.join(':' + m for m in takes)}", node.pos)
