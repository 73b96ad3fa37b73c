"""`extract FIELD:` (docs/query-language.md): the visible entities that field FIELD of the inner query's media points
to, read from the index's link columns (one numpy gather over the inner media).

Explain lists up to PATHS paths, looking at up to EXTRACT_SCAN inner media: `extract owner:
media 7 <- [reasons the inner query yielded media 7]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pyroaring import BitMap

from unicorn.errors import bad_query
from unicorn.query.operators.base import CHECK_EVERY, PATHS, Empty, Operator, Plan
from unicorn.query.operators.term import listed
from unicorn.query.tree import Node
from vocabulary.schema import EXTRACT as EXTRACT_VERTICALS

# extract field -> the vertical it gives (its inner query is always media)
EXTRACT = {field: gives for field, (_, gives) in EXTRACT_VERTICALS.items()}
EXTRACT_SCAN = 10_000


@dataclass(eq=False)
class Extract(Node):
    name: ClassVar[str] = "extract"
    field: str  # "owner": the entities that field of the inner query's media points to
    inner: Node

    def children(self) -> list[Node]:
        return [self.inner]


@dataclass(eq=False)
class ExtractPlan(Plan):
    name: ClassVar[str] = "extract"
    field: str
    inner: Plan

    def children(self) -> list[Plan]:
        return [self.inner]


def check(node: Extract, checker) -> None:
    vertical = node.vertical
    if EXTRACT.get(node.field) != vertical:
        raise bad_query(f"'extract {node.field}:' does not give {vertical}; "
                        f"{vertical} extracts {listed(f for f, v in EXTRACT.items() if v == vertical)}", node.pos)
    checker.check(node.inner, "media", node)


def plan(node: Extract, planner) -> Plan:
    inner = planner.plan(node.inner)
    return Empty(node.vertical, node) if isinstance(inner, Empty) else ExtractPlan(node.vertical, node, node.field, inner)


def run(node: ExtractPlan, ctx) -> BitMap:
    media = ctx.run(node.inner)
    ctx.check_time()
    return ctx.view.link_columns().target_set(node.field, media) & ctx.vis.visible[node.vertical]


def why(node: ExtractPlan, iid: int, explainer) -> list[str]:
    view, columns, paths = explainer.view, explainer.view.link_columns(), []
    for n, media in enumerate(explainer.trace.get(id(node.inner), ())):
        if n == EXTRACT_SCAN or len(paths) == PATHS:
            break
        if n % CHECK_EVERY == 0:
            explainer.check_time()
        if iid in columns.of(node.field, media):
            inner = explainer.why(node.inner, media)
            paths.append(f"extract {node.field}: media {view.ext('media', media)} <- [{', '.join(inner)}]")
    return paths


OPERATOR = Operator("extract", "prefix", Extract, check=check, plan=plan, run=run, why=why)
