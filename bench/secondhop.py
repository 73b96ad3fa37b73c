"""Why second-hop targets take more keystrokes than followees: who holds the top 3 while the target is not in it.

    python -m bench.secondhop [--scale M] [--data DIR] [--pairs 400] [--seed 1] [--out FILE]

Pairs are sampled as bench/relevance.py samples them (half followees, half second-hop targets), the
name typed exactly (typos off). At every keystroke the typeahead's first WINDOW users are read with
their score, `following` and mutual count m. Reported per kind: the mean keystrokes (as relevance
counts them), the target's m, and for every keystroke before the target shows, what fills the top 3:
followees, 2-hop users with more / as many / fewer mutuals than the target, and the others; and how
many followees match the typed text. Variants re-rank the same windows without changing the engine
(a counterfactual, not a measurement of a new engine): the followee bonus lowered, one of the 3 slots kept
for the best non-followee, and non-followees ordered by resource allocation (the sum, over the viewer's
followees who follow the user, of 1 / that followee's followee count) instead of the mutual count. The index is DATA/index (the harness's).
"""

from __future__ import annotations

import json
import random
import statistics
from collections.abc import Callable
from pathlib import Path

import click

from bench.engine import build
from bench.relevance import TOP, sample_pairs
from unicorn.engine import Engine
from unicorn.query import rank
from unicorn.social import EXACT, FOLLOWED
from vocabulary import terms

WINDOW = 50
KINDS = ("followee", "second_hop")
SLOT_KINDS = ("followee", "hop_more_mutuals", "hop_same_mutuals", "hop_fewer_mutuals", "other")


def _window(engine: Engine, view, viewer: int, typed: str) -> list[dict]:
    """The first WINDOW users for `typed`, each with its resource-allocation weight `ra`: the sum over the
    viewer's followees f who follow it of 1 / (f's followee count)."""
    found = engine.typeahead(typed, viewer, limit=WINDOW, verticals=("user",), typos="0", timeout_ms=60_000)
    circle = engine.viewers.resolve(view, viewer).circle
    snapshot = engine.viewers.circles.graph.at(view)
    out = []
    followers = view.rank("user").count
    for r in found.results:
        iid = view.iid("user", int(r["id"]))
        via = rank.as_array(view.posting("user", terms.follower(int(r["id"]))) & circle.followees).tolist()
        ra = sum(1.0 / max(1, len(snapshot.followees(view, f))) for f in via)
        out.append({"id": r["id"], "score": r["score"], "following": r["social"]["following"],
                    "m": r["social"]["followed_by_count"], "followers": int(followers[iid]), "ra": ra})
    return out


def _current(window: list[dict]) -> list[str]:
    return [r["id"] for r in window[:TOP]]


def _bonus(value: float) -> Callable[[list[dict]], list[str]]:
    """The followee bonus FOLLOWED replaced by `value` (scores otherwise as the engine's)."""
    def top(window: list[dict]) -> list[str]:
        ranked = sorted(window, key=lambda r: (-(r["score"] - (FOLLOWED - value) * r["following"]), -r["followers"],
                                                int(r["id"])))
        return [r["id"] for r in ranked[:TOP]]
    return top


def _reserved(min_mutuals: int) -> Callable[[list[dict]], list[str]]:
    """The engine's order, but the last of the 3 slots goes to the best non-followee with >= `min_mutuals`
    mutuals when none is in the first two."""
    def top(window: list[dict]) -> list[str]:
        first = window[:TOP - 1]
        if len(window) < TOP or any(not r["following"] for r in first):
            return _current(window)
        hop = next((r for r in window if not r["following"] and r["m"] >= min_mutuals), window[TOP - 1])
        return [r["id"] for r in first] + [hop["id"]]
    return top


def _resource_allocation(window: list[dict]) -> list[str]:
    """Exact usernames and followees first in the engine's order; the others by `ra`, then popularity."""
    first = [r for r in window if r["following"] or r["score"] >= EXACT]
    rest = sorted((r for r in window if not (r["following"] or r["score"] >= EXACT)),
                  key=lambda r: (-r["ra"], -r["followers"], int(r["id"])))
    return [r["id"] for r in (first + rest)[:TOP]]


VARIANTS: dict[str, Callable[[list[dict]], list[str]]] = {
    "engine": _current, "resource_allocation_2hop": _resource_allocation, "followee_bonus_3": _bonus(3.0), "followee_bonus_2": _bonus(2.0),
    "slot_for_2hop_m1": _reserved(1), "slot_for_2hop_m2": _reserved(2), "slot_for_2hop_m3": _reserved(3),
}


