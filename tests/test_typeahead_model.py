"""Typeahead against a plain-Python model of its contract: random platforms (tests/strategies.py),
random viewers and typed texts.

The contract says exactly which results match and what each says, but only part of their order,
so the model computes each vertical's matches exactly and checks the answer against the ordering
rules the contract states, not against scores:

- SPEC §6 and docs/http-api.md: users are ranked by social proximity to the viewer, in the total
  order of docs/http-api.md (tests/model/social.py): an exact username first, then the people the
  viewer follows, then by mutual weight (the shares ceil(2^20 / following_count) of the viewer's
  followees who follow them, more first), then by followers, an exact match before a typo match, then id.
- SPEC §6 and docs/http-api.md: social proximity leads the order (a followee found through a typo
  comes before a stranger found exactly); among otherwise equal results (equal by every rule above, and for a
  hashtag or a place an equal `media_count`) the exact match comes first.
- `limit` results when that many match, and (not stated, expected of any ranked list) scores
  never increase down the list.
- `social` (SPEC §6): whether the viewer follows the user, how many of the viewer's visible
  followees follow them, and a few of those (each a visible followee who follows them, at least
  one when there are any).

- docs/http-api.md, blending (issue 17): `#q` and `@q` search one vertical, anything else every
  requested one. With one searched vertical the answer is that vertical's own answer (the request
  with `verticals` that vertical alone). With n > 1, share = max(1, limit // (2n)); a vertical
  whose own answer holds g good matches (results without `typo`) shows its own answer's first
  results, at least min(share, g) of them when limit >= n * share, and else one each for the
  `limit` verticals with good matches whose own best result scores best; a result beyond its
  vertical's share never sits above a better result left out.

The contract does not order hashtags or places among themselves (beyond the typo rule), or the
verticals against each other beyond the blending rule, and does not say which followees `social`
names: the model checks none of these, and no score beyond their order.
`test_social_order_over_dense_graphs` draws graphs where most users match the typed text and
follow each other densely, so every group, weight, follower count and typo meet.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cached_property

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firehose.events import validate
from slipstream import Slipstream
from tests.indexed import indexed
from tests.model.platform import Platform
from tests.model.queries import QueryModel
from tests.model.social import mutual_weight, user_key
from tests.model.text import hashtag_name, normalize, tokens
from tests.model.typos import match
from tests.strategies import USER_IDS, events
from unicorn.typeahead import Typeahead

TYPED = ["", " ", "j", "jo", "JO ", "jon d", "joh li", "zoë", "Ångström", "jonathanatha", "jonathanathan", "东",
         "jonh", "jnoathan", "smiht", "jonathnaathan", "anstrom", "#jonatahn", "#cafe_pairs", "beahc",
         "o'neil", "bob smi", "bob_smith", "li", "t", "tok", "caf", "de fl", "café", "s", "!!",
         "@", "@jo", "@JOE", "@jon.doe", "@doe", "@bob_smith", "@smith", "@jonathanathan", "@东京", "@o'neil",
         "#", "#s", "#sun", "#Café_Paris", "#cafe_", "#beach", "#jonathanatha", "#jonathanathan1", "# s"]
VERTICALS = ("user", "hashtag", "place")
EXACT_USERNAME, FOLLOWEE, SECOND_HOP, EVERYONE_ELSE = range(4)  # the user groups, in their order


@dataclass
class Candidate:
    """One result the typed text matches: what it must say (`result`, no score) and what orders it."""

    result: dict
    typo: bool
    group: int = EVERYONE_ELSE  # users only
    weight: int = 0  # users only: mutual weight (tests/model/social.py)
    popularity: int = 0  # followers (users) or media_count (hashtags, places)
    followed: bool = False  # users: the viewer follows them
    followed_by: frozenset = frozenset()  # users: the viewer's visible followees who follow them

    @property
    def key(self) -> tuple[str, str]:
        return self.result["vertical"], self.result["id"]

    def user_key(self) -> tuple:
        return user_key(self.group == EXACT_USERNAME, self.followed, self.weight, self.popularity, self.typo,
                        int(self.result["id"]))


def precedes(a: Candidate, b: Candidate) -> bool:
    """Whether the contract puts `a` before `b` (two results of one vertical)."""
    if a.result["vertical"] == "user":
        return a.user_key() < b.user_key()
    return a.popularity == b.popularity and not a.typo and b.typo


def model_candidates(p: Platform, typed: str, viewer: int | None, verticals, typos: bool = True) -> list[Candidate]:
    """Every result SPEC §1, §3, §5 and §6 let the typed text find for the viewer, in no order."""
    qm = QueryModel(p, viewer)
    users = qm.visible("user")
    followees = {f for f in p.following(viewer) if f in users} if viewer is not None else set()
    following_counts = _LazyCounts(p)
    typed = typed.strip()
    found = []
    if "user" in verticals and not typed.startswith("#"):
        username_only = typed.startswith("@")
        text = typed[1:].strip() if username_only else typed
        wanted = tokens(text)
        for u in users:
            doc = p.document("user", u)
            own = tokens(doc["username"]) + ([] if username_only else tokens(doc["full_name"]))
            exact = normalize(doc["username"]) == normalize(text)
            how = match(wanted, own, typos and not username_only)
            if how is None and not (username_only and exact):
                continue
            via = frozenset(f for f in followees if (f, u) in p.follows)
            group = (EXACT_USERNAME if exact else FOLLOWEE if u in followees else SECOND_HOP if via
                     else EVERYONE_ELSE)
            result = {"vertical": "user", "id": str(u), "title": doc["username"], "subtitle": doc["full_name"],
                      "verified": doc["is_verified"]}
            if how == "typo":
                result["typo"] = True
            found.append(Candidate(result, how == "typo", group, mutual_weight(following_counts, via),
                                   doc["followers_count"], u in followees, via))
    if "hashtag" in verticals and not typed.startswith("@"):
        prefix = hashtag_name(typed[1:].strip() if typed.startswith("#") else typed)
        if prefix and not any(c.isspace() for c in prefix):
            visible = qm.visible("hashtag")
            for name, count in p.hashtags().items():
                how = match([prefix], [name], typos)
                if name not in visible or how is None:
                    continue
                result = {"vertical": "hashtag", "id": name, "title": f"#{name}",
                          "subtitle": f"{count:,} post" + ("" if count == 1 else "s")}
                if how == "typo":
                    result["typo"] = True
                found.append(Candidate(result, how == "typo", popularity=count))
    if "place" in verticals and not typed.startswith(("@", "#")):
        wanted = tokens(typed)
        for i in p.places:
            doc = p.document("place", i)
            how = match(wanted, tokens(doc["name"]), typos)
            if how is None:
                continue
            where = ", ".join(part for part in (doc["city"], doc["country"]) if part)
            result = {"vertical": "place", "id": str(i), "title": doc["name"], "subtitle": where}
            if how == "typo":
                result["typo"] = True
            found.append(Candidate(result, how == "typo", popularity=doc["media_count"]))
    return found


class _LazyCounts(dict):
    """User -> its document's following_count, read when first asked for."""

    def __init__(self, p: Platform) -> None:
        super().__init__()
        self.p = p

    def __missing__(self, uid: int) -> int:
        count = self[uid] = self.p.document("user", uid)["following_count"]
        return count


