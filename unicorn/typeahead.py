"""Blended typeahead (docs/http-api.md `GET /v1/typeahead`): users, hashtags and places in one ranked list.

    Typeahead(index).search("jo sm", viewer=7, limit=10, verticals=("user", "hashtag", "place"))

The text is normalized per docs/events.md. `#q` searches hashtags only (the name starts with q);
`@q` searches usernames only (each token of q starts a token of the username, and an exact
username ranks first); anything else searches every requested vertical: users and places
whose name tokens are started by every token of q (docs/query-language.md `name:`), and hashtags whose name
starts with q. Users are ranked socially (unicorn.social); hashtags score
`4 * (name equals q) + popularity(media_count)` and places `popularity(media_count)`, on the
same scale as users. The verticals blend into one list as Unicorn's top aggregator does, a
strong-or over verticals (`blend`): a searched vertical whose own first `limit` results hold g
good matches (found without a typo) is guaranteed its first min(share, g) of them, share =
max(1, limit // (2 * n)) for n searched verticals; the remaining slots go to the best of the rest by
sort key. Privacy is docs/privacy.md:
only users visible to the viewer are found, counted or named, and only hashtags that media
visible to the viewer carry are found (their rankings are shared by the viewers who see the same hashtags).

With `typos="auto"` (the default) users, hashtags and places are also found through the edits
of unicorn.typos: such a result carries `"typo": true`; a user one scores as it would exactly and
comes after an otherwise equal exact match (unicorn.social), a hashtag or place one scores TYPO
less, so social proximity still leads and an exact match beats an otherwise equal one.
`@q` stays exact. Typo matches pass the same visibility sets as exact ones.

Matching is the engine's: the typed text is the query `(term name:TEXT)` of each vertical (and
`(term username:TEXT)` for the exact username), typo candidates an `and` over the typed tokens of
an `or` of the stored prefixes near each; the typeahead composes these trees as type checking
leaves them (values normalized, nodes typed with their vertical) and plans and runs them with the
request's viewer and deadline (unicorn.query), then ranks and blends. A single term that is one stored
posting (a one-token prefix, a username) is what its plan would run, that posting & the viewer's visible
set, read without planning. A result's sort key (unicorn.searcher) is
(-score, the vertical's place in VERTICALS, the vertical's own key): users their social key,
hashtags and places (0 for the typed name itself else 1, -media_count, typo, name or id). Results come in
key order, but a blended list is not the best `limit` by key: an aggregator over shards asks each
shard for each `searched` vertical alone (single-vertical answers merge by key: merge_typeahead) and
blends the merged answers (`blend_answers`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from cachetools import LRUCache
from pyroaring import AbstractBitMap, BitMap, FrozenBitMap

from unicorn.context import ViewerContext
from unicorn.errors import QueryError
from unicorn.query import rank
from unicorn.query.evaluate import Context
from unicorn.query.operators.and_ import And
from unicorn.query.operators.or_ import Or
from unicorn.query.operators.term import Term
from unicorn.query.values import check_limit
from unicorn.searcher import TypeaheadResult
from unicorn.social import TYPO, Social, popularity
from unicorn.typos import Typos, allowed, matches_any, matches_token
from unicorn.viewers import Viewer, Viewers
from vocabulary import terms, text
from vocabulary.schema import EDGE_PREFIXES, PREFIX_MAX

VERTICALS = ("user", "hashtag", "place")
MAX_LIMIT = 50
MAX_CHARS = 200
EXACT_NAME = 4.0
MAX_ENTRIES = 200_000  # result entries kept per generation
TYPOS = ("auto", "0")


Found = tuple[int, float, bool, tuple]  # one vertical's result: internal id, score (4 places), typo, sort key


class _Request:
    """One typeahead request: its snapshot, its viewer (resolved once), its deadline and typo vocabularies."""

    def __init__(self, view, viewer: Viewer, ctx: Context, typos: Typos | None) -> None:
        self.view, self.viewer, self.ctx = view, viewer, ctx
        self.typos = typos  # None: exact matches only

    def query(self, node) -> AbstractBitMap:
        """The visible documents of a composed query tree, through the engine's plan and evaluation."""
        return self.ctx.execute(node)

    def term(self, vertical: str, prefix: str, value: str) -> AbstractBitMap:
        """The visible documents of `(term PREFIX:VALUE)` (`value` normalized). A term the planner would read as
        one stored posting with nothing to verify (not an edge term, not a `name:` of several tokens or past
        PREFIX_MAX) is that posting & the visible set, read here without planning; others are `query`."""
        if prefix in EDGE_PREFIXES or prefix == "name" and not (
                0 < len(value) <= PREFIX_MAX and (vertical == "hashtag" or " " not in value)):
            return self.query(_term(vertical, prefix, value))
        self.ctx.check_time()
        return self.view.posting(vertical, terms.term(prefix, value)) & self.ctx.vis.visible[vertical]

    def names(self, vertical: str, prefixes) -> AbstractBitMap:
        """Documents with a name token starting with one of the stored `prefixes` (`or` of `name:` terms)."""
        if not prefixes:
            return FrozenBitMap()
        return self.query(_names(vertical, prefixes))


