"""What a query operator is: its stages in one record, the plan nodes they pass along, and what each
stage hands an operator.

An operator is one module under operators/ holding its tree node, its plan node and an
`OPERATOR = Operator(...)` record, listed once in operators/__init__.py. The stages read that
registry by the node's `name`, which is the operator's query-language name through every stage:

- parse: `syntax` says how it is written: "term" (`PREFIX:VALUE`), "prefix" (a prefix and one
  query, as `apply` and `extract`) or "operands" (one or more queries); the parser builds `node`
  from what it read, and `arity` (optional) refuses a wrong number of operands;
- type check: `check(node, checker)` checks the node for `node.vertical` and checks its children
  (`checker.check(child, vertical, node)`); `operand_modifiers` names the modifiers its operands
  may carry (none by default);
- plan: `plan(node, planner) -> Plan` against the request's snapshot and viewer;
- run: `run(plan, ctx) -> BitMap`, the plan node's visible documents; `restrict(plan, ctx,
  candidates)` (optional) answers `candidates & run(plan, ctx)` more cheaply;
- explain: `why(plan, iid, explainer) -> [reasons]` for a document the plan node yielded; an
  operator without `why` makes explain refuse;
- `top_k`: whether the operator is a top-k one (then a query's `total` is its number of results).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from pyroaring import AbstractBitMap, BitMap

from unicorn.query.tree import Node, Pos

UNKNOWN = 1 << 62  # estimate for operators whose size is only known by running them
CHECK_EVERY = 256  # items an operator looks at between deadline checks (`ctx.checked`)
PATHS = 3  # explain lists at most this many paths per apply or extract
SYNTAXES = ("term", "prefix", "operands")


@dataclass(eq=False)
class Plan:
    """An executable node: what its operator needs to run, planned for one snapshot and viewer."""

    name: ClassVar[str] = ""  # its operator
    vertical: str
    source: Node
    estimate: int = field(default=UNKNOWN, kw_only=True)

    def children(self) -> list[Plan]:
        return []


@dataclass(eq=False)
class Empty(Plan):
    """A node known to yield nothing; no operator runs it."""

    estimate: int = field(default=0, kw_only=True)


class Checker(Protocol):
    def check(self, node: Node, vertical: str, parent: Node | None) -> None: ...


class Planner(Protocol):
    view: object
    vis: object  # unicorn.query.privacy.Visibility
    limit: int

    def plan(self, node: Node) -> Plan: ...

    def check_time(self) -> None: ...


class Context(Protocol):
    view: object
    vis: object  # unicorn.query.privacy.Visibility
    limit: int
    fanout: int
    truncated: bool
    trace: dict | None

    def run(self, node: Plan) -> BitMap: ...

    def restrict(self, node: Plan, candidates: AbstractBitMap) -> BitMap: ...

    def check_time(self) -> None: ...

    def checked(self, items: Iterable) -> Iterator: ...


class Explainer(Protocol):
    view: object
    trace: dict

    def why(self, node: Plan, iid: int) -> list[str]: ...

    def check_time(self) -> None: ...

    def checked(self, items: Iterable) -> Iterator: ...


@dataclass(frozen=True)
class Operator:
    name: str
    syntax: str
    node: type[Node]
    check: Callable[[Node, Checker], None]
    plan: Callable[[Node, Planner], Plan]
    run: Callable[[Plan, Context], BitMap]
    why: Callable[[Plan, int, Explainer], list[str]] | None = None
    restrict: Callable[[Plan, Context, AbstractBitMap], BitMap] | None = None
    arity: Callable[[list[Node], Pos], None] | None = None
    operand_modifiers: tuple[str, ...] = ()
    top_k: bool = False

    def __post_init__(self) -> None:
        if self.syntax not in SYNTAXES:
            raise ValueError(f"operator {self.name!r}: syntax must be one of {SYNTAXES}, got {self.syntax!r}")
        if self.node.name != self.name:
            raise ValueError(f"operator {self.name!r}: its node class is named {self.node.name!r}")


def check_operands(node: Node, checker: Checker) -> None:
    """Each operand yields the node's own vertical."""
    for operand in node.children():
        checker.check(operand, node.vertical, node)
