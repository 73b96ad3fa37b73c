"""The Searcher (unicorn.searcher) over N index shards, each served by one or more replicas
(unicorn.shard.Shard): every answer equals one index's holding all the shards' documents.

    searcher = Aggregator([[LocalShard(Engine(index0))], [replica1a, replica1b], ...], partitions=P)
    searcher.search("user", "(apply following: (term name:jo))", viewer=7)

A request runs in rounds (ARCHITECTURE.md "Shards: the read side"):
0. the viewer's context (unicorn.context): every shard gives its users among the viewer's followees (with
   what the other shards need of each: privacy flag, names, follower and followee counts) and blocks,
   then, when the request looks at hashtags, its share of the hashtag facts;
1. the query tree is cut where a step needs the whole platform, innermost first: an `apply` gathers its
   inner query's best `apply_fanout_max` ids from every shard in the inner vertical's static order (marking
   the answer truncated when there were more), drops those whose edge terms the viewer may not see (their
   privacy flag comes with them from their own shard) and becomes the `or` of their terms; an `extract`
   gathers what the visible media of every shard point to; `weak-and` and `strong-or` walk every shard's
   ordered candidates, with their budgets and quotas over all documents. Each becomes a plain tree or an
   `ids` leaf. An edge term the query names is checked against its user's own shard.
2. the plain tree runs on every shard; the answers merge by sort key (merge_search), totals add up.

Typeahead runs on every shard with the context and merges by key (merge_typeahead); a document is asked of
the shard that owns it (vocabulary.shards.document_shard); trending takes the snapshot every shard holds
and keeps, for a viewer, the hashtags some shard's visible media carries.

A call that fails is made again on the shard's next replica. When every replica of a shard is down, the
answer carries `partial` and names the missing shards; the viewer's context, though, must be whole (a
missing shard may hold the viewer's blocks), so a request with a viewer whose context a missing shard
holds part of fails with `not_ready`. Explain is refused (`bad_request`): its lineage lives in each shard's
plan, not in the rounds.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import msgspec
from cachetools import LRUCache

from unicorn.context import Followee, Hashtags, ViewerContext
from unicorn.engine import document_request, search_request
from unicorn.errors import QueryError
from unicorn.query import operators, parse, typecheck
from unicorn.query.evaluate import APPLY_FANOUT_MAX
from unicorn.query.operators.and_ import And
from unicorn.query.operators.ids import Ids
from unicorn.query.operators.or_ import Or
from unicorn.query.operators.term import Term
from unicorn.query.tree import Node, walk
from unicorn.searcher import (
    SearchResult,
    TypeaheadResult,
    merge_search,
    merge_typeahead,
)
from unicorn.shard import MOVED, Shard, wire
from unicorn.typeahead import VERTICALS as TYPEAHEAD_VERTICALS
from unicorn.typeahead import blend_answers, searched
from vocabulary.schema import EDGE_PREFIXES
from vocabulary.shards import document_shard

ORDERS = ("static", "social")
CONTEXTS = 4096  # viewers' contexts kept


class Unavailable(Exception):
    """A replica did not answer (a transport's failure, not the request's)."""


class ShardDown(Exception):
    def __init__(self, shard: int) -> None:
        super().__init__(f"every replica of shard {shard} is down")
        self.shard = shard


class _Known(NamedTuple):
    """A viewer's context and, per shard, the (replica, generation) its parts were read at (None: not one)."""

    context: ViewerContext
    read: dict[int, tuple[int, int] | None]

    def holds(self) -> bool:
        """Whether every part was read at one known generation of its shard (so the context may be kept)."""
        return all(at is not None and at[1] != MOVED for at in self.read.values())


