"""The Searcher (unicorn.searcher) over one index: set queries, typeahead, documents and trending.

    engine = Engine(index)
    engine.search("user", "(and (term name:jo) (apply following: (term following:42)))", viewer=7)
    engine.typeahead("jo sm", viewer=7)
    engine.document("user", "42", viewer=7)

`order` names a ranker: "static" (docs/query-language.md) and "social" (unicorn.social, the
typeahead's order) are built in; another is added with `Engine(index, rankers={"name": ranker})`
where a ranker is `(view, vertical, ids: BitMap, limit, viewer: Viewer) -> [(internal id, score,
sort key), ...]`, best first, its sort keys ascending (see unicorn.searcher).

One engine holds one set of viewer caches (unicorn.viewers): search, typeahead and documents
resolve each request's viewer once, through the same privacy cache.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from cachetools import LRUCache
from pyroaring import AbstractBitMap

from unicorn.context import ViewerContext
from unicorn.errors import QueryError
from unicorn.query import explain as lineage
from unicorn.query import operators, parse, plan, rank, typecheck
from unicorn.query.evaluate import APPLY_FANOUT_MAX, Context, evaluate
from unicorn.query.values import MAX_ID, check_limit, decimal, shown
from unicorn.searcher import SearchResult, SortKey, TypeaheadResult
from unicorn.social import Social
from unicorn.trending import Trending
from unicorn.typeahead import VERTICALS as TYPEAHEAD_VERTICALS
from unicorn.typeahead import Typeahead
from unicorn.viewers import Viewer, Viewers
from vocabulary.schema import VERTICALS

MAX_LIMIT = 1000
CHECKED_QUERIES = 4096  # checked trees of query texts kept

Ranker = Callable[[object, str, AbstractBitMap, int, Viewer], list[tuple[int, float, SortKey]]]

__all__ = ["MAX_ID", "MAX_LIMIT", "Engine", "Ranker", "SearchResult", "parse_id", "external_doc"]


class Engine:
    def __init__(self, index, rankers: Mapping[str, Ranker] | None = None, trending_dsn: str | None = None,
                 cache_size: int = 1024) -> None:
        self.index = index
        self.viewers = Viewers(cache_size)
        self.social = Social()
        self.rankers: dict[str, Ranker] = {"static": _static, "social": self.social.ranker, **(rankers or {})}
        self._typeahead = Typeahead(index, self.viewers, self.social)
        self._trending = Trending(index, dsn=trending_dsn)
        self._checked: LRUCache = LRUCache(CHECKED_QUERIES)  # (query text, vertical) -> checked tree
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Load what the first requests would otherwise load: rank columns, media links (hashtag privacy,
        extract), popular users, the follow graph, typo vocabularies."""
        with self.index.reader() as view:
            for vertical in VERTICALS:
                view.rank(vertical)
            view.link_columns()
            self.social.popular(view)
            self.viewers.circles.graph.at(view)
            self._typeahead.typos.refresh(view)

    def search(
        self,
        vertical: str,
        query: str | dict,
        viewer: int | str | None = None,
        limit: int = 20,
        order: str = "static",
        explain: bool = False,
        timeout_ms: float = 200,
        apply_fanout_max: int = APPLY_FANOUT_MAX,
        arrived: float | None = None,
    ) -> SearchResult:
        """Every stage keeps to `timeout_ms`, counted from `arrived` (a `time.perf_counter()` taken when
        the request came in; by default now), and fails past it with `timeout`."""
        started = time.perf_counter()
        viewer = search_request(vertical, viewer, limit, apply_fanout_max)
        ranker = self.rankers.get(order)
        if ranker is None:
            raise QueryError("bad_request", f"unknown order {order!r}; expected one of {', '.join(self.rankers)}")
        deadline = (time.perf_counter() if arrived is None else arrived) + timeout_ms / 1000.0
        root = self.checked(query, vertical)
        return self.run(vertical, root, viewer, limit, ranker, explain, deadline, timeout_ms, apply_fanout_max, started)

    def checked(self, query: str | dict, vertical: str):
        """The parsed, type-checked tree of `query` as a query of `vertical`. Checked trees are only read after
        checking, so those of query texts are kept (least recently used out) and shared by requests."""
        if not isinstance(query, str):
            return typecheck.check(parse.parse(query), vertical)
        with self._lock:
            root = self._checked.get((query, vertical))
        if root is None:
            root = typecheck.check(parse.parse(query), vertical)
            with self._lock:
                self._checked[query, vertical] = root
        return root

    def run(self, vertical: str, root, viewer: int | None, limit: int, ranker: Ranker, explain: bool, deadline: float,
            timeout_ms: float, apply_fanout_max: int = APPLY_FANOUT_MAX, started: float | None = None,
            context: ViewerContext | None = None) -> SearchResult:
        """A type-checked tree's results for a checked request (`search`, and an index shard's part of a search,
        with the viewer's `context` from the aggregator: unicorn.context)."""
        started = time.perf_counter() if started is None else started
        with self.index.reader() as view:
            who = self.viewers.resolve(view, viewer, context)
            ctx = Context(view, who.visibility, limit, deadline, fanout=apply_fanout_max,
                          trace={} if explain else None, budget_ms=timeout_ms)
            ctx.check_time()
            executable = plan.plan(root, view, who.visibility, limit, ctx.check_time)
            if explain:
                lineage.require(executable)
            matched = evaluate(executable, ctx)
            ctx.check_time()
            ranked = ranker(view, vertical, matched, limit, who)
            results, keys = [], []
            for iid, score, key in ranked:
                ctx.check_time()
                doc = external_doc(vertical, view.doc(vertical, iid))
                result = {"id": doc["id"], "score": score, "doc": doc}
                if explain:
                    result["why"] = lineage.why(executable, iid, ctx)
                results.append(result)
                keys.append(key)
        total = len(results) if operators.has_top_k(root) else len(matched)
        took_ms = (time.perf_counter() - started) * 1000.0
        return SearchResult(vertical, total, ctx.truncated, results, round(took_ms, 3), keys)

    def typeahead(self, q: str, viewer: int | None = None, limit: int = 10,
                  verticals: tuple[str, ...] = TYPEAHEAD_VERTICALS, timeout_ms: float = 200,
                  arrived: float | None = None, typos: str = "auto", context: ViewerContext | None = None,
                  blended: bool = True) -> TypeaheadResult:
        """docs/http-api.md typeahead (unicorn.typeahead)."""
        return self._typeahead.find(q, viewer, limit, verticals, timeout_ms, arrived, typos, context, blended)

    def document(self, vertical: str, id: int | str, viewer: int | str | None = None, timeout_ms: float = 200,
                 arrived: float | None = None, context: ViewerContext | None = None) -> dict | None:
        """The docs/events.md document (ids as strings), or None when absent or not visible to `viewer`; `timeout`
        when the budget, counted from `arrived`, is spent before the lookup."""
        key, viewer = document_request(vertical, id, viewer, timeout_ms, arrived)
        with self.index.reader() as view:
            iid = view.iid(vertical, key)
            if iid is None or iid not in self.viewers.resolve(view, viewer, context).visibility.visible[vertical]:
                return None
            return external_doc(vertical, view.doc(vertical, iid))

    def trending(self, kind: str, limit: int, viewer: int | None) -> dict:
        """docs/http-api.md `/v1/trending` (unicorn.trending)."""
        return self._trending.top(kind, limit, viewer)

    def trending_part(self, kind: str, viewer: int | None, context: ViewerContext | None) -> dict:
        """An index shard's part of `trending` (unicorn.trending.Trending.part)."""
        return self._trending.part(kind, viewer, context)


