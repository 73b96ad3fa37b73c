"""`extract FIELD:` (SPEC §4): the visible entities that field FIELD of the inner query's media points to."""

from __future__ import annotations

from pyroaring import BitMap

from unicorn.query.plan import Extract

CHECK_EVERY = 1024
_FIELD = {"owner": 0, "place": 1, "hashtag": 2, "mention": 3}


def run(node: Extract, ctx) -> BitMap:
    slot = _FIELD[node.field]
    found = BitMap()
    for n, media in enumerate(ctx.run(node.inner)):
        if n % CHECK_EVERY == 0:
            ctx.check_time()
        links = ctx.view.links(media)
        if links is None:
            continue
        target = links[slot]
        if isinstance(target, list):
            found.update(target)
        elif target >= 0:
            found.add(target)
    return found & ctx.vis.visible[node.vertical]
