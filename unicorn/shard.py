"""An index shard's side of a sharded search: the few calls the aggregator (unicorn.aggregator) makes of each
shard, over one index that holds only the shard's documents (ARCHITECTURE.md "Shards: the read side").

    shard = LocalShard(Engine(shard_index))
    shard.viewer_part(7)                                  # round 0: this shard's part of the viewer's context
    shard.search("user", wire(tree), context, 20, "static", 200.0)

Every call takes and returns plain values (numbers, strings, lists, dicts, a `ViewerContext`), so a
transport can carry them as they are (api/shard.py). Every call answers `(generation, result)`: the
generation of the shard's index the call read (MOVED when the index moved to a newer one during the call),
by which the aggregator knows exactly whether a viewer context it kept is still the one the shards hold. Query trees travel in `wire` form and hold only
what each shard evaluates alone: terms, `and`, `or`, `difference`, and `ids` leaves where the
aggregator already ran a step over all shards. Results name documents by external id with their
sort keys (unicorn.searcher). `timeout_ms` is what is left of the request's budget.
"""

from __future__ import annotations

import time
from typing import Protocol

from unicorn.context import Followee, ViewerContext
from unicorn.engine import Engine
from unicorn.query import rank
from unicorn.query.evaluate import Context
from unicorn.query.operators.and_ import And
from unicorn.query.operators.difference import Difference
from unicorn.query.operators.ids import Ids
from unicorn.query.operators.or_ import Or
from unicorn.query.operators.term import Term
from unicorn.query.privacy import hashtag_part, local_ids
from vocabulary import terms

NARY = {"and": And, "or": Or, "difference": Difference}


def wire(node) -> list:
    """A plain tree (terms, and, or, difference, ids) as nested lists."""
    if node.name == "term":
        return ["term", node.vertical, node.prefix, node.value]
    if node.name == "ids":
        return ["ids", node.vertical, list(node.ids)]
    return [node.name, node.vertical, [wire(o) for o in node.operands]]


def unwire(data: list):
    """The tree of `wire(tree)`, typed as type checking leaves it."""
    name, vertical = data[0], data[1]
    if name == "term":
        return Term(0, data[2], data[3], vertical=vertical)
    if name == "ids":
        return Ids(0, list(data[2]), vertical=vertical)
    return NARY[name](0, [unwire(o) for o in data[2]], vertical=vertical)


MOVED = -1  # the generation of an answer during which the index moved to a newer generation

Answer = tuple[int, object]  # (generation read, result)


class Shard(Protocol):
    """What the aggregator asks of one replica of a shard; each call answers `(generation, result)`, the
    results as annotated."""

    def viewer_part(self, viewer: int) -> dict: ...

    def hashtag_part(self, context: ViewerContext) -> dict: ...

    def private_users(self, users: list[int]) -> list[int]: ...

    def search(self, vertical: str, tree: list, context: ViewerContext, limit: int, order: str,
               timeout_ms: float) -> dict: ...

    def candidates(self, vertical: str, tree: list, context: ViewerContext, k: int, exclude: list,
                   flags: list[list], with_private: bool, timeout_ms: float) -> dict: ...

    def extract(self, field: str, tree: list, context: ViewerContext, timeout_ms: float) -> list: ...

    def typeahead(self, q: str, context: ViewerContext, viewer: int | None, limit: int,
                  verticals: list[str], typos: str, timeout_ms: float) -> dict: ...

    def document(self, vertical: str, key: int | str, context: ViewerContext,
                 viewer: int | None) -> dict | None: ...

    def trending(self, kind: str, context: ViewerContext, viewer: int | None) -> dict: ...


def _viewer(context: ViewerContext) -> int | None:
    return context.viewer


def _deadline(timeout_ms: float) -> float:
    return time.perf_counter() + timeout_ms / 1000.0


def _at(call):
    """`call` answers with the generation it read: the index's, unchanged from before the call to after it."""
    def answered(self, *args) -> Answer:
        before = self.index.gen
        result = call(self, *args)
        return (before if self.index.gen == before else MOVED), result
    answered.__doc__, answered.__name__ = call.__doc__, call.__name__
    return answered


def _in_view(call):
    """`call(self, view, *args)` in one snapshot, answering with its generation."""
    def answered(self, *args) -> Answer:
        with self.index.reader() as view:
            return view.gen, call(self, view, *args)
    answered.__doc__, answered.__name__ = call.__doc__, call.__name__
    return answered


