"""`extract FIELD:` (docs/query-language.md): the visible entities that field FIELD of the inner query's media points
to, read from the index's link columns (one numpy gather over the inner media)."""

from __future__ import annotations

from pyroaring import BitMap

from unicorn.query.plan import Extract


def run(node: Extract, ctx) -> BitMap:
    media = ctx.run(node.inner)
    ctx.check_time()
    return BitMap(ctx.view.link_columns().targets(node.field, media)) & ctx.vis.visible[node.vertical]