class Aggregator:
    def __init__(self, shards: Sequence[Sequence[Shard]], partitions: int | None = None, workers: int | None = None,
                 contexts: int = CONTEXTS) -> None:
        self.shards = [list(replicas) for replicas in shards]
        self.partitions = partitions or len(self.shards)
        self._next = [itertools.count() for _ in self.shards]  # round-robin over each shard's replicas
        self._pool = ThreadPoolExecutor(max_workers=workers or 2 * len(self.shards), thread_name_prefix="aggregator")
        self._lock = threading.Lock()
        self._contexts: LRUCache = LRUCache(contexts)  # (viewer, with hashtags) -> _Known

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # calls

    def call(self, shard: int, name: str, *args, prefer: int | None = None) -> tuple[int, int, object]:
        """`name(*args)` on one replica of `shard` (`prefer` first, else the next in turn), the next one when it
        fails: (replica, generation read, result); ShardDown when all fail."""
        replicas = self.shards[shard]
        if prefer is None:
            with self._lock:
                prefer = next(self._next[shard])
        for n in range(len(replicas)):
            replica = (prefer + n) % len(replicas)
            try:
                gen, result = getattr(replicas[replica], name)(*args)
                return replica, gen, result
            except Unavailable:
                continue
        raise ShardDown(shard)

    def fan(self, name: str, args: tuple, prefer: dict | None = None
            ) -> tuple[dict[int, tuple[int, int, object]], list[int]]:
        """`name(*args)` on every shard at once: shard -> (replica, generation, result), and the shards down."""
        prefer = prefer or {}
        if len(self.shards) == 1:
            calls = {0: _Done(self.call, 0, name, *args, prefer=prefer.get(0))}
        else:
            calls = {s: self._pool.submit(self.call, s, name, *args, prefer=prefer.get(s))
                     for s in range(len(self.shards))}
        answers, missing = {}, []
        for s, call in calls.items():
            try:
                answers[s] = call.result()
            except ShardDown:
                missing.append(s)
        return answers, missing

    # round 0

    def _resolve(self, viewer: int, hashtags: bool) -> _Known:
        """The viewer's context read from every shard now (with `hashtags`, the hashtag facts too); kept for
        later requests when each shard's parts were read at one generation."""
        answers, missing = self.fan("viewer_part", (viewer,))
        _complete(missing)
        read = {s: (replica, gen) for s, (replica, gen, _) in answers.items()}
        parts = [part for _, _, part in answers.values()]
        blocked = {h for p in parts for h in p["hidden"]}
        followees = sorted((Followee(*_fields(f)) for p in parts for f in p["followees"] if _fields(f)[0] not in blocked),
                           key=lambda f: f.id)
        context = ViewerContext(viewer, followees, sorted(blocked))
        if hashtags:
            carriers: dict[str, int] = {}
            carried: set[str] = set()
            answers, missing = self.fan("hashtag_part", (context,), {s: at[0] for s, at in read.items()})
            _complete(missing)
            for s, (replica, gen, part) in answers.items():
                if read[s] != (replica, gen):
                    read[s] = None
                for name, count in part["hidden_carriers"].items():
                    carriers[name] = carriers.get(name, 0) + count
                carried.update(part["private_carried"])
            context = context.with_hashtags(Hashtags(dict(sorted(carriers.items())), sorted(carried)))
        known = _Known(context, read)
        if known.holds():
            with self._lock:
                self._contexts[viewer, hashtags] = known
        return known

    def context(self, viewer: int | None, hashtags: bool) -> ViewerContext:
        """The viewer's context over every shard, read now; with `hashtags`, the hashtag facts too."""
        return ViewerContext(None) if viewer is None else self._resolve(viewer, hashtags).context

    def _with_context(self, viewer: int | None, hashtags: bool, run):
        """`run(request context, replicas preferred)` -> (answer, the _Request that answered), with the viewer's
        context: the one kept for the viewer when every shard answered at the generations it was read at (or,
        read again, it is unchanged and every shard answered at the generations of the new reading), else one
        read now (round 0), as if no shard had moved between round 0 and the request's rounds."""
        if viewer is None:
            return run(ViewerContext(None), None)[0]
        with self._lock:
            known = self._contexts.get((viewer, hashtags))
        if known is not None:
            answer, request = run(known.context, {s: at[0] for s, at in known.read.items()})
            if request.read_at(known.read):
                return answer
            fresh = self._resolve(viewer, hashtags)
            if fresh.context == known.context and request.read_at(fresh.read):
                return answer
        else:
            fresh = self._resolve(viewer, hashtags)
        return run(fresh.context, {s: at[0] for s, at in fresh.read.items() if at is not None})[0]

    # the Searcher

    def search(self, vertical: str, query: str | dict, viewer: int | str | None = None, limit: int = 20,
               order: str = "static", explain: bool = False, timeout_ms: float = 200,
               apply_fanout_max: int = APPLY_FANOUT_MAX, arrived: float | None = None) -> SearchResult:
        started = time.perf_counter()
        viewer = search_request(vertical, viewer, limit, apply_fanout_max)
        if order not in ORDERS:
            raise QueryError("bad_request", f"unknown order {order!r}; expected one of {', '.join(ORDERS)}")
        if explain:
            raise QueryError("bad_request", "explain is not available on a sharded deployment")
        root = typecheck.check(parse.parse(query), vertical)
        deadline = (started if arrived is None else arrived) + timeout_ms / 1000.0

        def run(context: ViewerContext, prefer: dict | None) -> tuple[SearchResult, _Request]:
            request = _Request(self, context, prefer, limit, apply_fanout_max, deadline, timeout_ms)
            plain = request.resolve(root)
            parts = request.fan("search", vertical, wire(plain), context, limit, order)
            found = merge_search([SearchResult(vertical, p["total"], False, p["results"], 0.0, _keys(p["keys"]))
                                  for p in parts.values()] or [SearchResult(vertical, 0, False)], limit)
            total = len(found.results) if operators.has_top_k(root) else found.total
            return SearchResult(vertical, total, request.truncated, found.results, _took(started), found.keys,
                                bool(request.missing), sorted(request.missing)), request

        return self._with_context(viewer, any(node.vertical == "hashtag" for node in walk(root)), run)

    def typeahead(self, q: str, viewer: int | None = None, limit: int = 10,
                  verticals: tuple[str, ...] = TYPEAHEAD_VERTICALS, timeout_ms: float = 200,
                  arrived: float | None = None, typos: str = "auto") -> TypeaheadResult:
        started = time.perf_counter()
        deadline = (started if arrived is None else arrived) + timeout_ms / 1000.0
        wanted = searched(q, verticals)

        def run(context: ViewerContext, prefer: dict | None) -> tuple[TypeaheadResult, _Request]:
            request = _Request(self, context, prefer, limit, APPLY_FANOUT_MAX, deadline, timeout_ms)
            parts = request.fan("typeahead", q, context, viewer, limit, list(verticals), typos)
            answers = []  # each searched vertical's own answer, merged over the shards
            for vertical in wanted:
                answers.append(merge_typeahead([TypeaheadResult(q, *_of_vertical(p, vertical)) for p in parts.values()]
                                               or [TypeaheadResult(q)], limit))
            found = blend_answers(q, answers, limit) if answers else TypeaheadResult(q)
            return TypeaheadResult(q, found.results, _took(started), found.keys, bool(request.missing),
                                   sorted(request.missing)), request

        return self._with_context(viewer, "hashtag" in wanted, run)

    def document(self, vertical: str, id: int | str, viewer: int | str | None = None, timeout_ms: float = 200,
                 arrived: float | None = None) -> dict | None:
        key, viewer = document_request(vertical, id, viewer, timeout_ms, arrived)
        context = self.context(viewer, vertical == "hashtag")  # read now: one shard answers, the others may have moved
        shard = document_shard(vertical, key, len(self.shards), self.partitions)
        try:
            return self.call(shard, "document", vertical, key, context, viewer)[2]
        except ShardDown as exc:
            raise QueryError("not_ready", f"shard {shard}, which holds the document, is down") from exc

    def trending(self, kind: str, limit: int, viewer: int | None) -> dict:
        def run(context: ViewerContext, prefer: dict | None) -> tuple[dict, _Request]:
            request = _Request(self, context, prefer, limit, APPLY_FANOUT_MAX, math.inf, 0.0)
            parts = list(request.fan("trending", kind, context, viewer).values())
            if not parts:
                raise QueryError("not_ready", "every shard is down")
            snapshot = parts[0]
            results = snapshot["results"]
            if snapshot["visible"] is not None:
                visible = {tag for p in parts for tag in p["visible"]}
                results = [r for r in results if r["id"] in visible]
            out = {"kind": kind, "results": results[:limit], "as_of": snapshot["as_of"]}
            if request.missing:
                out.update(partial=True, missing_shards=sorted(request.missing))
            return out, request

        return self._with_context(viewer if kind == "hashtag" else None, False, run)


