"""The engine against the plain-Python model (tests/model/queries.py): random platforms from random
event sequences, indexed with Slipstream; random query trees, viewers, limits and fan-outs.
Results, their order, `total`, `truncated` and documents must match the model exactly.
"""

from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.indexed import indexed
from tests.model.queries import QueryModel
from tests.strategies import PLACE_IDS, USER_IDS, events
from unicorn.engine import Engine

VALUES = {
    ("user", "name"): ["jo", "J", "jon", "zoe", "angstrom", "jonathanathan", "jonathanat", "joh li", "东", "o'neil",
                       "bob smi", "!!"],
    ("user", "username"): ["jo", "Joe", "jon.doe", "Zoë", "bob_smith", "o'neil", "JOHANNA"],
    ("user", "is"): ["verified", "private"],
    ("media", "hashtag"): ["sunset", "#Beach", "cafe_paris", "Café_Paris", "jonathanathan"],
    ("media", "word"): ["sunset", "Beach", "café", "🌅", "jo", "paris"],
    ("hashtag", "name"): ["s", "sun", "cafe_", "cafe_pari", "#be", "jonathanat", "b"],
    ("place", "name"): ["cafe", "tokyo", "jo", "de fl", "tower", "flore"],
    ("place", "city"): ["paris", "tokyo", "sao", "São Paulo"],
}
ID_PREFIXES = {("user", "following"): USER_IDS, ("user", "follower"): USER_IDS, ("media", "owner"): USER_IDS,
               ("media", "mention"): USER_IDS, ("media", "liker"): USER_IDS, ("media", "place"): PLACE_IDS}
APPLY = {"user": ["following", "follower"], "media": ["owner", "mention", "liker", "place", "hashtag"]}
APPLY_INNER = {"following": "user", "follower": "user", "owner": "user", "mention": "user", "liker": "user",
               "place": "place", "hashtag": "hashtag"}
EXTRACT = {"user": ["owner", "mention"], "place": ["place"], "hashtag": ["hashtag"]}
VERTICALS = ["user", "media", "hashtag", "place"]


@functools.cache
def term(vertical: str) -> st.SearchStrategy[dict]:
    choices = [st.sampled_from(vs).map(lambda v, p=p: f"{p}:{v}") for (vv, p), vs in VALUES.items() if vv == vertical]
    choices += [ids.map(lambda i, p=p: f"{p}:{i}") for (vv, p), ids in ID_PREFIXES.items() if vv == vertical]
    return st.one_of(choices).map(lambda t: {"term": t})


modifier = st.one_of(st.builds(lambda n: {"optional_hits": n}, st.integers(0, 3)),
                     st.builds(lambda w: {"optional_weight": w}, st.sampled_from([0.0, 0.25, 0.5, 1.0])))


@functools.cache
def query(vertical: str, depth: int = 3) -> st.SearchStrategy[dict]:
    """Query trees of `vertical`, up to `depth` levels. Strategies are built once per shape and reused:
    building them again for every draw cost more than the engine and the model together."""
    return _query(vertical, depth)


@st.composite
def _query(draw, vertical: str, depth: int):
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(term(vertical))
    kinds = ["and", "or", "difference", "weak_and", "strong_or"] + (["apply"] if vertical in APPLY else [])
    kinds += ["extract"] if vertical in EXTRACT else []
    kind = draw(st.sampled_from(kinds))
    if kind == "apply":
        prefix = draw(st.sampled_from(APPLY[vertical]))
        return {"apply": f"{prefix}:", "query": draw(query(APPLY_INNER[prefix], depth - 1))}
    if kind == "extract":
        return {"extract": draw(st.sampled_from(EXTRACT[vertical])) + ":", "query": draw(query("media", depth - 1))}
    return draw(_operator(vertical, depth, kind))


@functools.cache
def _operator(vertical: str, depth: int, kind: str) -> st.SearchStrategy[dict]:
    sub = query(vertical, depth - 1)
    if kind in ("and", "or"):
        return st.lists(sub, min_size=1, max_size=3).map(lambda operands: {kind: operands})
    if kind == "difference":
        return st.tuples(sub, sub).map(lambda operands: {kind: list(operands)})
    if kind == "weak_and":
        optional = st.lists(st.tuples(sub, modifier).map(lambda t: {**t[0], **t[1]}), max_size=2)
        return st.tuples(optional, sub, st.lists(sub, max_size=1)).map(
            lambda t: {kind: [t[1], *t[0], *t[2]]})
    weighted = st.tuples(sub, st.sampled_from([0.0, 0.3, 0.5, 1.0])).map(lambda t: {**t[0], "optional_weight": t[1]})
    return st.lists(st.one_of(sub, weighted), min_size=1, max_size=3).map(lambda operands: {kind: operands})


def sexpr(q: dict) -> str:
    """The s-expression text of a JSON-form query (values always quoted, exercising escapes)."""
    mods = "".join(f" :{k.replace('_', '-')} {q[k]}" for k in ("optional_hits", "optional_weight") if k in q)
    if "term" in q:
        prefix, _, value = q["term"].partition(":")
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'(term {prefix}:"{escaped}"{mods})'
    if "apply" in q or "extract" in q:
        op = "apply" if "apply" in q else "extract"
        return f"({op} {q[op]} {sexpr(q['query'])}{mods})"
    op = next(k for k in q if k not in ("optional_hits", "optional_weight"))
    return f"({op.replace('_', '-')} {' '.join(sexpr(o) for o in q[op])}{mods})"