def check(p: Platform, got: list[dict], candidates: list[Candidate], viewer: int | None, limit: int,
          context: str) -> None:
    """`got` says what the candidates say, keeps the contract's order, and takes none out of turn."""
    by_key = {c.key: c for c in candidates}
    keys = [(r["vertical"], r["id"]) for r in got]
    assert len(set(keys)) == len(keys), (context, keys)
    assert len(got) == min(limit, len(candidates)), (context, keys, sorted(by_key))
    scores = [r["score"] for r in got]
    assert all(isinstance(s, (int, float)) for s in scores) and scores == sorted(scores, reverse=True), (context, got)
    position = {key: n for n, key in enumerate(keys)}
    for r in got:
        c = by_key.get((r["vertical"], r["id"]))
        assert c is not None, (context, f"{r} matches nothing the viewer may see")
        assert {k: v for k, v in r.items() if k not in ("score", "social")} == c.result, (context, r)
        if r["vertical"] == "user" and viewer is not None:
            social = r["social"]
            named = [int(f["id"]) for f in social["followed_by"]]
            assert social["following"] == c.followed, (context, r)
            assert social["followed_by_count"] == len(c.followed_by), (context, r)
            assert len(set(named)) == len(named) and set(named) <= c.followed_by, (context, r)
            assert bool(named) == bool(c.followed_by), (context, r)
            for f in social["followed_by"]:
                doc = p.document("user", int(f["id"]))
                assert f == {"id": str(doc["id"]), "username": doc["username"], "full_name": doc["full_name"]}
        else:
            assert "social" not in r, (context, r)
        for a in candidates:
            if a.result["vertical"] == r["vertical"] and precedes(a, c):
                assert position.get(a.key, len(got)) < position[c.key], (context, f"{a.result} must come before {r}")


def searched(typed: str, verticals) -> list[str]:
    """The verticals the typed text searches, in VERTICALS order (docs/http-api.md)."""
    typed = typed.strip()
    only = "hashtag" if typed.startswith("#") else "user" if typed.startswith("@") else None
    return [v for v in VERTICALS if v in verticals and only in (None, v)]


