"""Relevance of typeahead: keystrokes until the target is in the top 3.

Sampled (viewer, target) pairs where the target is a followee of the viewer ("followee") or a
followee of a followee that the viewer does not follow ("second_hop"), visible to the viewer.
The viewer types the target's full name (normalized) one character at a time, querying
the index after each; the count is the keystrokes until the target is among the first 3
results, or the name's length + 1 when it never is. Over the same index, the social ranking is
unicorn.typeahead's (users only), popularity-only is the engine's `(term name:TYPED)` in static
order (followers count first): both match the same users and differ only in order.

With one typo (issue 16): the same pairs, the name typed with one random substitution,
transposition or deletion in its first five characters; "social_typos" is the typeahead with
`typos=auto`, "social_typos_off" with `typos=0`, and "popularity_typos" the typeahead with
`typos=auto` and no viewer (no social signal: popularity and the typo rule only, as text engines
rank). `latency` gives the typeahead's in-process p50/p99 per call and ranking: the exact path
(`typos=0`), `typos=auto` on the names as written, and `typos=auto` on the names with a typo.

Blending (issue 17): sampled (viewer, prefix) pairs, the prefix 1-3 characters of a name token of a random
user, hashtag or place (in turn). For each, the blended typeahead (every vertical, limit BLEND_LIMIT) and,
per vertical, the single-vertical typeahead's first result (the best hashtag, the best place, the best
user for the prefix); `blend` says how often each best one is in the blended list (`rate`, over the
prefixes that vertical finds anything for) and the blended call's in-process p50/p99.

Goals (issue 7): social mean <= 2.0 for followees, and >= 40% fewer keystrokes than popularity.
Goals (issue 16): with one typo, <= 3.0 within two hops and >= 40% fewer than with typos off.
"""

from __future__ import annotations

import random
import statistics
import time

from pyroaring import BitMap

from unicorn.query import privacy, rank
from vocabulary import terms
from vocabulary.text import hashtag_name, normalize, tokens

TOP = 3
BLEND_LIMIT = 10
BLEND_VERTICALS = ("user", "hashtag", "place")
KINDS = ("followee", "second_hop")
TYPO_WITHIN = 5  # the typo falls within the name's first characters
# ranking -> (typeahead viewer: the pair's or none, typos parameter)
TYPO_RANKINGS = {"social_typos": ("viewer", "auto"), "social_typos_off": ("viewer", "0"),
                 "popularity_typos": (None, "auto")}


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def typed_name(doc: dict) -> str:
    """What a person types for this user: the normalized full name, else the username."""
    name = " ".join(tokens(doc["full_name"]))
    return name or " ".join(tokens(doc["username"])) or normalize(doc["username"])


def with_typo(rng: random.Random, text: str) -> str:
    """`text` with one substitution, transposition or deletion at a letter among its first TYPO_WITHIN."""
    spots = [i for i in range(min(TYPO_WITHIN, len(text))) if text[i] != " "]
    at = rng.choice(spots)
    kind = rng.choice(("substitution", "transposition", "deletion"))
    if kind == "transposition" and at + 1 < len(text) and text[at + 1] not in (" ", text[at]):
        return text[:at] + text[at + 1] + text[at] + text[at + 2:]
    if kind == "deletion" and len(text) > 1:
        return text[:at] + text[at + 1:]
    letters = [c for c in "aeioustnrlmdk" if c != text[at]]
    return text[:at] + rng.choice(letters) + text[at + 1:]


LATENCY: dict[str, list[float]] = {}