def external(vertical: str, doc: dict) -> dict:
    out = {**doc, "id": str(doc["id"])}
    if vertical == "media":
        out.update(owner=str(doc["owner"]), mentions=[str(m) for m in doc["mentions"]],
                   place=None if doc["place"] is None else str(doc["place"]))
    return out


EXTRACT_FIELD = {"owner": "owner", "mention": "mentions", "place": "place", "hashtag": "hashtags"}


def split_reasons(text: str) -> list[str]:
    """`a, b <- [c, d], e` -> the top-level reasons `a`, `b <- [c, d]`, `e`."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [part for part in parts if part]


def assert_why_holds(model: QueryModel, vertical: str, ident, reasons: list[str], context: str) -> None:
    """Each reason is true of the result, its path whole (SPEC §6 `explain`): a term it matches; an apply
    path `apply P: P:x <- [...]` whose term it matches, x visible in the inner vertical and each inner
    reason true of x; an extract path `extract F: media m <- [...]` from a visible media m pointing to
    it, each inner reason true of m."""
    assert reasons, context
    for reason in reasons:
        head, arrow, tail = reason.partition(" <- ")
        if arrow:
            assert tail.startswith("[") and tail.endswith("]"), (context, reason)
            inner_reasons = split_reasons(tail[1:-1])
        if head.startswith("apply "):
            prefix, term = head[len("apply "):].split(": ", 1)
            assert ident in model.term(vertical, term), (context, reason)
            inner_vertical = APPLY_INNER[prefix]
            value = term.partition(":")[2]
            inner = value if inner_vertical == "hashtag" else int(value)
            assert arrow and inner in model.visible(inner_vertical), (context, reason)
            assert_why_holds(model, inner_vertical, inner, inner_reasons, context)
        elif head.startswith("extract "):
            field, _, media = head[len("extract "):].partition(" media ")
            doc = model.p.document("media", int(media))
            assert int(media) in model.visible("media"), (context, reason)
            pointed = doc[EXTRACT_FIELD[field.rstrip(":")]]
            assert ident in (pointed if isinstance(pointed, list) else [pointed]), (context, reason)
            assert arrow, (context, reason)
            assert_why_holds(model, "media", int(media), inner_reasons, context)
        else:
            assert not arrow and ident in model.term(vertical, head), (context, reason)


searches = st.lists(
    st.tuples(st.one_of([st.tuples(st.just(v), query(v)) for v in VERTICALS]),
              st.none() | USER_IDS | st.just(999),
              st.integers(1, 5) | st.sampled_from([20, 1000]),
              st.sampled_from([1, 2, 100_000]),
              st.booleans()),
    min_size=25, max_size=25)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=events(70), searches=searches)
def test_engine_matches_model(history, searches):
    with indexed(history) as (index, platform):
        engine = Engine(index)
        for (vertical, q), viewer, limit, fanout, as_text in searches:
            got = engine.search(vertical, sexpr(q) if as_text else q, viewer, limit=limit, explain=True,
                                timeout_ms=60_000, apply_fanout_max=fanout)
            model = QueryModel(platform, viewer, limit, fanout)
            ids, total, truncated = model.search(vertical, q)
            context = f"{vertical} {sexpr(q)} viewer={viewer} limit={limit} fanout={fanout}"
            assert [r["id"] for r in got.results] == [str(i) for i in ids], context
            assert got.total == total, context
            assert [r["doc"] for r in got.results] == [external(vertical, platform.document(vertical, i))
                                                      for i in ids], context
            for r, ident in zip(got.results, ids):
                assert_why_holds(model, vertical, ident, r["why"], context)
            # `truncated` says an apply that ran was cut: never when the model cut nothing, and
            # when only a skipped apply would have been cut, the complete answer is the same.
            if truncated and not got.truncated:
                assert QueryModel(platform, viewer, limit).search(vertical, q)[0] == ids, context
            assert truncated or not got.truncated, context


@pytest.mark.parametrize("viewer", [None, 1, 2])
def test_document_privacy(viewer):
    history = [
        {"op": "user.upsert", "ts": 0, "user": {"id": 1, "username": "ann", "full_name": "", "is_private": True,
                                                 "is_verified": False}},
        {"op": "user.upsert", "ts": 0, "user": {"id": 2, "username": "bob", "full_name": "", "is_private": False,
                                                 "is_verified": False}},
        {"op": "user.upsert", "ts": 0, "user": {"id": 3, "username": "cy", "full_name": "", "is_private": False,
                                                 "is_verified": False}},
        {"op": "media.upsert", "ts": 0, "media": {"id": 100, "owner": 1, "caption": "x", "taken_at": 1}},
        {"op": "media.upsert", "ts": 0, "media": {"id": 101, "owner": 3, "caption": "y", "taken_at": 1}},
        {"op": "block.add", "ts": 0, "blocker": 3, "blocked": 2},
    ]
    from firehose.events import validate

    with indexed([validate(e) for e in history]) as (index, platform):
        engine = Engine(index)
        model = QueryModel(platform, viewer)
        for vertical, ident in [("user", 1), ("user", 3), ("media", 100), ("media", 101), ("user", 77)]:
            expected = external(vertical, platform.document(vertical, ident)) if ident in model.visible(vertical) else None
            assert engine.document(vertical, str(ident), viewer) == expected
