"""Typeahead against a plain-Python model of its contract: random platforms (tests/strategies.py),
random viewers and typed texts. Results, their order, scores and the social context must equal
the model's, which is written from SPEC §1, §5 and §6 and unicorn/social.py's documented score.
"""

from __future__ import annotations

import math
import random
from functools import cached_property

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firehose.events import validate
from slipstream import Slipstream
from tests.indexed import indexed
from tests.model.platform import Platform
from tests.model.queries import QueryModel
from tests.model.text import hashtag_name, normalize, tokens
from tests.model.typos import TYPO, match
from tests.strategies import USER_IDS, events
from unicorn.typeahead import Typeahead

TYPED = ["", " ", "j", "jo", "JO ", "jon d", "joh li", "zoë", "Ångström", "jonathanatha", "jonathanathan", "东",
         "jonh", "jnoathan", "smiht", "jonathnaathan", "anstrom", "#jonatahn", "#cafe_pairs", "beahc",
         "o'neil", "bob smi", "bob_smith", "li", "t", "tok", "caf", "de fl", "café", "s", "!!",
         "@", "@jo", "@JOE", "@jon.doe", "@doe", "@bob_smith", "@smith", "@jonathanathan", "@东京", "@o'neil",
         "#", "#s", "#sun", "#Café_Paris", "#cafe_", "#beach", "#jonathanatha", "#jonathanathan1", "# s"]
VERTICALS = ("user", "hashtag", "place")


def pop(count: int) -> float:
    return min(math.log10(1 + count) / 7, 0.999)


def model_typeahead(p: Platform, typed: str, viewer: int | None, limit: int, verticals, typos: bool = True) -> list[dict]:
    """SPEC §6 typeahead results, computed with sets over the model platform."""
    qm = QueryModel(p, viewer)
    users = qm.visible("user")
    followees = {f for f in p.following(viewer) if f in users} if viewer is not None else set()
    typed = typed.strip()
    found = []
    if "user" in verticals and not typed.startswith("#"):
        username_only = typed.startswith("@")
        text = typed[1:].strip() if username_only else typed
        wanted = tokens(text)
        scored = []
        for u in users:
            doc = p.document("user", u)
            own = tokens(doc["username"]) + ([] if username_only else tokens(doc["full_name"]))
            exact = normalize(doc["username"]) == normalize(text)
            how = match(wanted, own, typos and not username_only)
            if how is None and not (username_only and exact):
                continue
            via = {f for f in followees if (f, u) in p.follows}
            m = len(via)
            typo = how == "typo"
            score = (8.0 * exact + 4.0 * (u in followees) + 3.0 * m / (1.0 + m) + pop(doc["followers_count"])
                     - TYPO * typo)
            scored.append((score, doc, via, typo))
        scored.sort(key=lambda s: (-s[0], -s[1]["followers_count"], s[1]["id"]))
        for n, (score, doc, via, typo) in enumerate(scored[:limit]):
            result = {"vertical": "user", "id": str(doc["id"]), "title": doc["username"],
                      "subtitle": doc["full_name"], "score": round(score, 4), "verified": doc["is_verified"]}
            if typo:
                result["typo"] = True
            if viewer is not None:
                shown = sorted((p.document("user", f) for f in via), key=lambda d: (-d["followers_count"], d["id"]))
                result["social"] = {"following": doc["id"] in followees, "followed_by_count": len(via),
                                    "followed_by": [{"id": str(d["id"]), "username": d["username"],
                                                     "full_name": d["full_name"]} for d in shown[:3]]}
            found.append((-result["score"], 0, n, result))
    if "hashtag" in verticals and not typed.startswith("@"):
        prefix = hashtag_name(typed[1:].strip() if typed.startswith("#") else typed)
        if prefix and not any(c.isspace() for c in prefix):
            visible = qm.visible("hashtag")
            tags = [(name, count, match([prefix], [name], typos)) for name, count in p.hashtags().items()
                    if name in visible]
            tags = [(name, count, how == "typo") for name, count, how in tags if how]
            tags.sort(key=lambda t: (t[0] != prefix, -t[1], t[2], t[0]))
            for n, (name, count, typo) in enumerate(tags[:limit]):
                score = round(4.0 * (name == prefix) + pop(count) - TYPO * typo, 4)
                result = {"vertical": "hashtag", "id": name, "title": f"#{name}",
                          "subtitle": f"{count:,} post" + ("" if count == 1 else "s"), "score": score}
                if typo:
                    result["typo"] = True
                found.append((-score, 1, n, result))
    if "place" in verticals and not typed.startswith(("@", "#")):
        wanted = tokens(typed)
        places = [p.document("place", i) for i in p.places]
        places = [(d, match(wanted, tokens(d["name"]), typos) == "typo") for d in places
                  if match(wanted, tokens(d["name"]), typos)]
        places.sort(key=lambda dt: (-dt[0]["media_count"], dt[1], dt[0]["id"]))
        for n, (d, typo) in enumerate(places[:limit]):
            score = round(pop(d["media_count"]) - TYPO * typo, 4)
            where = ", ".join(part for part in (d["city"], d["country"]) if part)
            found.append((-score, 2, n, {"vertical": "place", "id": str(d["id"]), "title": d["name"],
                                         "subtitle": where, "score": score, **({"typo": True} if typo else {})}))
    found.sort(key=lambda f: f[:3])
    return [f[3] for f in found[:limit]]