def top(searcher, viewer: int, typed: str, ranking: str) -> list[str]:
    if ranking == "social" or ranking in TYPO_RANKINGS:
        who, typos = TYPO_RANKINGS.get(ranking, ("viewer", "auto"))
        started = time.perf_counter()
        found = searcher.typeahead(typed, viewer if who else None, limit=TOP, verticals=("user",),
                                   typos=typos).results
        path = {"social": "typos_auto_as_written", "social_typos": "typos_auto_with_typo",
                "social_typos_off": "typos_0_with_typo", "popularity_typos": "typos_auto_no_viewer_with_typo"}[ranking]
        LATENCY.setdefault(path, []).append((time.perf_counter() - started) * 1000)
    else:
        found = searcher.search("user", f"(term name:{quoted(typed)})", viewer, limit=TOP).results
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
    users = rank.as_array(view.posting("user", terms.LIVE)).tolist()
    out: list[tuple[str, int, int, str]] = []
    attempts = 0
    while len(out) < pairs and attempts < 50 * pairs:
        attempts += 1
        viewer = view.ext("user", rng.choice(users))
        visible = vis_cache.get(view, viewer).visible["user"]
        followees = view.posting("user", terms.following(viewer)) & visible
        if not followees:
            continue
        kind = KINDS[len(out) % 2]
        hop = followees
        if kind == "second_hop":
            via = view.ext("user", rng.choice(followees.to_array().tolist()))
            hop = BitMap(view.posting("user", terms.following(via)) & visible) - followees
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
    """`searcher`: a unicorn.searcher.Searcher over `index`."""
    typo_rankings = list(TYPO_RANKINGS)
    rankings = ["social", "popularity_only", *typo_rankings]
    with index.reader() as view:
        sampled = sample_pairs(view, privacy.Cache(), rng, pairs)
    counts = {name: {k: [] for k in KINDS} for name in rankings}
    LATENCY.clear()
    for kind, viewer, target, text in sampled:
        mistyped = with_typo(rng, text)
        for name in rankings:
            typed = mistyped if name in typo_rankings else text
            counts[name][kind].append(keystrokes(searcher, viewer, str(target), typed, name))
    out: dict = {"pairs": len(sampled), "top": TOP}
    for name in rankings:
        out[name] = {kind: _mean(v) for kind, v in counts[name].items()}
        out[name]["all"] = _mean([n for v in counts[name].values() for n in v])
    if "social" in rankings:
        out["reduction_vs_popularity"] = {
            kind: round(1 - out["social"][kind]["mean_keystrokes"] / out["popularity_only"][kind]["mean_keystrokes"], 3)
            if out["social"][kind]["pairs"] else None for kind in (*KINDS, "all")}
    if typo_rankings:
        out["typo_reduction_vs_typos_off"] = {
            kind: round(1 - out["social_typos"][kind]["mean_keystrokes"]
                        / out["social_typos_off"][kind]["mean_keystrokes"], 3)
            if out["social_typos"][kind]["pairs"] else None for kind in (*KINDS, "all")}
        out["latency"] = {path: {"p50_ms": round(statistics.median(ms), 4),
                                 "p99_ms": round(sorted(ms)[min(len(ms) - 1, int(len(ms) * 0.99))], 4),
                                 "calls": len(ms)}
                          for path, ms in sorted(LATENCY.items())}
    out["blend"] = measure_blend(searcher, index, rng, 3 * pairs)
    return out


def sample_prefixes(view, rng: random.Random, count: int) -> list[tuple[int, str]]:
    """(viewer, prefix): 1-3 characters of a name token of a random user, hashtag or place, in turn."""
    users = rank.as_array(view.posting("user", terms.LIVE)).tolist()
    pools = {v: rank.as_array(view.posting(v, terms.LIVE)).tolist() for v in BLEND_VERTICALS}
    names = {"user": lambda doc: doc["full_name"] or doc["username"], "hashtag": lambda doc: doc["name"],
             "place": lambda doc: doc["name"]}
    out: list[tuple[int, str]] = []
    for n in range(50 * count):
        if len(out) == count:
            break
        vertical = BLEND_VERTICALS[n % len(BLEND_VERTICALS)]
        if not pools[vertical]:
            continue
        name = names[vertical](view.doc(vertical, rng.choice(pools[vertical])))
        words = [hashtag_name(name)] if vertical == "hashtag" else tokens(name)
        words = [w for w in words if w]
        if words:
            out.append((view.ext("user", rng.choice(users)), rng.choice(words)[:rng.randint(1, 3)]))
    return out


def measure_blend(searcher, index, rng: random.Random, count: int) -> dict:
    """How often each vertical's best result for a prefix is in the blended top BLEND_LIMIT, and the
    blended call's in-process latency."""
    with index.reader() as view:
        sampled = sample_prefixes(view, rng, count)
    found = {v: 0 for v in BLEND_VERTICALS}
    shown = {v: 0 for v in BLEND_VERTICALS}
    ms = []
    for viewer, prefix in sampled:
        started = time.perf_counter()
        blended = searcher.typeahead(prefix, viewer, limit=BLEND_LIMIT, verticals=BLEND_VERTICALS).results
        ms.append((time.perf_counter() - started) * 1000)
        listed = {(r["vertical"], r["id"]) for r in blended}
        for vertical in BLEND_VERTICALS:
            best = searcher.typeahead(prefix, viewer, limit=1, verticals=(vertical,)).results
            if best:
                found[vertical] += 1
                shown[vertical] += (vertical, best[0]["id"]) in listed
    ms.sort()
    return {"prefixes": len(sampled), "limit": BLEND_LIMIT,
            **{v: {"prefixes_with_matches": found[v], "best_in_blend": shown[v],
                   "rate": round(shown[v] / found[v], 3) if found[v] else None} for v in BLEND_VERTICALS},
            "latency": {"p50_ms": round(statistics.median(ms), 4) if ms else None,
                        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 4) if ms else None,
                        "calls": len(ms)}}


def _mean(values: list[int]) -> dict:
    return {"mean_keystrokes": round(statistics.fmean(values), 3) if values else None, "pairs": len(values)}
