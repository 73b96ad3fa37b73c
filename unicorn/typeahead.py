"""Blended typeahead (SPEC §6 `GET /v1/typeahead`): users, hashtags and places in one ranked list.

    Typeahead(index).search("jo sm", viewer=7, limit=10, verticals=("user", "hashtag", "place"))

The text is normalized per SPEC §1. `#q` searches hashtags only (the name starts with q);
`@q` searches usernames only (each token of q starts a token of the username, and an exact
username ranks first); anything else searches every requested vertical: users and places
whose name tokens are started by every token of q (SPEC §3 `name:`), and hashtags whose name
starts with q. Users are ranked socially (unicorn.social); hashtags score
`4 * (name equals q) + popularity(media_count)` and places `popularity(media_count)`, on the
same scale as users, so the verticals blend into one list. Privacy is SPEC §5:
only users visible to the viewer are found, counted or named, and only hashtags that media
visible to the viewer carry are found (their rankings are shared by the viewers who see the same hashtags).

With `typos="auto"` (the default) users, hashtags and places are also found through the edits
of unicorn.typos: such a result carries `"typo": true` and scores TYPO less than it would
exactly, so social proximity still leads and an exact match beats an otherwise equal one.
`@q` stays exact. Typo matches pass the same visibility sets as exact ones.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator

from pyroaring import AbstractBitMap, BitMap, FrozenBitMap

from unicorn.errors import QueryError
from unicorn.query import rank
from unicorn.social import TYPO, Social, popularity
from unicorn.typos import Typos, allowed, matches_any, matches_token
from vocabulary import text
from vocabulary.schema import PREFIX_MAX

VERTICALS = ("user", "hashtag", "place")
MAX_LIMIT = 50
MAX_CHARS = 200
EXACT_NAME = 4.0
MAX_ENTRIES = 200_000  # result entries kept per generation
CHECK_EVERY = 256  # candidates looked at between deadline checks
TYPOS = ("auto", "0")


class _Request:
    """One typeahead request: its snapshot, viewer sets and deadline."""

    def __init__(self, view, social: Social, viewer: int | None, deadline: float, budget_ms: float,
                 typos: Typos | None) -> None:
        self.view, self.viewer, self.deadline, self.budget_ms = view, viewer, deadline, budget_ms
        self.typos = typos  # None: exact matches only
        self.circle = social.circle(view, viewer)
        self.visibility = social.privacy.get(view, viewer)
        self.visible_users = self.visibility.visible["user"]

    def check_time(self) -> None:
        if time.perf_counter() > self.deadline:
            raise QueryError("timeout", f"the typeahead ran past its time budget of {self.budget_ms:g} ms")

    def checked(self, ids: Iterable[int]) -> Iterator[int]:
        """`ids`, checking the deadline every CHECK_EVERY of them."""
        for n, i in enumerate(ids):
            if n % CHECK_EVERY == 0:
                self.check_time()
            yield i


class Typeahead:
    def __init__(self, index, social: Social | None = None, shared_size: int = 4096) -> None:
        self.index = index
        self.social = social or Social()
        self._shared: OrderedDict[tuple, list[tuple[int, float, bool]]] = OrderedDict()  # viewer-independent rankings
        self._shared_size = shared_size
        self._lock = threading.Lock()
        self._entries: tuple[int, dict[tuple[str, int], tuple[dict, int | str]]] = (-1, {})
        self.typos = Typos()

    def _cached(self, key: tuple, make) -> list[tuple[int, float, bool]]:
        """Hashtag and place rankings depend on the snapshot and text only, not on the viewer."""
        with self._lock:
            hit = self._shared.get(key)
            if hit is not None:
                self._shared.move_to_end(key)
                return hit
        made = make()
        with self._lock:
            self._shared[key] = made
            while len(self._shared) > self._shared_size:
                self._shared.popitem(last=False)
        return made

    def search(self, q: str, viewer: int | None = None, limit: int = 10,
               verticals: tuple[str, ...] = VERTICALS, timeout_ms: float = 200, arrived: float | None = None,
               typos: str = "auto") -> dict:
        """SPEC §6's typeahead response: {"q", "results": [...], "took_ms"}; past `timeout_ms`, counted from
        `arrived` (a `time.perf_counter()` taken when the request came in; by default now), `timeout`."""
        started = time.perf_counter()
        deadline = (started if arrived is None else arrived) + timeout_ms / 1000.0
        if len(q) > MAX_CHARS:
            raise QueryError("bad_request", f"q must be at most {MAX_CHARS} characters, got {len(q)}")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise QueryError("bad_request", f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
        if not verticals or any(v not in VERTICALS for v in verticals):
            raise QueryError("bad_request", f"verticals must be a non-empty subset of {','.join(VERTICALS)}, "
                                            f"got {','.join(verticals)!r}")
        if typos not in TYPOS:
            raise QueryError("bad_request", f"typos must be one of {', '.join(TYPOS)}, got {typos!r}")
        typed = q.strip()
        with self.index.reader() as view:
            req = _Request(view, self.social, viewer, deadline, timeout_ms, self.typos if typos == "auto" else None)
            req.check_time()
            tag = text.hashtag_name(typed[1:].strip() if typed.startswith("#") else typed)
            hashtags = lambda: self._cached((view.gen, "hashtag", tag, limit, typos, req.visibility.hashtag_scope()),
                                            lambda: _hashtags(req, tag, limit))
            if typed.startswith("#"):
                plan = {"hashtag": hashtags}
            elif typed.startswith("@"):
                plan = {"user": lambda: self._usernames(req, typed[1:].strip(), limit)}
            else:
                words = tuple(text.tokens(typed))
                plan = {"user": lambda: self._users(req, typed, limit), "hashtag": hashtags,
                        "place": lambda: self._cached((view.gen, "place", words, limit, typos),
                                                      lambda: _places(req, list(words), limit))}
            found: list[tuple[float, int, int, str, int, bool]] = []
            for order, vertical in enumerate(VERTICALS):
                if vertical in verticals and vertical in plan:
                    found.extend((-score, order, n, vertical, iid, typo)
                                 for n, (iid, score, typo) in enumerate(plan[vertical]()))
                    req.check_time()
            found.sort()
            results = [self._result(req, vertical, iid, -score, typo)
                       for score, _, _, vertical, iid, typo in found[:limit]]
        took_ms = (time.perf_counter() - started) * 1000.0
        return {"q": q, "results": results, "took_ms": round(took_ms, 3)}

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

    def _result(self, req: _Request, vertical: str, iid: int, score: float, typo: bool) -> dict:
        entry, ext = self._entry(req.view, vertical, iid)
        result = {**entry, "score": score}
        if typo:
            result["typo"] = True
        if vertical == "user" and req.viewer is not None:
            result["social"] = req.circle.context(req.view, iid, ext)
        return result

    def _users(self, req: _Request, typed: str, limit: int) -> list[tuple[int, float, bool]]:
        wanted = text.tokens(typed)
        matches = _all_tokens(req.view, "user", wanted) & req.visible_users
        exact = req.view.posting("user", f"username:{text.normalize(typed)}") & matches
        long = [w for w in wanted if len(w) > PREFIX_MAX]
        tokens_of = lambda iid: _name_tokens(self._entry(req.view, "user", iid)[0], "title", "subtitle")
        verified, typo = _typo_matches(req, "user", wanted, matches, req.visible_users, tokens_of)
        if typo:
            ranked = self.social.rank(req.view, req.circle, verified | typo, limit, exact & verified, typo)
            return [(iid, score, iid in typo) for iid, score in ranked]
        check = (lambda user: _starts_tokens(long, user["title"], user["subtitle"])) if long else None
        return [(iid, score, False) for iid, score in self._ranked_users(req, matches, exact, limit, check)]

    def _usernames(self, req: _Request, typed: str, limit: int) -> list[tuple[int, float, bool]]:
        wanted = text.tokens(typed)
        matches = _all_tokens(req.view, "user", wanted) & req.visible_users
        exact = req.view.posting("user", f"username:{text.normalize(typed)}") & req.visible_users
        ranked = self._ranked_users(req, matches | exact, exact, limit,
                                    lambda user: _starts_tokens(wanted, user["title"]))
        return [(iid, score, False) for iid, score in ranked]

    def _ranked_users(self, req: _Request, matches: AbstractBitMap, exact: AbstractBitMap, limit: int,
                      check) -> list[tuple[int, float]]:
        """The best `limit` matches that pass `check` (a test of the user's entry: title is the username,
        subtitle the full name), widening the ranked window as needed."""
        if check is None:
            return self.social.rank(req.view, req.circle, matches, limit, exact)
        rejected, window = BitMap(), 2 * limit
        while True:
            ranked = self.social.rank(req.view, req.circle, matches - rejected, window, exact)
            passed = []
            for iid, score in req.checked(ranked):
                if iid in exact or check(self._entry(req.view, "user", iid)[0]):
                    passed.append((iid, score))
                    if len(passed) == limit:
                        return passed
                else:
                    rejected.add(iid)
            if len(ranked) < window:
                return passed
            req.check_time()
            window *= 4


def _hashtags(req: _Request, prefix: str, limit: int) -> list[tuple[int, float, bool]]:
    if not prefix or any(c.isspace() for c in prefix):
        return []
    matches = req.view.posting("hashtag", f"name:{prefix[:PREFIX_MAX]}") & req.visibility.visible["hashtag"]
    if len(prefix) > PREFIX_MAX:
        matches = BitMap(i for i in req.checked(matches) if req.view.ext("hashtag", i).startswith(prefix))
    typo = (_typo_hashtags(req, prefix) & req.visibility.visible["hashtag"]) - matches
    exact = req.view.iid("hashtag", prefix)
    exact = exact if exact is not None and exact in matches else None
    return _by_count(req.view, "hashtag", matches, exact, limit, typo)


def _typo_hashtags(req: _Request, prefix: str) -> AbstractBitMap:
    """Hashtags whose name starts within the allowed edits of `prefix` (exact ones included)."""
    if req.typos is None or not allowed(prefix):
        return FrozenBitMap()
    near = req.typos.nearby(req.view, "hashtag", prefix)
    found = _union(req.view, "hashtag", near.sure)
    edits = allowed(prefix)
    partial = _union(req.view, "hashtag", near.partial) - found
    return found | BitMap(i for i in req.checked(partial) if matches_token(prefix, req.view.ext("hashtag", i), edits))


def _places(req: _Request, wanted: list[str], limit: int) -> list[tuple[int, float, bool]]:
    matches = _all_tokens(req.view, "place", wanted)
    tokens_of = lambda iid: text.tokens(req.view.doc("place", iid)["name"])
    verified, typo = _typo_matches(req, "place", wanted, matches, None, tokens_of)
    if typo:
        return _by_count(req.view, "place", verified, None, limit, typo)
    long = [w for w in wanted if len(w) > PREFIX_MAX]
    if long:
        matches = BitMap(i for i in req.checked(matches) if _starts_tokens(long, req.view.doc("place", i)["name"]))
    return _by_count(req.view, "place", matches, None, limit)


def _typo_matches(req: _Request, vertical: str, wanted: list[str], matches: AbstractBitMap,
                  visible: AbstractBitMap | None, tokens_of) -> tuple[AbstractBitMap, AbstractBitMap]:
    """(exact, typo): the exact matches (`matches` checked against tokens over PREFIX_MAX characters) and
    the visible documents that every wanted token starts only through its allowed edits (SPEC §6), or
    (matches, empty) when typos are off or no document is found only through an edit. `tokens_of(iid)`:
    a document's name tokens."""
    if req.typos is None or not any(allowed(w) for w in wanted):
        return matches, FrozenBitMap()
    candidates, check = None, any(len(w) > PREFIX_MAX for w in wanted)
    for w in dict.fromkeys(wanted):
        found = req.view.posting(vertical, f"name:{w[:PREFIX_MAX]}")
        if allowed(w):
            near = req.typos.nearby(req.view, vertical, w)
            found = found | _union(req.view, vertical, near.sure + near.partial)
            check = check or bool(near.partial)
        candidates = found if candidates is None else candidates & found
    if visible is not None:
        candidates = candidates & visible
    if not candidates - matches and not check:
        return matches, FrozenBitMap()
    long = [w for w in wanted if len(w) > PREFIX_MAX]
    exact = (BitMap(i for i in req.checked(matches) if all(any(t.startswith(w) for t in tokens_of(i)) for w in long))
             if long else matches)
    rest = candidates - exact
    if check:
        rest = BitMap(i for i in req.checked(rest) if all(matches_any(w, tokens_of(i)) for w in wanted))
    return exact, rest