def same(got: list[dict], expected: list[dict]) -> bool:
    """Equal results, scores equal to 4 decimals (float rounding of equal sums may differ by one unit)."""
    strip = lambda rs: [{k: v for k, v in r.items() if k != "score"} for r in rs]
    return strip(got) == strip(expected) and all(
        math.isclose(g["score"], e["score"], abs_tol=2e-4) for g, e in zip(got, expected))


requests = st.lists(st.tuples(st.sampled_from(TYPED), st.none() | USER_IDS, st.integers(1, 6),
                              st.sampled_from([VERTICALS, ("user",), ("hashtag", "place")]), st.booleans()),
                    min_size=30, max_size=30)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=events(80), reqs=requests)
def test_typeahead_matches_model(history, reqs):
    with indexed(history) as (index, platform):
        typeahead = Typeahead(index)
        for typed, viewer, limit, verticals, typos in reqs:
            got = typeahead.search(typed, viewer, limit, verticals, timeout_ms=60_000, typos="auto" if typos else "0")
            expected = model_typeahead(platform, typed, viewer, limit, verticals, typos)
            assert got["q"] == typed
            assert same(got["results"], expected), f"{typed!r} viewer={viewer} limit={limit} {verticals} {typos=}"


graph_quiet = {"media.upsert", "media.delete", "like.add", "like.remove", "place.upsert"}


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(first=events(60), second=events(40), quiet=st.booleans(), reqs=requests)
def test_typeahead_follows_each_new_snapshot(first, second, quiet, reqs):
    """Circles built on one snapshot are renewed or rebuilt for the next: answers stay the model's,
    whether the second batch changes the graph (follows, blocks, renames, deletes) or only media."""
    with indexed(first) as (index, platform):
        typeahead = Typeahead(index)
        for phase in (1, 2):
            if phase == 2:
                with index.writer() as batch:
                    slip = Slipstream(batch)
                    for event in second:
                        if not quiet or event["op"] in graph_quiet:
                            slip.apply(event)
                            platform.apply(event)
            for typed, viewer, limit, verticals, typos in reqs:
                got = typeahead.search(typed, viewer, limit, verticals, timeout_ms=60_000,
                                       typos="auto" if typos else "0")
                expected = model_typeahead(platform, typed, viewer, limit, verticals, typos)
                assert same(got["results"], expected), f"phase {phase}: {typed!r} viewer={viewer} limit={limit}"