class LocalShard:
    """The calls of `Shard` over this process's engine of one shard's index."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.index = engine.index

    @_in_view
    def viewer_part(self, view, viewer: int) -> dict:
        """This shard's users among the viewer's live followees (with what the context keeps of each) and
        among the users blocking or blocked by the viewer."""
        live = view.posting("user", terms.LIVE)
        private = view.posting("user", terms.PRIVATE_USER)
        followees = []
        for iid in view.posting("user", terms.following(viewer)) & live:
            doc = view.doc("user", iid)
            followees.append(Followee(doc["id"], iid in private, doc["followers_count"], doc["username"],
                                      doc["full_name"], doc["following_count"]))
        hidden = view.posting("user", terms.blocks(viewer)) | view.posting("user", terms.blocked_by(viewer))
        return {"followees": followees, "hidden": [view.ext("user", i) for i in hidden]}

    @_in_view
    def hashtag_part(self, view, context: ViewerContext) -> dict:
        part = hashtag_part(view, context)
        return {"hidden_carriers": part.hidden_carriers, "private_carried": part.private_carried}

    @_in_view
    def private_users(self, view, users: list[int]) -> list[int]:
        """Those of `users` this shard holds that are private."""
        private = view.posting("user", terms.PRIVATE_USER)
        return [u for u in users if (i := view.iid("user", u)) is not None and i in private]

    @_at
    def search(self, vertical: str, tree: list, context: ViewerContext, limit: int, order: str,
               timeout_ms: float) -> dict:
        found = self.engine.run(vertical, unwire(tree), _viewer(context), limit, self.engine.rankers[order], False,
                                _deadline(timeout_ms), timeout_ms, context=context)
        return {"total": found.total, "results": found.results, "keys": found.keys}

    @_in_view
    def candidates(self, view, vertical: str, tree: list, context: ViewerContext, k: int, exclude: list,
                   flags: list[list], with_private: bool, timeout_ms: float) -> dict:
        """The best `k` documents of `tree` here, not in `exclude`, in static order: rows (sort key, external
        id, bit i set when the document is in `flags[i]`); `total`: how many documents `tree` yields here;
        `private`: the private users among the rows (`with_private`)."""
        ctx = self._context(view, context, timeout_ms)
        matched = ctx.execute(unwire(tree))
        total = len(matched)
        if exclude:
            matched = matched - local_ids(view, vertical, exclude)
        best = rank.top_k(view, vertical, matched, k)
        keys = rank.sort_keys(view, vertical, best)
        exts = [view.ext(vertical, i) for i in ctx.checked(best.tolist())]
        sets = [ctx.execute(unwire(f)) for f in flags]
        rows = [(key, ext, sum(1 << n for n, docs in enumerate(sets) if iid in docs))
                for key, ext, iid in zip(keys, exts, best.tolist())]
        private = []
        if with_private:
            flagged = view.posting("user", terms.PRIVATE_USER)
            private = [ext for ext, iid in zip(exts, best.tolist()) if iid in flagged]
        return {"rows": rows, "total": total, "private": private}

    @_in_view
    def extract(self, view, field: str, tree: list, context: ViewerContext, timeout_ms: float) -> list:
        """What field `field` of this shard's visible media of `tree` points to, by external id (the aggregator
        keeps the visible ones on their own shards)."""
        ctx = self._context(view, context, timeout_ms)
        media = ctx.execute(unwire(tree))
        vertical = {"owner": "user", "mention": "user", "place": "place", "hashtag": "hashtag"}[field]
        return [view.ext(vertical, i) for i in ctx.checked(view.link_columns().targets(field, media))]

    @_at
    def typeahead(self, q: str, context: ViewerContext, viewer: int | None, limit: int,
                  verticals: list[str], typos: str, timeout_ms: float) -> dict:
        found = self.engine.typeahead(q, viewer, limit, tuple(verticals), timeout_ms, None, typos, context,
                                      blended=False)
        return {"results": found.results, "keys": found.keys}

    @_at
    def document(self, vertical: str, key: int | str, context: ViewerContext, viewer: int | None) -> dict | None:
        return self.engine.document(vertical, key, viewer, context=context)

    @_at
    def trending(self, kind: str, context: ViewerContext, viewer: int | None) -> dict:
        return self.engine.trending_part(kind, viewer, context)

    def _context(self, view, context: ViewerContext, timeout_ms: float) -> Context:
        who = self.engine.viewers.resolve(view, _viewer(context), context)
        return Context(view, who.visibility, 1, _deadline(timeout_ms), budget_ms=timeout_ms)