def _term(vertical: str, prefix: str, value: str) -> Term:
    """`(term PREFIX:VALUE)` of `vertical`, composed as type checking leaves a term: `value` normalized."""
    return Term(0, prefix, value, vertical=vertical)


def _names(vertical: str, prefixes) -> Or:
    """`(or (term name:P) ...)` over normalized `name:` prefixes."""
    return Or(0, [_term(vertical, "name", p) for p in prefixes], vertical=vertical)


class Typeahead:
    def __init__(self, index, viewers: Viewers | None = None, social: Social | None = None,
                 shared_size: int = 4096) -> None:
        self.index = index
        self.viewers = viewers or Viewers()
        self.social = social or Social()
        self.typos = Typos()
        self._shared: LRUCache = LRUCache(shared_size)  # viewer-independent rankings
        self._lock = threading.Lock()
        self._entries: tuple[int, dict[tuple[str, int], tuple[dict, int | str]]] = (-1, {})

    def _cached(self, key: tuple, make) -> list[Found]:
        """Hashtag and place rankings depend on the snapshot and text only, not on the viewer."""
        with self._lock:
            hit = self._shared.get(key)
        if hit is None:
            hit = make()
            with self._lock:
                self._shared[key] = hit
        return hit

    def search(self, q: str, viewer: int | None = None, limit: int = 10,
               verticals: tuple[str, ...] = VERTICALS, timeout_ms: float = 200, arrived: float | None = None,
               typos: str = "auto") -> dict:
        """docs/http-api.md's typeahead response: {"q", "results": [...], "took_ms"} (see `find`)."""
        return self.find(q, viewer, limit, verticals, timeout_ms, arrived, typos).to_dict()

    def find(self, q: str, viewer: int | None = None, limit: int = 10,
             verticals: tuple[str, ...] = VERTICALS, timeout_ms: float = 200, arrived: float | None = None,
             typos: str = "auto", context: ViewerContext | None = None, blended: bool = True) -> TypeaheadResult:
        """The typeahead's results with their sort keys; past `timeout_ms`, counted from `arrived` (a
        `time.perf_counter()` taken when the request came in; by default now), `timeout`. On an index
        shard the viewer's `context` comes from the aggregator (unicorn.context), which asks for the
        searched verticals' own answers unblended (each vertical's first `limit`, all in key order) and
        blends them once merged (`blend_answers`)."""
        started = time.perf_counter()
        deadline = (started if arrived is None else arrived) + timeout_ms / 1000.0
        if len(q) > MAX_CHARS:
            raise QueryError("bad_request", f"q must be at most {MAX_CHARS} characters, got {len(q)}")
        check_limit(limit, MAX_LIMIT)
        if not verticals or any(v not in VERTICALS for v in verticals):
            raise QueryError("bad_request", f"verticals must be a non-empty subset of {','.join(VERTICALS)}, "
                                            f"got {','.join(verticals)!r}")
        if typos not in TYPOS:
            raise QueryError("bad_request", f"typos must be one of {', '.join(TYPOS)}, got {typos!r}")
        typed = q.strip()
        with self.index.reader() as view:
            who = self.viewers.resolve(view, viewer, context)
            ctx = Context(view, who.visibility, limit, deadline, budget_ms=timeout_ms, what="typeahead")
            req = _Request(view, who, ctx, self.typos if typos == "auto" else None)
            ctx.check_time()
            tag = text.hashtag_name(typed[1:].strip() if typed.startswith("#") else typed)
            hashtags = lambda: self._cached((view.gen, "hashtag", tag, limit, typos, who.visibility.hashtag_scope()),
                                            lambda: _hashtags(req, tag, limit))
            if typed.startswith("#"):
                plan = {"hashtag": hashtags}
            elif typed.startswith("@"):
                plan = {"user": lambda: self._usernames(req, typed[1:].strip(), limit)}
            else:
                words = tuple(text.tokens(typed))
                plan = {"user": lambda: self._users(req, typed, limit), "hashtag": hashtags,
                        "place": lambda: self._cached((view.gen, "place", words, limit, typos),
                                                      lambda: _places(req, typed, limit))}
            rankings = []  # per searched vertical: [(sort key, vertical, iid, score, typo)]; sort keys are unique
            wanted = searched(typed, verticals)
            for order, vertical in enumerate(VERTICALS):
                if vertical in wanted:
                    rankings.append([((-score, order, *key), vertical, iid, score, typo)
                                     for iid, score, typo, key in plan[vertical]()])
                    ctx.check_time()
            best = blend(rankings, limit, good=lambda entry: not entry[4]) if blended else sorted(
                entry for ranking in rankings for entry in ranking[:limit])
            results = [self._result(view, vertical, iid, score, typo) for _, vertical, iid, score, typo in best]
            users = [(result, iid) for result, (_, vertical, iid, _, _) in zip(results, best) if vertical == "user"]
            if who.id is not None and users:
                socials = who.circle.contexts(view, [(iid, self._entry(view, "user", iid)[1]) for _, iid in users])
                for (result, _), social in zip(users, socials):
                    result["social"] = social
        took_ms = (time.perf_counter() - started) * 1000.0
        return TypeaheadResult(q, results, round(took_ms, 3), [entry[0] for entry in best])

    def _entry(self, view, vertical: str, iid: int) -> tuple[dict, int | str]:
        """A result's document part (vertical, id, title, subtitle, ...) and external id, kept per generation."""
        gen, entries = self._entries
        if gen != view.gen or len(entries) > MAX_ENTRIES:
            gen, entries = self._entries = (view.gen, {})
        entry = entries.get((vertical, iid))
        if entry is None:
            doc = view.doc(vertical, iid)
            entry = entries[vertical, iid] = (_ENTRY[vertical](doc), doc["id"])
        return entry

    def _result(self, view, vertical: str, iid: int, score: float, typo: bool) -> dict:
        """A result as docs/http-api.md shows it, but for a user's `social` (the viewer's circle's, added by `find`)."""
        entry, _ = self._entry(view, vertical, iid)
        result = {**entry, "score": score}
        if typo:
            result["typo"] = True
        return result

    def _users(self, req: _Request, typed: str, limit: int) -> list[Found]:
        wanted = text.tokens(typed)
        if not wanted:
            return []
        matches = req.term("user", "name", " ".join(wanted))
        exact = req.term("user", "username", text.normalize(typed)) & matches if matches else FrozenBitMap()
        tokens_of = lambda iid: _name_tokens(self._entry(req.view, "user", iid)[0], "title", "subtitle")
        matches, typo = _typo_matches(req, "user", wanted, matches, tokens_of)
        ranked = self.social.rank(req.view, req.viewer.circle, matches | typo if typo else matches, limit, exact, typo)
        return [(iid, score, iid in typo, key) for iid, score, key in ranked]

    def _usernames(self, req: _Request, typed: str, limit: int) -> list[Found]:
        wanted = text.tokens(typed)
        matches = req.term("user", "name", " ".join(wanted)) if wanted else FrozenBitMap()
        exact = req.term("user", "username", text.normalize(typed))
        ranked = self._ranked_users(req, matches | exact, exact, limit,
                                    lambda user: _starts_tokens(wanted, user["title"]))
        return [(iid, score, False, key) for iid, score, key in ranked]

    def _ranked_users(self, req: _Request, matches: AbstractBitMap, exact: AbstractBitMap, limit: int,
                      check) -> list[tuple[int, float, tuple]]:
        """The best `limit` matches that pass `check` (a test of the user's entry: title is the username,
        subtitle the full name), widening the ranked window as needed."""
        circle = req.viewer.circle
        rejected, window = BitMap(), 2 * limit
        while True:
            ranked = self.social.rank(req.view, circle, matches - rejected, window, exact)
            passed = []
            for iid, score, key in req.ctx.checked(ranked):
                if iid in exact or check(self._entry(req.view, "user", iid)[0]):
                    passed.append((iid, score, key))
                    if len(passed) == limit:
                        return passed
                else:
                    rejected.add(iid)
            if len(ranked) < window:
                return passed
            req.ctx.check_time()
            window *= 4