def _union(view, vertical: str, prefixes) -> AbstractBitMap:
    postings = [view.posting(vertical, f"name:{p}") for p in prefixes]
    return FrozenBitMap.union(*postings) if postings else FrozenBitMap()


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


def _all_tokens(view, vertical: str, wanted: list[str]) -> AbstractBitMap:
    """Documents whose name tokens are started by every wanted token, up to PREFIX_MAX characters each."""
    if not wanted:
        return FrozenBitMap()
    postings = sorted((view.posting(vertical, f"name:{w[:PREFIX_MAX]}") for w in dict.fromkeys(wanted)), key=len)
    return FrozenBitMap.intersection(*postings) if len(postings) > 1 else postings[0]


def _starts_tokens(wanted: list[str], *texts: str) -> bool:
    tokens = [t for value in texts for t in text.tokens(value)]
    return all(any(t.startswith(w) for t in tokens) for w in wanted)


def _by_count(view, vertical: str, matches: AbstractBitMap, exact: int | None, limit: int,
              typo: AbstractBitMap = FrozenBitMap()) -> list[tuple[int, float, bool]]:
    """`exact` first, then static order with a typo match after an exact one of the same count;
    score = 4 * (is exact) + popularity(media_count) - TYPO * (is a typo match)."""
    counts = view.rank(vertical).count
    best = rank.top_k(view, vertical, matches, limit).tolist()
    if typo:
        both = BitMap(best) | BitMap(rank.top_k(view, vertical, typo, limit).tolist())
        best = sorted(rank.top_k(view, vertical, both, 2 * limit).tolist(), key=lambda i: (-int(counts[i]), i in typo))
    if exact is not None:
        best = [exact, *(i for i in best if i != exact)]
    best = best[:limit]
    return [(i, round(EXACT_NAME * (i == exact) + popularity(int(counts[i])) - TYPO * (i in typo), 4), i in typo)
            for i in best]


def rankers(social: Social | None = None) -> dict:
    """The engine's extra orders: {"social": ...} (see unicorn.engine.Engine)."""
    return {"social": (social or Social()).ranker}
