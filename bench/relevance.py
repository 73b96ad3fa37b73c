"""Relevance of typeahead: keystrokes until the target is in the top 3.

Sampled (viewer, target) pairs where the target is a followee of the viewer ("followee") or a
followee of a followee that the viewer does not follow ("second_hop"), visible to the viewer.
The viewer types the target's full name (normalized) one character at a time, querying
`(term name:TYPED)` after each; the count is the keystrokes until the target is among the
first 3 results, or the name's length + 1 when it never is. The same engine ranks with
`order: "social"` (unicorn.social) and with `order: "static"` (followers count: popularity only).

Goals (issue 7): social mean <= 2.0 for followees, and >= 40% fewer keystrokes than popularity.
"""

from __future__ import annotations

import random
import statistics

from pyroaring import BitMap

from unicorn.engine import Engine
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


def keystrokes(engine: Engine, viewer: int, target: str, text: str, order: str) -> int:
    for n in range(1, len(text) + 1):
        if text[n - 1] == " ":
            continue  # a space changes no token: the list stays as it was
        result = engine.search("user", f"(term name:{quoted(text[:n])})", viewer, limit=TOP, order=order)
        if target in (r["id"] for r in result.results):
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


def measure(engine: Engine, index, rng: random.Random, pairs: int = 200) -> dict:
    orders = [o for o in ("social", "static") if o in engine.rankers]
    with index.reader() as view:
        sampled = sample_pairs(view, engine._privacy, rng, pairs)
    counts: dict[str, dict[str, list[int]]] = {o: {k: [] for k in KINDS} for o in orders}
    for kind, viewer, target, text in sampled:
        for order in orders:
            counts[order][kind].append(keystrokes(engine, viewer, str(target), text, order))
    ranking = {"social": "social", "static": "popularity_only"}
    out: dict = {"pairs": len(sampled), "top": TOP}
    for order in orders:
        out[ranking[order]] = {kind: {"mean_keystrokes": round(statistics.fmean(v), 3) if v else None, "pairs": len(v)}
                               for kind, v in counts[order].items()}
        every = [n for v in counts[order].values() for n in v]
        out[ranking[order]]["all"] = {"mean_keystrokes": round(statistics.fmean(every), 3) if every else None,
                                      "pairs": len(every)}
    if "social" in orders:
        out["reduction_vs_popularity"] = {
            kind: (round(1 - out["social"][kind]["mean_keystrokes"] / out["popularity_only"][kind]["mean_keystrokes"], 3)
                   if out["social"][kind]["mean_keystrokes"] and out["popularity_only"][kind]["mean_keystrokes"] else None)
            for kind in (*KINDS, "all")}
    return out