def searched(q: str, verticals: Sequence[str]) -> tuple[str, ...]:
    """The verticals a request searches, in VERTICALS order: `#q` hashtags only, `@q` users only, else every
    requested one."""
    typed = q.strip()
    only = "hashtag" if typed.startswith("#") else "user" if typed.startswith("@") else None
    return tuple(v for v in VERTICALS if v in verticals and only in (None, v))


def share(limit: int, n: int) -> int:
    """The slots guaranteed to each of `n` searched verticals that has good matches: max(1, limit // (2 * n)),
    so the shares together take at most half the list, or one slot each."""
    return max(1, limit // (2 * n))


def blend(rankings: Sequence[Sequence[tuple]], limit: int, good: Callable[[tuple], bool]) -> list[tuple]:
    """The blended best `limit` of the searched verticals' rankings (docs/http-api.md), in sort key order.

    `rankings`: per searched vertical, its first `limit` entries (or all, when fewer), best first, each a tuple
    whose first item is its sort key (unique, so entries sort by it); `good(entry)`: whether it is a good match. With one vertical, its first
    `limit`. Else, in the order of each vertical's first entry (best first) while slots remain, a vertical
    with g good entries gets its first min(share(limit, len(rankings)), g) entries; the remaining slots go to
    the best of the rest by key. Within a vertical, the chosen entries are its first ones."""
    if len(rankings) < 2:
        return [entry for entries in rankings for entry in entries[:limit]]
    each, left = share(limit, len(rankings)), limit
    taken = [0] * len(rankings)
    for _, n in sorted((entries[0][0], n) for n, entries in enumerate(rankings) if entries):
        taken[n] = min(each, sum(map(good, rankings[n][:limit])), left)
        left -= taken[n]
    chosen = [entry for entries, k in zip(rankings, taken) for entry in entries[:k]]
    chosen += sorted(entry for entries, k in zip(rankings, taken) for entry in entries[k:limit])[:left]
    chosen.sort()
    return chosen


def blend_answers(q: str, answers: Sequence[TypeaheadResult], limit: int) -> TypeaheadResult:
    """The answer to `q` from each searched vertical's own answer at `limit` (in VERTICALS order), e.g. each the
    merge_typeahead of the shards' single-vertical answers: what one index holding everything answers."""
    best = blend([list(zip(a.keys, a.results)) for a in answers], limit, good=lambda entry: not entry[1].get("typo"))
    return TypeaheadResult(q, [result for _, result in best], max((a.took_ms for a in answers), default=0.0),
                           [key for key, _ in best], any(a.partial for a in answers))


def _hashtags(req: _Request, prefix: str, limit: int) -> list[Found]:
    if not prefix or any(c.isspace() for c in prefix):
        return []
    matches = req.term("hashtag", "name", prefix)
    typo = _typo_hashtags(req, prefix) - matches
    exact = req.view.iid("hashtag", prefix)
    exact = exact if exact is not None and exact in matches else None
    return _by_count(req.view, "hashtag", matches, exact, limit, typo)


def _typo_hashtags(req: _Request, prefix: str) -> AbstractBitMap:
    """Visible hashtags whose name starts within the allowed edits of `prefix` (exact ones included)."""
    edits = allowed(prefix)
    if req.typos is None or not edits:
        return FrozenBitMap()
    near = req.typos.nearby(req.view, "hashtag", prefix)
    found = req.names("hashtag", near.sure)
    partial = req.names("hashtag", near.partial) - found
    return found | BitMap(i for i in req.ctx.checked(partial)
                          if matches_token(prefix, req.view.ext("hashtag", i), edits))


def _places(req: _Request, typed: str, limit: int) -> list[Found]:
    wanted = text.tokens(typed)
    if not wanted:
        return []
    matches = req.term("place", "name", " ".join(wanted))
    tokens_of = lambda iid: text.tokens(req.view.doc("place", iid)["name"])
    matches, typo = _typo_matches(req, "place", wanted, matches, tokens_of)
    return _by_count(req.view, "place", matches, None, limit, typo)


def _typo_matches(req: _Request, vertical: str, wanted: list[str], matches: AbstractBitMap,
                  tokens_of) -> tuple[AbstractBitMap, AbstractBitMap]:
    """(exact, typo): the exact `matches`, and the visible documents that every wanted token starts only
    through its allowed edits (docs/http-api.md), empty when typos are off or no document is found only through an
    edit. `tokens_of(iid)`: a document's name tokens."""
    if req.typos is None or not any(allowed(w) for w in wanted):
        return matches, FrozenBitMap()
    check = any(len(w) > PREFIX_MAX for w in wanted)
    per_token = []
    for w in dict.fromkeys(wanted):
        prefixes = [w[:PREFIX_MAX]]
        if allowed(w):
            near = req.typos.nearby(req.view, vertical, w)
            prefixes += [*near.sure, *near.partial]
            check = check or bool(near.partial)
        per_token.append(_names(vertical, prefixes))
    rest = req.query(per_token[0] if len(per_token) == 1 else And(0, per_token, vertical=vertical)) - matches
    if check:
        rest = BitMap(i for i in req.ctx.checked(rest) if all(matches_any(w, tokens_of(i)) for w in wanted))
    return matches, rest


def _name_tokens(entry: dict, *fields: str) -> list[str]:
    return [t for field in fields for t in text.tokens(entry[field])]


def _user_entry(doc: dict) -> dict:
    return {"vertical": "user", "id": str(doc["id"]), "title": doc["username"], "subtitle": doc["full_name"],
            "verified": bool(doc["is_verified"])}


def _hashtag_entry(doc: dict) -> dict:
    count = doc["media_count"]
    return {"vertical": "hashtag", "id": doc["id"], "title": f"#{doc['name']}",
            "subtitle": f"{count:,} post" + ("" if count == 1 else "s")}


def _place_entry(doc: dict) -> dict:
    where = ", ".join(part for part in (doc["city"], doc["country"]) if part)
    return {"vertical": "place", "id": str(doc["id"]), "title": doc["name"], "subtitle": where}


_ENTRY = {"user": _user_entry, "hashtag": _hashtag_entry, "place": _place_entry}


def _starts_tokens(wanted: list[str], *texts: str) -> bool:
    tokens = [t for value in texts for t in text.tokens(value)]
    return all(any(t.startswith(w) for t in tokens) for w in wanted)


def _by_count(view, vertical: str, matches: AbstractBitMap, exact: int | None, limit: int,
              typo: AbstractBitMap = FrozenBitMap()) -> list[Found]:
    """`exact` first, then static order with a typo match after an exact one of the same count;
    score = 4 * (is exact) + popularity(media_count) - TYPO * (is a typo match)."""
    cols = view.rank(vertical)
    counts = cols.count
    best = rank.top_k(view, vertical, matches, limit).tolist()
    if typo:
        both = BitMap(best) | BitMap(rank.top_k(view, vertical, typo, limit).tolist())
        best = sorted(rank.top_k(view, vertical, both, 2 * limit).tolist(), key=lambda i: (-int(counts[i]), i in typo))
    if exact is not None:
        best = [exact, *(i for i in best if i != exact)]
    last = (lambda i: view.ext("hashtag", i)) if vertical == "hashtag" else (lambda i: int(cols.ext_id[i]))
    found = []
    for i in best[:limit]:
        count, is_typo = int(counts[i]), i in typo
        score = round(EXACT_NAME * (i == exact) + popularity(count) - TYPO * is_typo, 4)
        found.append((i, score, is_typo, (int(i != exact), -count, int(is_typo), last(i))))
    return found
