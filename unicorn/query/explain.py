"""Lineage for `explain: true`: which terms and apply/extract paths produced a result.

`why` reads the results the evaluator traced per plan node. A term contributes its label
(`name:jo`); an apply contributes `apply following: following:42 <- [reasons the inner query
yielded user 42]`; an extract contributes `extract owner: media 7 <- [reasons for media 7]`.
At most `PATHS` paths are listed per apply or extract. The request's deadline is checked every
`CHECK_EVERY` apply expansions or extracted media looked at (`ctx.check_time`).
"""

from __future__ import annotations

from unicorn.query import plan as p

PATHS = 3
EXTRACT_SCAN = 10_000
CHECK_EVERY = 256


def why(node: p.Plan, iid: int, ctx) -> list[str]:
    """The reasons plan `node` yielded document `iid`, from the evaluation context `ctx` (its trace)."""
    trace, view = ctx.trace, ctx.view
    result = trace.get(id(node))
    if result is None or iid not in result:
        return []
    if isinstance(node, p.TermScan):
        return [node.label]
    if isinstance(node, (p.Intersect, p.Union)):
        return [r for o in node.operands for r in why(o, iid, ctx)]
    if isinstance(node, p.Subtract):
        return why(node.first, iid, ctx)
    if isinstance(node, p.WeakAnd):
        return [r for o in [*node.required, *(o for o, _ in node.optional)] for r in why(o, iid, ctx)]
    if isinstance(node, p.StrongOr):
        return [r for o, _ in node.operands for r in why(o, iid, ctx)]
    if isinstance(node, p.Apply):
        paths = []
        for n, (inner_iid, ext) in enumerate(trace.get((id(node), "via"), [])):
            if n % CHECK_EVERY == 0:
                ctx.check_time()
            if iid in view.posting(node.vertical, f"{node.prefix}:{ext}"):
                inner = why(node.inner, inner_iid, ctx)
                paths.append(f"apply {node.prefix}: {node.prefix}:{ext} <- [{', '.join(inner)}]")
                if len(paths) == PATHS:
                    break
        return paths
    if isinstance(node, p.Extract):
        return _extract_paths(node, iid, ctx)
    return []


def _extract_paths(node: p.Extract, iid: int, ctx) -> list[str]:
    trace, view = ctx.trace, ctx.view
    columns, paths = view.link_columns(), []
    for n, media in enumerate(trace.get(id(node.inner), ())):
        if n == EXTRACT_SCAN or len(paths) == PATHS:
            break
        if n % CHECK_EVERY == 0:
            ctx.check_time()
        if iid in columns.of(node.field, media):
            inner = why(node.inner, media, ctx)
            paths.append(f"extract {node.field}: media {view.ext('media', media)} <- [{', '.join(inner)}]")
    return paths
