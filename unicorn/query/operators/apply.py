"""`apply PREFIX:` (docs/query-language.md): the or of `PREFIX:id` for every id the inner query yields.

More than `ctx.fanout` inner ids are cut to the best `fanout` in the inner vertical's static
order and the response is marked truncated. Edge prefixes (following, follower, liker) skip ids
whose edge terms the viewer may not see: their terms are empty.

Two strategies give the same documents. `run` unions the inner ids' postings (one C call).
`restrict(node, ctx, candidates)` answers `candidates & apply` from the candidates' side: a
candidate is in when its reverse edge posting (`follower:` for `following:`, `_liked:` for
`liker:`) meets the inner ids, or when its media link (owner, place, hashtags, mentions) points
into them. It takes the candidates' side when checking them costs less than reading the inner ids' postings.
"""

from __future__ import annotations

import numpy as np
from pyroaring import AbstractBitMap, BitMap

from unicorn.query import rank
from unicorn.query.plan import Apply

CHECK_EVERY = 256
REVERSE_EDGE = {"following": ("user", "follower"), "follower": ("user", "following"), "liker": ("user", "_liked")}
LINKED = frozenset({"owner", "place", "hashtag", "mention"})
POSTING_COST = 1.0  # per candidate checked through its reverse posting, relative to one inner posting
LINK_COST = 0.005  # per candidate checked through the media link columns


def run(node: Apply, ctx) -> BitMap:
    return _union(node, ctx, _inner(node, ctx))


def restrict(node: Apply, ctx, candidates: AbstractBitMap) -> BitMap:
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
    for n, (candidate, key) in enumerate(zip(candidates, keys)):
        if n % CHECK_EVERY == 0:
            ctx.check_time()
        if ctx.view.posting(vertical, f"{reverse}:{key}").intersect(inner):
            found.add(candidate)
    return found


def _union(node: Apply, ctx, ids: np.ndarray) -> BitMap:
    postings = []
    for n, ext in enumerate(_exts(ctx, node.inner.vertical, ids)):
        if n % CHECK_EVERY == 0:
            ctx.check_time()
        postings.append(ctx.view.posting(node.vertical, f"{node.prefix}:{ext}"))
    return BitMap.union(BitMap(), *postings) & ctx.vis.visible[node.vertical]


def _inner(node: Apply, ctx) -> np.ndarray:
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
    names = []
    for n, x in enumerate(ids.tolist()):
        if n % CHECK_EVERY == 0:
            ctx.check_time()
        names.append(ctx.view.ext("hashtag", x))
    return names
