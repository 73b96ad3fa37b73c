"""The query classes and their sampled inputs: each item is one query for the engine and the
same query's SQL parameters for PostgreSQL (bench/postgres.py), both with the same viewer and limit.

| class | engine query (vertical) |
| social_typeahead | unicorn.typeahead users only: P typed, social order, P of 1-5 characters; every session a viewer new to the process |
| user_typeahead | `(term name:P)` user, static order, P of 1-5 characters |
| hashtag_typeahead / place_typeahead | `(term name:P)` hashtag / place |
| people_2hop | `(and (term name:P) (apply following: (term following:V)))` user |
| media_by_followees | `(and (term hashtag:T) (apply owner: (term following:V)))` media |
| extract_owners | `(extract owner: (term hashtag:T))` user |
| weak_and | `(weak-and (term name:P) (term following:V :optional-weight 0.3))` user |
| strong_or | `(strong-or (and name:P following:V :optional-weight 0.5) (and name:P is:verified :optional-weight 0.2) (term name:P))` user |
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

from bench.postgres import like_prefix
from unicorn.query import rank
from vocabulary import terms
from vocabulary.text import normalize, tokens

PREFIX_LENGTHS = (1, 2, 3, 4, 5)
TYPEAHEAD_LIMIT = 10
SEARCH_LIMIT = 20
WEAK_AND_WEIGHT = 0.3
STRONG_OR_WEIGHTS = (0.5, 0.2)


@dataclass
class Item:
    cls: str
    vertical: str
    query: str
    viewer: int
    limit: int
    sql: str  # the key of bench.postgres.SQL
    params: dict = field(default_factory=dict)
    order: str = "static"
    group: str = ""  # e.g. the prefix length, for per-group figures
    text: str = ""  # what is typed, for order "typeahead" (unicorn.typeahead, users only)
    meta: dict = field(default_factory=dict)


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Inputs:
    viewers: list[int]  # users following at least one user
    fresh_viewers: list[int]  # more such users, none in `viewers`: each cold session takes one (pop)
    user_prefixes: dict[int, list[str]]  # length -> prefixes of real name tokens
    hashtag_prefixes: list[str]
    place_prefixes: list[str]
    hashtags: list[str]  # among the most used


def sample_inputs(view, rng: random.Random, size: int = 2000, fresh: int = 0) -> Inputs:
    """`size` users sampled for viewers (those following someone), and `fresh` more viewers besides them."""
    live = rank.as_array(view.posting("user", terms.LIVE)).tolist()
    picked = rng.sample(live, min(size + 2 * fresh, len(live)))
    split = min(size, max(1, len(picked) - 2 * fresh))  # a small index gives up viewers for the new ones
    viewers = [ext for ext in (view.ext("user", i) for i in picked[:split]) if view.posting("user", terms.following(ext))]
    others = (view.ext("user", i) for i in picked[split:])
    fresh_viewers = list(itertools.islice((v for v in others if view.posting("user", terms.following(v))), fresh))
    if len(fresh_viewers) < fresh:
        raise ValueError(f"{fresh} new viewers asked for, {len(fresh_viewers)} found")
    prefixes: dict[int, list[str]] = {n: [] for n in PREFIX_LENGTHS}
    for iid in rng.sample(live, min(size, len(live))):
        doc = view.doc("user", iid)
        words = tokens(doc["full_name"]) + tokens(doc["username"])
        word = rng.choice(words) if words else ""
        for n in PREFIX_LENGTHS:
            if len(word) >= n:
                prefixes[n].append(word[:n])
    tags = [view.ext("hashtag", i) for i in rank.top_k(view, "hashtag", view.posting("hashtag", terms.LIVE), 200).tolist()]
    all_tags = [view.ext("hashtag", i) for i in rng.sample(rank.as_array(view.posting("hashtag", terms.LIVE)).tolist(),
                                                           min(size, len(view.posting("hashtag", terms.LIVE))))]
    places = rank.as_array(view.posting("place", terms.LIVE)).tolist()
    place_words = [w for i in rng.sample(places, min(size, len(places))) for w in tokens(view.doc("place", i)["name"])[:1]]
    return Inputs(viewers, fresh_viewers, prefixes,
                  [t[:rng.randint(1, min(3, len(t)))] for t in all_tags if t],
                  [w[:rng.randint(1, min(3, len(w)))] for w in place_words],
                  tags)


def items(inputs: Inputs, classes: list[str], per_class: int, rng: random.Random) -> list[Item]:
    """`per_class` items per class. Typeahead classes come as typing sessions: one viewer types one
    name token, a query per keystroke of lengths 1-5 (the first keystroke finds the viewer's
    caches cold, the next ones warm, as in a real session). A session of COLD_SESSIONS takes a
    viewer of `inputs.fresh_viewers`, so that no other item of the run has that viewer."""
    made: list[Item] = []
    for cls in classes:
        for n in range(per_class):
            if cls in SESSIONS and n % len(PREFIX_LENGTHS):
                made.append(_keystroke(made[-1], PREFIX_LENGTHS[n % len(PREFIX_LENGTHS)]))
            else:
                made.append(_make(cls, inputs, rng, PREFIX_LENGTHS[n % len(PREFIX_LENGTHS)]))
    return made


SESSIONS = ("social_typeahead", "user_typeahead")
COLD_SESSIONS = ("social_typeahead",)


def _keystroke(first: Item, length: int) -> Item:
    """The session's next query: the same viewer, the same word typed to `length` characters."""
    word = first.meta["word"]
    p = word[:length]
    params = first.params | {"p": like_prefix(p)} | ({"exact": normalize(p)} if "exact" in first.params else {})
    return Item(first.cls, first.vertical, f"(term name:{quoted(p)})", first.viewer, first.limit, first.sql, params,
                first.order, str(len(p)), text=p, meta=first.meta)