def analyse(engine: Engine, index, pairs: int, seed: int) -> dict:
    with index.reader() as view:
        sampled = sample_pairs(view, engine.viewers.privacy, random.Random(seed), pairs)
        return _analyse(engine, view, sampled)


def _analyse(engine: Engine, view, sampled: list) -> dict:
    keystrokes = {v: {k: [] for k in KINDS} for v in VARIANTS}
    target_m = {k: [] for k in KINDS}
    slots = {k: {} for k in KINDS}  # kind -> keystroke -> slot kind -> count
    followees_matching = {k: {} for k in KINDS}  # kind -> keystroke -> counts (capped at WINDOW)
    waiting = {k: {} for k in KINDS}  # kind -> keystroke -> pairs whose target is not yet in the top 3
    for kind, viewer, target, text in sampled:
        target = str(target)
        windows: list[list[dict]] = []
        shown: dict[str, int] = {}
        m = None
        for n in range(1, len(text) + 1):
            if text[n - 1] == " ":  # a space changes no token: the list stays as it was
                windows.append(windows[-1] if windows else [])
                continue
            window = _window(engine, view, viewer, text[:n])
            windows.append(window)
            hit = next((r for r in window if r["id"] == target), None)
            if hit is not None and m is None:
                m = hit["m"]
            for name, top in VARIANTS.items():
                if name not in shown and target in top(window):
                    shown[name] = n
            if len(shown) == len(VARIANTS):
                break
        target_m[kind].append(m if m is not None else -1)
        for name in VARIANTS:
            keystrokes[name][kind].append(shown.get(name, len(text) + 1))
        for n, window in enumerate(windows, 1):
            if text[n - 1] == " " or n >= shown.get("engine", len(text) + 1):
                continue
            waiting[kind][n] = waiting[kind].get(n, 0) + 1
            counts = slots[kind].setdefault(n, dict.fromkeys(SLOT_KINDS, 0))
            for r in window[:TOP]:
                counts[_slot(r, m)] += 1
            followees_matching[kind].setdefault(n, []).append(sum(r["following"] for r in window))
    out: dict = {"pairs": len(sampled), "top": TOP, "window": WINDOW, "keystrokes": {}, "target_mutuals": {},
                 "not_yet_shown": {}}
    for name in VARIANTS:
        out["keystrokes"][name] = {k: round(statistics.fmean(v), 3) for k, v in keystrokes[name].items() if v}
    for kind in KINDS:
        ms = [m for m in target_m[kind] if m >= 0]
        out["target_mutuals"][kind] = {"mean": round(statistics.fmean(ms), 2) if ms else None,
                                       "median": statistics.median(ms) if ms else None,
                                       "share_m_1": round(sum(m == 1 for m in ms) / len(ms), 3) if ms else None,
                                       "not_in_window": sum(m < 0 for m in target_m[kind])}
        out["not_yet_shown"][kind] = {
            str(n): {"pairs": waiting[kind][n],
                     "top3_slots_mean": {s: round(c / waiting[kind][n], 2) for s, c in slots[kind][n].items()},
                     "followees_matching_mean": round(statistics.fmean(followees_matching[kind][n]), 1)}
            for n in sorted(waiting[kind]) if n <= 6}
    return out


def _slot(r: dict, target_m: int | None) -> str:
    if r["following"]:
        return "followee"
    if r["m"] == 0:
        return "other"
    if target_m is None or r["m"] > target_m:
        return "hop_more_mutuals"
    return "hop_same_mutuals" if r["m"] == target_m else "hop_fewer_mutuals"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--scale", default="M", show_default=True)
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), help="[default: /tmp/unicorn-bench/SCALE]")
@click.option("--pairs", default=400, show_default=True, type=click.IntRange(min=2))
@click.option("--seed", default=1, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the figures as JSON here.")
def main(scale: str, data: Path | None, pairs: int, seed: int, out: Path | None) -> None:
    """Who holds the top 3 while a second-hop target is not in it, and counterfactual re-rankings."""
    index = build((data or Path(f"/tmp/unicorn-bench/{scale}")) / "index", scale, 0)
    engine = Engine(index)
    engine.warm()
    try:
        result = analyse(engine, index, pairs, seed)
    finally:
        index.close()
    text = json.dumps(result, indent=1)
    if out:
        out.write_text(text + "\n")
    click.echo(text)


if __name__ == "__main__":
    main()
