"""A plain-Python model of SPEC §4-§5 (query semantics, static order, privacy) over `Platform` state.

Written from the SPEC with sets and sorting, importing nothing from the product. A hashtag is
visible to a viewer while some media visible to that viewer carries it (SPEC §5). Queries are
given in the engine's JSON form: {"term": "P:V"}, {"and"|"or"|"difference"|"weak_and"|"strong_or":
[...]} with optional "optional_hits"/"optional_weight", {"apply"|"extract": "P:", "query": {...}}.
"""

from __future__ import annotations

import math

from tests.model.platform import Platform
from tests.model.text import hashtag_name

# apply prefix -> the vertical of its inner query; extract field -> the media field it reads
APPLY_INNER = {"following": "user", "follower": "user", "owner": "user", "mention": "user", "liker": "user",
               "place": "place", "hashtag": "hashtag"}
EDGE = {"following", "follower", "liker"}


class QueryModel:
    """Answers searches for one viewer (None: admin) over one platform state."""

    def __init__(self, platform: Platform, viewer: int | None, limit: int = 20, fanout: int = 100_000) -> None:
        self.p, self.viewer, self.limit, self.fanout = platform, viewer, limit, fanout
        self.truncated = False

    # SPEC §5

    def hidden(self, user: int) -> bool:
        v = self.viewer
        return v is not None and ((v, user) in self.p.blocks or (user, v) in self.p.blocks)

    def private(self, user: int) -> bool:
        return user in self.p.users and self.p.users[user]["is_private"]

    def sees_private(self, user: int) -> bool:
        return self.viewer is None or user == self.viewer or (self.viewer, user) in self.p.follows

    def visible(self, vertical: str) -> set:
        ids = self.p.ids(vertical)
        if self.viewer is None:
            return ids
        if vertical == "user":
            return {u for u in ids if not self.hidden(u)}
        if vertical == "media":
            owners = {m: self.p.media[m]["owner"] for m in ids}
            return {m for m, o in owners.items()
                    if not self.hidden(o) and (not self.private(o) or self.sees_private(o))}
        if vertical == "hashtag":
            return {tag for m in self.visible("media") for tag in self.p.media[m]["hashtags"]}
        return ids

    def edge_visible(self, x: int) -> bool:
        return (not self.private(x) or self.sees_private(x)) and not self.hidden(x)

    # SPEC §4 static order

    def key(self, vertical: str, ident) -> tuple:
        doc = self.p.document(vertical, ident)
        if vertical == "user":
            return (-doc["followers_count"], ident)
        if vertical == "media":
            return (-doc["like_count"], -doc["taken_at"], -ident)
        return (-doc["media_count"], ident)  # hashtag: name asc; place: id asc

    def ordered(self, vertical: str, ids) -> list:
        return sorted(ids, key=lambda i: self.key(vertical, i))

    # SPEC §3-§4 evaluation

    def term(self, vertical: str, term: str) -> set:
        prefix, _, value = term.partition(":")
        if prefix in ("following", "follower", "owner", "mention", "liker", "place"):
            value = str(int(value))
            if prefix in EDGE and self.viewer is not None and not self.edge_visible(int(value)):
                return set()
        if vertical == "hashtag" or prefix == "hashtag":
            value = hashtag_name(value)
        return self.p.term(vertical, f"{prefix}:{value}") & self.visible(vertical)

    def eval(self, q: dict, vertical: str) -> set:
        op = next(k for k in q if k not in ("optional_hits", "optional_weight", "query"))
        arg = q[op]
        if op == "term":
            return self.term(vertical, arg)
        if op == "apply":
            prefix = arg.rstrip(":")
            inner_vertical = APPLY_INNER[prefix]
            inner = self.ordered(inner_vertical, self.eval(q["query"], inner_vertical))
            if len(inner) > self.fanout:
                inner, self.truncated = inner[: self.fanout], True
            out: set = set()
            for x in inner:
                out |= self.term(vertical, f"{prefix}:{x}")
            return out
        if op == "extract":
            field = arg.rstrip(":")
            out = set()
            for m in self.eval(q["query"], "media"):
                value = self.p.document("media", m)[{"owner": "owner", "place": "place", "mention": "mentions",
                                                     "hashtag": "hashtags"}[field]]
                out |= set(value) if isinstance(value, list) else {value}
            return out & self.visible(vertical)
        sets = [self.eval(o, vertical) for o in arg]
        if op == "and":
            return set.intersection(*sets)
        if op == "or":
            return set.union(*sets)
        if op == "difference":
            return sets[0] - sets[1]
        if op == "weak_and":
            return self.weak_and(arg, sets, vertical)
        if op == "strong_or":
            return self.strong_or(arg, sets, vertical)
        raise ValueError(op)

    def weak_and(self, operands: list[dict], sets: list[set], vertical: str) -> set:
        required = [s for o, s in zip(operands, sets) if "optional_hits" not in o and "optional_weight" not in o]
        budgets, optional = [], []
        for o, s in zip(operands, sets):
            if "optional_hits" in o:
                budgets.append(o["optional_hits"]); optional.append(s)
            elif "optional_weight" in o:
                budgets.append(math.floor(o["optional_weight"] * self.limit)); optional.append(s)
        accepted: set = set()
        for doc in self.ordered(vertical, set.intersection(*required)):
            missing = [i for i, s in enumerate(optional) if doc not in s]
            if all(budgets[i] > 0 for i in missing):
                for i in missing:
                    budgets[i] -= 1
                accepted.add(doc)
                if len(accepted) == self.limit:
                    break
        return accepted

    def strong_or(self, operands: list[dict], sets: list[set], vertical: str) -> set:
        chosen: set = set()
        for o, s in zip(operands, sets):
            if "optional_weight" in o:
                quota = min(math.floor(o["optional_weight"] * self.limit), self.limit - len(chosen))
                chosen |= set(self.ordered(vertical, s - chosen)[: max(quota, 0)])
        rest = self.ordered(vertical, set.union(*sets) - chosen)
        chosen |= set(rest[: self.limit - len(chosen)])
        return chosen

    def search(self, vertical: str, q: dict) -> tuple[list, int, bool]:
        """(result ids best first, total, truncated) per SPEC §4."""
        self.truncated = False
        matched = self.eval(q, vertical)
        results = self.ordered(vertical, matched)[: self.limit]
        top_k = _contains(q, ("weak_and", "strong_or"))
        return results, len(results) if top_k else len(matched), self.truncated


def _contains(q: dict, ops: tuple[str, ...]) -> bool:
    if any(op in q for op in ops):
        return True
    children = [q["query"]] if "query" in q else next((v for v in q.values() if isinstance(v, list)), [])
    return any(_contains(c, ops) for c in children)