def _make(cls: str, inputs: Inputs, rng: random.Random, length: int) -> Item:
    if cls in COLD_SESSIONS and not inputs.fresh_viewers:
        raise ValueError("no new viewer left for a cold session: sample more (sample_inputs' fresh)")
    v = inputs.fresh_viewers.pop() if cls in COLD_SESSIONS else rng.choice(inputs.viewers)
    if cls in SESSIONS:  # a word of 5+ characters, typed from its first one
        word = rng.choice(inputs.user_prefixes[PREFIX_LENGTHS[-1]])
        p = word[:length]
    else:
        word = p = rng.choice(inputs.user_prefixes[length] or inputs.user_prefixes[1])
    name = f"(term name:{quoted(p)})"
    user = {"v": v, "p": like_prefix(p)}
    if cls == "social_typeahead":
        return Item(cls, "user", name, v, TYPEAHEAD_LIMIT, "social", user | {"k": TYPEAHEAD_LIMIT, "exact": normalize(p)},
                    "typeahead", str(len(p)), text=p, meta={"word": word})
    if cls == "user_typeahead":
        return Item(cls, "user", name, v, TYPEAHEAD_LIMIT, "user_prefix", user | {"k": TYPEAHEAD_LIMIT}, group=str(len(p)),
                    meta={"word": word})
    if cls == "hashtag_typeahead":
        tp = rng.choice(inputs.hashtag_prefixes)
        return Item(cls, "hashtag", f"(term name:{quoted(tp)})", v, TYPEAHEAD_LIMIT, cls,
                    {"v": v, "p": like_prefix(tp), "k": TYPEAHEAD_LIMIT})
    if cls == "place_typeahead":
        pp = rng.choice(inputs.place_prefixes)
        return Item(cls, "place", f"(term name:{quoted(pp)})", v, TYPEAHEAD_LIMIT, cls,
                    {"p": like_prefix(pp), "k": TYPEAHEAD_LIMIT})
    if cls == "people_2hop":
        return Item(cls, "user", f"(and {name} (apply following: (term following:{v})))", v, SEARCH_LIMIT, cls,
                    user | {"k": SEARCH_LIMIT}, group=str(len(p)))
    if cls in ("media_by_followees", "extract_owners"):
        t = rng.choice(inputs.hashtags)
        query = (f"(and (term hashtag:{quoted(t)}) (apply owner: (term following:{v})))" if cls == "media_by_followees"
                 else f"(extract owner: (term hashtag:{quoted(t)}))")
        return Item(cls, "media" if cls == "media_by_followees" else "user", query, v, SEARCH_LIMIT, cls,
                    {"v": v, "t": t, "k": SEARCH_LIMIT})
    if cls == "weak_and":
        query = f"(weak-and {name} (term following:{v} :optional-weight {WEAK_AND_WEIGHT}))"
        return Item(cls, "user", query, v, TYPEAHEAD_LIMIT, cls,
                    user | {"k": TYPEAHEAD_LIMIT, "budget": int(WEAK_AND_WEIGHT * TYPEAHEAD_LIMIT)}, group=str(len(p)))
    if cls == "strong_or":
        wf, wv = STRONG_OR_WEIGHTS
        query = (f"(strong-or (and {name} (term following:{v}) :optional-weight {wf}) "
                 f"(and {name} (term is:verified) :optional-weight {wv}) {name})")
        return Item(cls, "user", query, v, TYPEAHEAD_LIMIT, cls,
                    user | {"k": TYPEAHEAD_LIMIT, "quota_a": int(wf * TYPEAHEAD_LIMIT), "quota_b": int(wv * TYPEAHEAD_LIMIT)},
                    group=str(len(p)))
    raise ValueError(f"unknown query class {cls!r}")
