"""The query engine's public API, used by the HTTP layer and the CLI.

    engine = Engine(index)
    engine.search("user", "(and (term name:jo) (apply following: (term following:42)))", viewer=7)
    engine.document("user", "42", viewer=7)

`order` names a ranker; "static" (docs/query-language.md) is built in. Another order, such as the typeahead's
"social", is added with `Engine(index, rankers={"social": rank_socially})` where a ranker is
`(view, vertical, ids: BitMap, limit, viewer) -> [(internal id, score), ...]`, best first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

from pyroaring import AbstractBitMap

from unicorn.errors import QueryError
from unicorn.query import parse, plan, privacy, rank, tree, typecheck
from unicorn.query import explain as lineage
from unicorn.query.evaluate import Context, evaluate
from unicorn.query.typecheck import decimal, shown

MAX_LIMIT = 1000
MAX_ID = 2**64 - 1

Ranker = Callable[[object, str, AbstractBitMap, int, "int | None"], list[tuple[int, float]]]


def static_ranker(view, vertical: str, ids: AbstractBitMap, limit: int, viewer: int | None) -> list[tuple[int, float]]:
    """docs/query-language.md static order; the score is the leading count (followers, likes or media)."""
    return rank.scored_top_k(view, vertical, ids, limit)


@dataclass
class SearchResult:
    """docs/http-api.md's search response."""

    vertical: str
    total: int
    truncated: bool
    results: list[dict] = field(default_factory=list)  # {"id": str, "score", "doc", "why"?}
    took_ms: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class Engine:
    def __init__(self, index, rankers: Mapping[str, Ranker] | None = None) -> None:
        self.index = index
        self.rankers: dict[str, Ranker] = {"static": static_ranker, **(rankers or {})}
        self._privacy = privacy.Cache()

    def search(
        self,
        vertical: str,
        query: str | dict,
        viewer: int | str | None = None,
        limit: int = 20,
        order: str = "static",
        explain: bool = False,
        timeout_ms: float = 200,
        apply_fanout_max: int = 100_000,
        arrived: float | None = None,
    ) -> SearchResult:
        """Every stage keeps to `timeout_ms`, counted from `arrived` (a `time.perf_counter()` taken when
        the request came in; by default now), and fails past it with `timeout`."""
        started = time.perf_counter()
        typecheck.check_vertical(vertical)
        viewer = None if viewer is None else parse_id(viewer, "viewer")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise QueryError("bad_request", f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
        if isinstance(apply_fanout_max, bool) or not isinstance(apply_fanout_max, int) or apply_fanout_max < 1:
            raise QueryError("bad_request", f"apply_fanout_max must be a positive integer, got {apply_fanout_max!r}")
        ranker = self.rankers.get(order)
        if ranker is None:
            raise QueryError("bad_request", f"unknown order {order!r}; expected one of {', '.join(self.rankers)}")
        deadline = (time.perf_counter() if arrived is None else arrived) + timeout_ms / 1000.0
        root = typecheck.check(parse.parse(query), vertical)
        with self.index.reader() as view:
            vis = self._privacy.get(view, viewer)
            ctx = Context(view, vis, limit, apply_fanout_max, deadline, trace={} if explain else None,
                          budget_ms=timeout_ms)
            ctx.check_time()
            executable = plan.plan(root, view, vis, limit, ctx.check_time)
            matched = evaluate(executable, ctx)
            ctx.check_time()
            ranked = ranker(view, vertical, matched, limit, viewer)
            results = []
            for iid, score in ranked:
                ctx.check_time()
                doc = external_doc(vertical, view.doc(vertical, iid))
                result = {"id": doc["id"], "score": score, "doc": doc}
                if explain:
                    result["why"] = lineage.why(executable, iid, ctx)
                results.append(result)
        total = len(results) if tree.has_top_k(root) else len(matched)
        took_ms = (time.perf_counter() - started) * 1000.0
        return SearchResult(vertical, total, ctx.truncated, results, round(took_ms, 3))

    def document(self, vertical: str, id: int | str, viewer: int | str | None = None, timeout_ms: float = 200,
                 arrived: float | None = None) -> dict | None:
        """The docs/events.md document (ids as strings), or None when absent or not visible to `viewer`; `timeout`
        when the budget, counted from `arrived`, is spent before the lookup."""
        if arrived is not None and time.perf_counter() > arrived + timeout_ms / 1000.0:
            raise QueryError("timeout", f"the request waited past its time budget of {timeout_ms:g} ms")
        typecheck.check_vertical(vertical)
        viewer = None if viewer is None else parse_id(viewer, "viewer")
        key = id if vertical == "hashtag" else parse_id(id, "id")
        if vertical == "hashtag" and not isinstance(key, str):
            raise QueryError("bad_request", f"a hashtag id is its name, got {id!r}")
        with self.index.reader() as view:
            iid = view.iid(vertical, key)
            if iid is None or iid not in self._privacy.get(view, viewer).visible[vertical]:
                return None
            return external_doc(vertical, view.doc(vertical, iid))



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