class Settled(Platform):
    """The model platform after its last event, with its follow and block sets made once: with a
    viewer who follows thousands, the plain model's scan of every follow per document is too slow."""

    @cached_property
    def follows(self) -> set[tuple[int, int]]:
        return set(self.follow_ts)

    @cached_property
    def blocks(self) -> set[tuple[int, int]]:
        return set(self.block_ts)

    @cached_property
    def _out(self) -> dict[int, set[int]]:
        out: dict[int, set[int]] = {}
        for a, z in self.follows:
            out.setdefault(a, set()).add(z)
        return out

    @cached_property
    def _in(self) -> dict[int, set[int]]:
        into: dict[int, set[int]] = {}
        for a, z in self.follows:
            into.setdefault(z, set()).add(a)
        return into

    def followers(self, uid: int) -> set[int]:
        return {a for a in self._in.get(uid, ()) if a in self.users}

    def following(self, uid: int) -> set[int]:
        return {z for z in self._out.get(uid, ()) if z in self.users}


BIG = 1  # the viewer who follows thousands
JO = ["jo", "jo smith", "joan", "jon doe", "jo jo", "johanna li"]


def thousands_of_followees(followees: int, rng: random.Random) -> list[dict]:
    """Viewer BIG follows users 2 .. followees + 1 (created first, so their internal ids are in that
    order); some of them are private, some block BIG. Candidates named jo* are followed by random
    runs of those followees, early, late or spread, and by strangers (their popularity)."""
    user = lambda uid, name, full="", private=False: {"op": "user.upsert", "ts": 0, "user": {
        "id": uid, "username": name, "full_name": full, "is_private": private, "is_verified": False}}
    follow = lambda a, z: {"op": "follow.add", "ts": 1, "follower": a, "followee": z}
    circle = list(range(2, followees + 2))
    candidates = list(range(100_000, 100_040))
    strangers = list(range(200_000, 200_150))
    events = [user(BIG, "big")] + [user(f, f"f{f}", private=rng.random() < 0.1) for f in circle]
    events += [user(c, rng.choice(JO).replace(" ", "_") + str(c % 7), rng.choice(JO)) for c in candidates]
    events += [user(s, f"s{s}") for s in strangers]
    events += [follow(BIG, f) for f in circle]
    events += [{"op": "block.add", "ts": 1, "blocker": f, "blocked": BIG} for f in rng.sample(circle, 40)]
    events += [follow(BIG, c) for c in rng.sample(candidates, 4)]
    for n, c in enumerate(candidates):
        size = rng.choice([0, 1, 2, 3, 8, 40, 300])
        pool = [circle[:1000], circle[1000:], circle][n % 3]  # the first 1,000 followees by id, the rest, all
        events += [follow(f, c) for f in rng.sample(pool, min(size, len(pool)))]
        events += [follow(s, c) for s in rng.sample(strangers, rng.choice([0, 5, 60]))]
    return [validate(e) for e in events]


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(followees=st.integers(1_001, 2_500), rnd=st.randoms(use_true_random=False),
       reqs=st.lists(st.tuples(st.sampled_from(["jo", "j", "jo_", "jo s", "@jo", "@jo_smith", "joan", "jon d"]),
                               st.sampled_from([BIG, 2, 1_500]), st.integers(1, 50), st.booleans()),
                     min_size=12, max_size=12))
def test_social_counts_and_ranking_are_exact_for_a_viewer_who_follows_thousands(followees, rnd, reqs):
    """SPEC §6: `social` and the ranking count every visible followee who follows a result, for a
    viewer who follows more than 1,000 users (candidates followed only by the later ones too)."""
    history = thousands_of_followees(followees, rnd)
    settled = Settled()
    for event in history:
        settled.apply(event)
    with indexed(history) as (index, _):
        typeahead = Typeahead(index)
        assert len(settled.following(BIG)) > 1000
        for typed, viewer, limit, typos in reqs:
            got = typeahead.search(typed, viewer, limit, VERTICALS, timeout_ms=60_000, typos="auto" if typos else "0")
            expected = model_typeahead(settled, typed, viewer, limit, VERTICALS, typos)
            assert same(got["results"], expected), f"{typed!r} viewer={viewer} limit={limit} {typos=}"
