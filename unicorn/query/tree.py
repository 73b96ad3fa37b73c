"""The query tree (docs/query-language.md) that parsing produces and type checking, planning and evaluation consume.

Each operator's node class lives in its module under operators/ and names the operator in `name`.
Every node carries `pos`: a 0-based character offset into s-expression text, or a JSON path
(`$.and[1]`) for the JSON form. Modifiers (`optional_hits`, `optional_weight`) may sit on any
node; type checking accepts them only on operands of an operator that takes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

Pos = int | str


@dataclass(eq=False)
class Node:
    name: ClassVar[str]  # the operator's query-language name
    pos: Pos
    optional_hits: int | None = field(default=None, kw_only=True)
    optional_weight: float | None = field(default=None, kw_only=True)
    vertical: str = field(default="", kw_only=True)  # set by type checking: what this node yields

    @property
    def has_modifier(self) -> bool:
        return self.optional_hits is not None or self.optional_weight is not None

    def children(self) -> list[Node]:
        return []


@dataclass(eq=False)
class NAry(Node):
    """An operator over one or more queries."""

    operands: list[Node]

    def children(self) -> list[Node]:
        return self.operands


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children."""
    yield node
    for child in node.children():
        yield from walk(child)
