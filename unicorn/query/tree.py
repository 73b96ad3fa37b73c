"""The typed query tree (docs/query-language.md) that parsing produces and type checking, planning and evaluation consume.

Every node carries `pos`: a 0-based character offset into s-expression text, or a JSON path
(`$.and[1]`) for the JSON form. Modifiers (`optional_hits`, `optional_weight`) may sit on any
node; type checking accepts them only on operands of `weak-and` / `strong-or`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Pos = int | str


@dataclass(eq=False)
class Node:
    pos: Pos
    optional_hits: int | None = field(default=None, kw_only=True)
    optional_weight: float | None = field(default=None, kw_only=True)
    vertical: str = field(default="", kw_only=True)  # set by type checking: what this node yields

    @property
    def has_modifier(self) -> bool:
        return self.optional_hits is not None or self.optional_weight is not None


@dataclass(eq=False)
class Term(Node):
    prefix: str  # without the colon: "name"
    value: str  # as written (unquoted, unescaped), normalized by type checking


@dataclass(eq=False)
class NAry(Node):
    operands: list[Node]


class And(NAry):
    name = "and"


class Or(NAry):
    name = "or"


class Difference(NAry):
    name = "difference"  # exactly two operands: first minus second


class WeakAnd(NAry):
    name = "weak-and"


class StrongOr(NAry):
    name = "strong-or"


@dataclass(eq=False)
class Apply(Node):
    prefix: str  # "following": or of the terms following:X for every X the inner query yields
    inner: Node


@dataclass(eq=False)
class Extract(Node):
    field: str  # "owner": the entities that field of the inner query's media points to
    inner: Node


OPERATORS: dict[str, type[NAry]] = {cls.name: cls for cls in (And, Or, Difference, WeakAnd, StrongOr)}


def walk(node: Node):
    """Every node of the tree, parents before children."""
    yield node
    if isinstance(node, NAry):
        for operand in node.operands:
            yield from walk(operand)
    elif isinstance(node, (Apply, Extract)):
        yield from walk(node.inner)


def has_top_k(node: Node) -> bool:
    """Whether the tree contains weak-and or strong-or (then docs/query-language.md's `total` is the number of results)."""
    return any(isinstance(n, (WeakAnd, StrongOr)) for n in walk(node))