def check_blend(p: Platform, typeahead: Typeahead, got: list[dict], typed: str, viewer: int | None, limit: int,
                verticals, typos: bool, context: str) -> None:
    """`got` blends the searched verticals' own answers (each checked against the model) by the rule above."""
    ident = lambda r: (r["vertical"], r["id"], r["score"])
    own = {}
    for v in searched(typed, verticals):
        own[v] = typeahead.search(typed, viewer, limit, (v,), timeout_ms=60_000, typos="auto" if typos else "0")["results"]
        check(p, own[v], model_candidates(p, typed, viewer, (v,), typos), viewer, limit, f"{context} alone {v}")
    if len(own) < 2:
        assert list(map(ident, got)) == [ident(r) for answer in own.values() for r in answer], context
        return
    each = max(1, limit // (2 * len(own)))
    mine = {v: [ident(r) for r in got if r["vertical"] == v] for v in own}
    good = {v: sum(not r.get("typo") for r in answer) for v, answer in own.items()}
    for v, answer in own.items():
        assert mine[v] == list(map(ident, answer[:len(mine[v])])), (context, v, mine[v])
        if limit >= each * len(own):
            assert len(mine[v]) >= min(each, good[v]), (context, v, mine[v], each, good[v])
        elif good[v] and not mine[v]:
            ahead = [w for w in own if w != v and good[w] and own[w][0]["score"] >= own[v][0]["score"]]
            assert len(ahead) >= limit, (context, v, ahead)
    left_out = [answer[len(mine[v])] for v, answer in own.items() if len(answer) > len(mine[v])]
    for r in got:
        if any(x["score"] > r["score"] for x in left_out):
            assert len(mine[r["vertical"]]) <= min(each, good[r["vertical"]]), (context, r, left_out)


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
            candidates = model_candidates(platform, typed, viewer, verticals, typos)
            assert got["q"] == typed
            context = f"{typed!r} viewer={viewer} limit={limit} {verticals} {typos=}"
            check(platform, got["results"], candidates, viewer, limit, context)
            check_blend(platform, typeahead, got["results"], typed, viewer, limit, verticals, typos, context)


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
                check(platform, got["results"], model_candidates(platform, typed, viewer, verticals, typos), viewer,
                      limit, f"phase {phase}: {typed!r} viewer={viewer} limit={limit} {verticals} {typos=}")


SOCIAL_USERS = range(1, 11)
SOCIAL_NAMES = ["jo", "joe", "jon.doe", "johanna", "jonathanathan", "jo_jo", "joan", "jon", "bob", "jnoathan",
                "bea", "beech.boy"]  # users, hashtags and places meet in the blend for "b", "be", "bea", "beech"
NEAR_HASHTAGS = ["beach", "beech", "bench", "beaches", "peach"]  # one edit apart: exact and typo matches meet
NEAR_PLACES = ["Beach Bar", "Beech Inn", "Bench Park", "Peach Pit"]
SOCIAL_TYPED = ["j", "jo", "jon", "joh", "@jo", "@jon", "jonh", "joan", "jonathnaathan", "jo d", "bob",
                "beach", "#beach", "#beech", "bea", "b", "be", "beech"]


@st.composite
def social_graphs(draw) -> list[dict]:
    """Ten users, most matching "jo", following each other densely, a few blocks; media with
    hashtags and places one edit apart."""
    history = [{"op": "user.upsert", "ts": 0, "user": {
        "id": uid, "username": draw(st.sampled_from(SOCIAL_NAMES)),
        "full_name": " ".join(draw(st.lists(st.sampled_from(SOCIAL_NAMES), max_size=2))),
        "is_private": draw(st.booleans()), "is_verified": False}} for uid in SOCIAL_USERS]
    history += [{"op": "place.upsert", "ts": 0, "place": {"id": 200 + n, "name": name, "city": "", "country": "",
                                                          "lat": 0.0, "lng": 0.0}}
                for n, name in enumerate(NEAR_PLACES)]
    pairs = st.tuples(st.sampled_from(SOCIAL_USERS), st.sampled_from(SOCIAL_USERS))
    history += [{"op": "follow.add", "ts": 0, "follower": a, "followee": b}
                for a, b in draw(st.lists(pairs, min_size=10, max_size=60))]
    history += [{"op": "block.add", "ts": 0, "blocker": a, "blocked": b}
                for a, b in draw(st.lists(pairs, max_size=3))]
    media = st.tuples(st.sampled_from(SOCIAL_USERS), st.lists(st.sampled_from(NEAR_HASHTAGS), min_size=1, max_size=2),
                      st.none() | st.integers(200, 200 + len(NEAR_PLACES) - 1))
    history += [{"op": "media.upsert", "ts": 0, "media": {"id": 100 + n, "owner": owner, "caption": "",
                                                          "hashtags": tags, "place": place, "taken_at": 0}}
                for n, (owner, tags, place) in enumerate(draw(st.lists(media, max_size=12)))]
    return [validate(e) for e in history]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=social_graphs(), limit=st.integers(1, 10))
def test_social_order_over_dense_graphs(history, limit):
    with indexed(history) as (index, platform):
        typeahead = Typeahead(index)
        for viewer in [None, *SOCIAL_USERS]:
            for typed in SOCIAL_TYPED:
                got = typeahead.search(typed, viewer, limit, VERTICALS, timeout_ms=60_000)
                context = f"{typed!r} viewer={viewer} limit={limit}"
                check(platform, got["results"], model_candidates(platform, typed, viewer, VERTICALS), viewer, limit,
                      context)
                check_blend(platform, typeahead, got["results"], typed, viewer, limit, VERTICALS, True, context)


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
            check(settled, got["results"], model_candidates(settled, typed, viewer, VERTICALS, typos), viewer, limit,
                  f"{typed!r} viewer={viewer} limit={limit} {typos=}")
