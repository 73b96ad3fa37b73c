"""`apply PREFIX:` (docs/query-language.md): the or of `PREFIX:id` for every id the inner query yields.

More than `ctx.fanout` inner ids are cut to the best `fanout` in the inner vertical's static
order and the response is marked truncated. Edge prefixes (following, follower, liker) skip ids
whose edge terms the viewer may not see: their terms are empty.

Two strategies give the same documents. `run` unions the inner ids' postings (one C call).
`restrict(node, ctx, candidates)` answers `candidates & apply` from the candidates' side: a
candidate is in when its reverse edge posting (`follower:` for `following:`, `_liked:` for
`liker:`) meets the inner ids, or when its media link (owner, place, hashtags, mentions) points
into them. It takes the candidates' side when checking them costs less than reading the inner ids' postings.

Explain lists up to PATHS paths: `apply following: following:42 <- [reasons the inner query
yielded user 42]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from pyroaring import AbstractBitMap, BitMap

from unicorn.errors import bad_query
from unicorn.query import rank
from unicorn.query.operators.base import PATHS, Empty, Operator, Plan
from unicorn.query.operators.term import TERMS, listed
from unicorn.query.tree import Node
from vocabulary import terms
from vocabulary.schema import EDGE_PREFIXES, VERTICALS

REVERSE_EDGE = {"following": ("user", terms.follower), "follower": ("user", terms.following),
                "liker": ("user", terms.liked)}
LINKED = frozenset({"owner", "place", "hashtag", "mention"})
POSTING_COST = 1.0  # per candidate checked through its reverse posting, relative to one inner posting
LINK_COST = 0.005  # per candidate checked through the media link columns


@dataclass(eq=False)
class Apply(Node):
    name: ClassVar[str] = "apply"
    prefix: str  # "following": or of the terms following:X for every X the inner query yields
    inner: Node

    def children(self) -> list[Node]:
        return [self.inner]


@dataclass(eq=False)
class ApplyPlan(Plan):
    name: ClassVar[str] = "apply"
    prefix: str
    inner: Plan
    edge: bool  # following:/follower:/liker: terms, empty when the viewer may not see X

    def children(self) -> list[Plan]:
        return [self.inner]


def check(node: Apply, checker) -> None:
    vertical = node.vertical
    kinds = TERMS[vertical]
    if node.prefix.startswith("_"):
        raise bad_query(f"internal prefix '{node.prefix}:' cannot be queried", node.pos)
    inner = kinds.get(node.prefix)
    if inner not in VERTICALS:
        raise bad_query(f"'apply {node.prefix}:' does not give {vertical}; "
                        f"{vertical} applies {listed(p for p, k in kinds.items() if k in VERTICALS)}", node.pos)
    checker.check(node.inner, inner, node)


def plan(node: Apply, planner) -> Plan:
    inner = planner.plan(node.inner)
    if isinstance(inner, Empty):
        return Empty(node.vertical, node)
    return ApplyPlan(node.vertical, node, node.prefix, inner, node.prefix in EDGE_PREFIXES)


def run(node: ApplyPlan, ctx) -> BitMap:
    return _union(node, ctx, _inner(node, ctx))


def restrict(node: ApplyPlan, ctx, candidates: AbstractBitMap) -> BitMap:
    """`candidates & run(node, ctx)` for visible documents of `node.vertical`, by the cheaper strategy."""
    ids = _inner(node, ctx)
    cost = len(candidates) * (LINK_COST if node.prefix in LINKED else POSTING_COST)
    if cost >= len(ids):
        return candidates & _union(node, ctx, ids)
    inner = BitMap(ids.tolist())
    if node.prefix in LINKED:
        return ctx.view.link_columns().pointing(node.prefix, candidates, inner)
    vertical, reverse = REVERSE_EDGE[node.prefix]
    keys = ctx.view.rank(node.vertical).ext_id[rank.as_array(candidates)].tolist()
    found = BitMap()
    for candidate, key in ctx.checked(zip(candidates, keys)):
        if ctx.view.posting(vertical, reverse(key)).intersect(inner):
            found.add(candidate)
    return found


def _union(node: ApplyPlan, ctx, ids: np.ndarray) -> BitMap:
    postings = [ctx.view.posting(node.vertical, terms.term(node.prefix, ext))
                for ext in ctx.checked(_exts(ctx, node.inner.vertical, ids))]
    return BitMap.union(BitMap(), *postings) & ctx.vis.visible[node.vertical]


def _inner(node: ApplyPlan, ctx) -> np.ndarray:
    """The inner ids whose terms are or-ed: cut to the fan-out, visible edges only (traced for explain)."""
    inner = ctx.run(node.inner)
    vertical = node.inner.vertical
    if len(inner) > ctx.fanout:
        ids = rank.top_k(ctx.view, vertical, inner, ctx.fanout)
        ctx.truncated = True
        if node.edge and ctx.vis.hidden_edges:
            ids = ids[~np.isin(ids, rank.as_array(ctx.vis.hidden_edges))]
    else:
        ids = rank.as_array(inner - ctx.vis.hidden_edges if node.edge else inner)
    if ctx.trace is not None:
        ctx.trace[(id(node), "via")] = list(zip(ids.tolist(), _exts(ctx, vertical, ids)))
    return ids


def _exts(ctx, vertical: str, ids: np.ndarray) -> list:
    if vertical != "hashtag":
        return ctx.view.rank(vertical).ext_id[ids].tolist()
    return [ctx.view.ext("hashtag", x) for x in ctx.checked(ids.tolist())]


def why(node: ApplyPlan, iid: int, explainer) -> list[str]:
    paths = []
    for inner_iid, ext in explainer.checked(explainer.trace.get((id(node), "via"), [])):
        term = terms.term(node.prefix, ext)
        if iid in explainer.view.posting(node.vertical, term):
            inner = explainer.why(node.inner, inner_iid)
            paths.append(f"apply {node.prefix}: {term} <- [{', '.join(inner)}]")
            if len(paths) == PATHS:
                break
    return paths


OPERATOR = Operator("apply", "prefix", Apply, check=check, plan=plan, run=run, why=why, restrict=restrict)