def _static(view, vertical: str, ids: AbstractBitMap, limit: int, viewer: Viewer) -> list[tuple[int, float, SortKey]]:
    """docs/query-language.md static order; the score is the leading count (followers, likes or media)."""
    return rank.ranked(view, vertical, ids, limit)


def search_request(vertical: str, viewer: int | str | None, limit: int, apply_fanout_max: int) -> int | None:
    """A search request's checked parameters; its viewer as an int (None: the admin)."""
    typecheck.check_vertical(vertical)
    viewer = None if viewer is None else parse_id(viewer, "viewer")
    check_limit(limit, MAX_LIMIT)
    if isinstance(apply_fanout_max, bool) or not isinstance(apply_fanout_max, int) or apply_fanout_max < 1:
        raise QueryError("bad_request", f"apply_fanout_max must be a positive integer, got {apply_fanout_max!r}")
    return viewer


def document_request(vertical: str, id: int | str, viewer: int | str | None, timeout_ms: float,
                     arrived: float | None) -> tuple[int | str, int | None]:
    """A document request's checked (key, viewer); `timeout` when its budget, counted from `arrived`, is spent."""
    if arrived is not None and time.perf_counter() > arrived + timeout_ms / 1000.0:
        raise QueryError("timeout", f"the request waited past its time budget of {timeout_ms:g} ms")
    typecheck.check_vertical(vertical)
    viewer = None if viewer is None else parse_id(viewer, "viewer")
    key = id if vertical == "hashtag" else parse_id(id, "id")
    if vertical == "hashtag" and not isinstance(key, str):
        raise QueryError("bad_request", f"a hashtag id is its name, got {id!r}")
    return key, viewer


def parse_id(value: int | str, what: str) -> int:
    """A request id: a JSON integer or a decimal string (docs/events.md)."""
    if isinstance(value, bool):
        raise QueryError("bad_request", f"{what} must be an integer id, got {value!r}")
    number = decimal(value) if isinstance(value, str) else value
    if not isinstance(number, int) or not 0 <= number <= MAX_ID:
        raise QueryError("bad_request", f"{what} must be an unsigned 64-bit id, got {shown(value)}")
    return number


def external_doc(vertical: str, doc: dict) -> dict:
    """A stored document with every id as a string (docs/events.md: ids are JSON strings in responses)."""
    out = dict(doc)
    out["id"] = str(doc["id"])
    if vertical == "media":
        out["owner"] = str(doc["owner"])
        out["mentions"] = [str(m) for m in doc.get("mentions", [])]
        out["place"] = None if doc.get("place") is None else str(doc["place"])
    return out