class _Request:
    """One search's rounds: the context, limits and deadline, and what the rounds found (truncated, missing)."""

    def __init__(self, aggregator: Aggregator, context: ViewerContext, prefer: dict | None, limit: int, fanout: int,
                 deadline: float, budget_ms: float) -> None:
        self.aggregator, self.context, self.prefer = aggregator, context, prefer
        self.read: dict[int, set[tuple[int, int]]] = {}  # shard -> the (replica, generation) its answers read
        self.limit, self.fanout, self.deadline, self.budget_ms = limit, fanout, deadline, budget_ms
        self.truncated = False
        self.missing: set[int] = set()
        self.admin = context.viewer is None
        self.followees = {f.id for f in context.followees}
        self.hidden = set(context.hidden)
        self.private: set[int] = set()  # users of the query's edge terms that are private

    def remaining_ms(self) -> float:
        left = (self.deadline - time.perf_counter()) * 1000.0
        if left <= 0:
            raise QueryError("timeout", f"the query ran past its time budget of {self.budget_ms:g} ms")
        return left

    def fan(self, name: str, *args) -> dict[int, object]:
        """`name(*args)` on every shard: shard -> result; the shards down are recorded as missing."""
        timed = name in ("search", "candidates", "extract", "typeahead")
        answers, missing = self.aggregator.fan(name, (*args, *((self.remaining_ms(),) if timed else ())),
                                               self.prefer)
        self.missing.update(missing)
        return {s: self._answered(s, answer) for s, answer in answers.items()}

    def call(self, shard: int, name: str, *args):
        return self._answered(shard, self.aggregator.call(shard, name, *args,
                                                          prefer=(self.prefer or {}).get(shard)))

    def _answered(self, shard: int, answer: tuple[int, int, object]):
        self.read.setdefault(shard, set()).add(answer[:2])
        return answer[2]

    def read_at(self, read: dict[int, tuple[int, int] | None]) -> bool:
        """Whether every shard answered, and only at `read[shard]` (replica, generation)."""
        return (not self.missing and len(self.read) == len(self.aggregator.shards)
                and all(self.read[s] == {read.get(s)} for s in self.read))

    def edge_visible(self, user: int) -> bool:
        """docs/privacy.md: the edge terms of `user` are visible when it is public, the viewer or followed, and not hidden."""
        if self.admin:
            return True
        if user in self.hidden:
            return False
        return user == self.context.viewer or user in self.followees or user not in self.private

    def resolve(self, root: Node) -> Node:
        """`root` as a plain tree, after the rounds of its applies, extracts, weak-ands and strong-ors."""
        named = sorted({int(n.value) for n in walk(root) if n.name == "term" and n.prefix in EDGE_PREFIXES}
                       - self.followees - self.hidden - {self.context.viewer})  # visible or not, whatever their flag
        if named and not self.admin:
            by_shard: dict[int, list[int]] = {}
            for user in named:
                by_shard.setdefault(document_shard("user", user, len(self.aggregator.shards),
                                                   self.aggregator.partitions), []).append(user)
            for s, users in by_shard.items():
                try:
                    self.private.update(self.call(s, "private_users", users))
                except ShardDown:  # an unknown flag: the terms stay empty
                    self.missing.add(s)
                    self.private.update(users)
        return self._plain(root)

    def _plain(self, node: Node) -> Node:
        name, vertical = node.name, node.vertical
        if name == "term":
            if node.prefix in EDGE_PREFIXES and not self.edge_visible(int(node.value)):
                return Ids(node.pos, [], vertical=vertical)
            return node
        if name in ("and", "or", "difference"):
            return type(node)(node.pos, [self._plain(o) for o in node.operands], vertical=vertical)
        if name == "apply":
            return self._apply(node)
        if name == "extract":
            inner = wire(self._plain(node.inner))
            found = set()
            for part in self.fan("extract", node.field, inner, self.context).values():
                found.update(part)
            return Ids(node.pos, sorted(found, key=str), vertical=vertical)
        if name == "weak-and":
            return self._weak_and(node)
        if name == "strong-or":
            return self._strong_or(node)
        raise QueryError("bad_request", f"operator {name!r} cannot run on a sharded deployment")

    def _candidates(self, vertical: str, tree: Node, k: int, exclude: Sequence = (), flags: Sequence[Node] = (),
                    with_private: bool = False) -> tuple[list[tuple], int, set]:
        """The best `k` of `tree` over all shards (not in `exclude`), as (key, external id, flags) in static
        order; how many documents `tree` yields in all; the private users among the rows."""
        if k <= 0:
            return [], 0, set()
        parts = self.fan("candidates", vertical, wire(tree), self.context, k, list(exclude),
                         [wire(f) for f in flags], with_private).values()
        rows = [[(tuple(key), ext, bits) for key, ext, bits in p["rows"]] for p in parts]
        best = list(itertools.islice(heapq.merge(*rows, key=lambda row: row[0]), k))
        return best, sum(p["total"] for p in parts), {u for p in parts for u in p["private"]}

    def _apply(self, node: Node) -> Node:
        edge = node.prefix in EDGE_PREFIXES
        if self._viewers_followees(node.inner):
            ids = sorted(self.followees)  # all of them: the context holds them, and the order of an `or` is moot
        else:
            rows, total, private = self._candidates(node.inner.vertical, self._plain(node.inner), self.fanout,
                                                    with_private=edge)
            if total > self.fanout:
                self.truncated = True
            ids = [ext for _, ext, _ in rows]
            if edge and not self.admin:
                self.private.update(private)
                ids = [x for x in ids if self.edge_visible(x)]
        if not ids:
            return Ids(node.pos, [], vertical=node.vertical)
        return Or(node.pos, [Term(node.pos, node.prefix, str(x), vertical=node.vertical) for x in ids],
                  vertical=node.vertical)

    def _viewers_followees(self, inner: Node) -> bool:
        """Whether `inner` is `(term following:V)` of the viewer V, whose documents are the context's followees
        (live, not hidden, their edge terms visible), no more than the fanout."""
        return (not self.admin and inner.name == "term" and inner.prefix == "following"
                and inner.value == str(self.context.viewer) and len(self.followees) <= self.fanout)

    def _weak_and(self, node: Node) -> Node:
        required = [self._plain(o) for o in node.operands if not o.has_modifier]
        optional = [self._plain(o) for o in node.operands if o.has_modifier]
        budgets = [o.optional_hits if o.optional_hits is not None else math.floor(o.optional_weight * self.limit)
                   for o in node.operands if o.has_modifier]
        spent = [tree for tree, budget in zip(optional, budgets) if budget == 0]
        accepted: list = []
        while len(accepted) < self.limit:
            walked = required + spent
            tree = walked[0] if len(walked) == 1 else And(node.pos, walked, vertical=node.vertical)
            rows, _, _ = self._candidates(node.vertical, tree, self.limit - len(accepted), accepted, optional)
            restricted = False
            for _, ext, bits in rows:
                missing = [i for i in range(len(optional)) if not bits >> i & 1]
                accepted.append(ext)
                for i in missing:
                    budgets[i] -= 1
                    if budgets[i] == 0:
                        spent.append(optional[i])
                        restricted = True
                if restricted:
                    break
            if not restricted:
                break
        return Ids(node.pos, accepted, vertical=node.vertical)

    def _strong_or(self, node: Node) -> Node:
        operands = [(self._plain(o), None if o.optional_weight is None else math.floor(o.optional_weight * self.limit))
                    for o in node.operands]
        chosen: list = []
        for tree, quota in operands:
            room = min(quota or 0, self.limit - len(chosen))
            chosen += [ext for _, ext, _ in self._candidates(node.vertical, tree, room, chosen)[0]]
        union = Or(node.pos, [tree for tree, _ in operands], vertical=node.vertical)
        chosen += [ext for _, ext, _ in self._candidates(node.vertical, union, self.limit - len(chosen), chosen)[0]]
        return Ids(node.pos, chosen, vertical=node.vertical)


class _Done:
    """A call made at once, answering as a Future does."""

    def __init__(self, fn, *args, **kwargs) -> None:
        try:
            self._value, self._error = fn(*args, **kwargs), None
        except ShardDown as exc:
            self._value, self._error = None, exc

    def result(self):
        if self._error is not None:
            raise self._error
        return self._value


def _complete(missing: list[int]) -> None:
    """A viewer's context must be whole: a missing shard may hold the viewer's blocks."""
    if missing:
        raise QueryError("not_ready", f"shards {', '.join(map(str, missing))} are down: the viewer's context is "
                                      "incomplete")


def _fields(followee) -> tuple:
    return tuple(followee) if not isinstance(followee, Followee) else msgspec.structs.astuple(followee)


def _keys(keys: list) -> list[tuple]:
    return [tuple(key) for key in keys]


def _took(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)


def _of_vertical(part: dict, vertical: str) -> tuple[list[dict], float, list]:
    """A shard's unblended typeahead results of one vertical, with their keys (TypeaheadResult's fields)."""
    mine = [(r, k) for r, k in zip(part["results"], _keys(part["keys"])) if r["vertical"] == vertical]
    return [r for r, _ in mine], 0.0, [k for _, k in mine]
