"""`apply PREFIX:` (SPEC §4): the or of `PREFIX:id` for every id the inner query yields.

More than `ctx.fanout` inner ids are cut to the best `fanout` in the inner vertical's static
order and the response is marked truncated. Edge prefixes (following, follower, liker) skip ids
whose edge terms the viewer may not see: their terms are empty.
"""

from __future__ import annotations

import numpy as np
from pyroaring import BitMap

from unicorn.query import rank
from unicorn.query.plan import Apply

CHECK_EVERY = 256


def run(node: Apply, ctx) -> BitMap:
    inner = ctx.run(node.inner)
    vertical = node.inner.vertical
    if len(inner) > ctx.fanout:
        ids = rank.top_k(ctx.view, vertical, inner, ctx.fanout)
        ctx.truncated = True
    else:
        ids = rank.as_array(inner)
    if node.edge and ctx.vis.hidden_edges:
        ids = ids[~np.isin(ids, rank.as_array(ctx.vis.hidden_edges))]
    if vertical == "hashtag":
        exts = [ctx.view.ext("hashtag", x) for x in ids.tolist()]
    else:
        exts = ctx.view.rank(vertical).ext_id[ids].tolist()
    postings = []
    for n, ext in enumerate(exts):
        if n % CHECK_EVERY == 0:
            ctx.check_time()
        postings.append(ctx.view.posting(node.vertical, f"{node.prefix}:{ext}"))
    if ctx.trace is not None:
        ctx.trace[(id(node), "via")] = list(zip(ids.tolist(), exts, postings))
    return BitMap.union(BitMap(), *postings) & ctx.vis.visible[node.vertical]
