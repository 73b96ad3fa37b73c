"""A term: the intersection of its postings, within the vertical's visible set, verified past PREFIX_MAX."""

from __future__ import annotations

from pyroaring import BitMap

from unicorn.query.plan import TermScan
from vocabulary import text


def run(node: TermScan, ctx) -> BitMap:
    postings = sorted(node.postings, key=len)
    result = BitMap(postings[0])
    for posting in postings[1:]:
        result &= posting
    result &= node.visible
    if node.verify is not None:
        result = BitMap(i for i in result if _verified(ctx, node, i))
    return result


def _verified(ctx, node: TermScan, iid: int) -> bool:
    kind, values = node.verify
    ctx.check_time()
    if kind == "prefix":  # a hashtag: its whole name starts with the value
        return str(ctx.view.ext(node.vertical, iid)).startswith(values[0])
    doc = ctx.view.doc(node.vertical, iid) or {}
    fields = ("username", "full_name") if node.vertical == "user" else ("name",)
    tokens = [t for f in fields for t in text.tokens(doc.get(f) or "")]
    return all(any(t.startswith(v) for t in tokens) for v in values)
