"""Relevance of typeahead: keystrokes until the target is in the top 3.

Sampled (viewer, target) pairs where the target is a followee of the viewer ("followee") or a
followee of a followee that the viewer does not follow ("second_hop"), visible to the viewer.
The viewer types the target's full name (normalized) one character at a time, querying
the index after each; the count is the keystrokes until the target is among the first 3
results, or the name's length + 1 when it never is. Over the same index, the social ranking is
unicorn.typeahead's (users only), popularity-only is the engine's `(term name:TYPED)` in static
order (followers count first): both match the same users and differ only in order.

Goals (issue 7): social mean <= 2.0 for followees, and >= 40% fewer keystrokes than popularity.
"""

from __future__ import annotations

import random
import statistics

from pyroaring import BitMap

from unicorn.query import rank
from unicorn.text import normalize, tokens

TOP = 3
KINDS = ("followee", "second_hop")


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def typed_name(doc: dict) -> str:
    """What a person types for this user: the normalized full name, else the username."""
    name = " ".join(tokens(doc["full_name"]))
    return name or " ".join(tokens(doc["username"])) or normalize(doc["username"])


def top(searcher, viewer: int, typed: str, ranking: str) -> list[str]:
    if ranking == "social":
        found = searcher.typeahead.search(typed, viewer, limit=TOP, verticals=("user",))["results"]
    else:
        found = searcher.engine.search("user", f"(term name:{quoted(typed)})", viewer, limit=TOP).results
    return [r["id"] for r in found]


def keystrokes(searcher, viewer: int, target: str, text: str, ranking: str) -> int:
    for n in range(1, len(text) + 1):
        if text[n - 1] == " ":
            continue  # a space changes no token: the list stays as it was
        if target in top(searcher, viewer, text[:n], ranking):
            return n
    return len(text) + 1


def sample_pairs(view, vis_cache, rng: random.Random, pairs: int) -> list[tuple[str, int, int, str]]:
    """(kind, viewer, target, text) pairs: half followees, half second-hop targets."""
    users = rank.as_array(view.posting("user", "_live")).tolist()
    out: list[tuple[str, int, int, str]] = []
    attempts = 0
    while len(out) < pairs and attempts < 50 * pairs:
        attempts += 1
        viewer = view.ext("user", rng.choice(users))
        visible = vis_cache.get(view, viewer).visible["user"]
        followees = view.posting("user", f"following:{viewer}") & visible
        if not followees:
            continue
        kind = KINDS[len(out) % 2]
        hop = followees
        if kind == "second_hop":
            via = view.ext("user", rng.choice(followees.to_array().tolist()))
            hop = BitMap(view.posting("user", f"following:{via}") & visible) - followees
            me = view.iid("user", viewer)
            if me is not None:
                hop.discard(me)
        if not hop:
            continue
        target = rng.choice(hop.to_array().tolist())
        doc = view.doc("user", target)
        text = typed_name(doc)
        if text:
            out.append((kind, viewer, doc["id"], text))
    return out


def measure(searcher, index, rng: random.Random, pairs: int = 200) -> dict:
    """`searcher`: bench.harness.Searchers (the engine, and the typeahead when it exists)."""
    rankings = (["social"] if searcher.typeahead else []) + ["popularity_only"]
    with index.reader() as view:
        sampled = sample_pairs(view, searcher.engine._privacy, rng, pairs)
    counts = {name: {k: [] for k in KINDS} for name in rankings}
    for kind, viewer, target, text in sampled:
        for name in rankings:
            counts[name][kind].append(keystrokes(searcher, viewer, str(target), text, name))
    out: dict = {"pairs": len(sampled), "top": TOP}
    for name in rankings:
        out[name] = {kind: _mean(v) for kind, v in counts[name].items()}
        out[name]["all"] = _mean([n for v in counts[name].values() for n in v])
    if "social" in rankings:
        out["reduction_vs_popularity"] = {
            kind: round(1 - out["social"][kind]["mean_keystrokes"] / out["popularity_only"][kind]["mean_keystrokes"], 3)
            if out["social"][kind]["pairs"] else None for kind in (*KINDS, "all")}
    return out


def _mean(values: list[int]) -> dict:
    return {"mean_keystrokes": round(statistics.fmean(values), 3) if values else None, "pairs": len(values)}
