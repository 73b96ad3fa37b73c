"""Each evaluation strategy the engine may choose, forced in turn, against the plain-Python model.

`and` asks an `apply` only about the documents found so far (`apply.restrict`): by the union of
the inner ids' postings, or from the candidates' side (reverse edge postings, media link
columns). The costs decide which; here they are set so that one side is always taken.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.store import LinkColumns
from tests.indexed import indexed
from tests.model.queries import QueryModel
from tests.strategies import USER_IDS, events
from tests.test_query_model import APPLY, APPLY_INNER, assert_why_holds, query
from unicorn.engine import Engine
from unicorn.query.operators import apply


@st.composite
def and_apply(draw):
    """(and Q (apply P: Q')) in either vertical that applies, with any prefix."""
    vertical = draw(st.sampled_from(sorted(APPLY)))
    prefix = draw(st.sampled_from(APPLY[vertical]))
    applied = {"apply": f"{prefix}:", "query": draw(query(APPLY_INNER[prefix], 2))}
    return vertical, {"and": [draw(query(vertical, 2)), applied]}


searches = st.lists(st.tuples(and_apply(), st.none() | USER_IDS, st.sampled_from([1, 2, 100_000])),
                    min_size=20, max_size=20)


@pytest.fixture(params=["union", "candidates"])
def strategy(request, monkeypatch):
    cost = 0.0 if request.param == "candidates" else float("inf")
    monkeypatch.setattr(apply, "POSTING_COST", cost)
    monkeypatch.setattr(apply, "LINK_COST", cost)
    monkeypatch.setattr(LinkColumns, "WIDTH", {"hashtag": 1, "mention": 1})  # some links overflow
    monkeypatch.setattr(LinkColumns, "ROW_MAX", 2)
    return request.param


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=events(70), searches=searches)
def test_and_apply_matches_model_by_either_strategy(strategy, history, searches):
    with indexed(history) as (index, platform):
        engine = Engine(index)
        for (vertical, q), viewer, fanout in searches:
            for explain in (False, True):
                got = engine.search(vertical, q, viewer, limit=5, explain=explain, timeout_ms=60_000,
                                    apply_fanout_max=fanout)
                model = QueryModel(platform, viewer, 5, fanout)
                ids, total, truncated = model.search(vertical, q)
                context = f"{vertical} {q} viewer={viewer} fanout={fanout} ({strategy})"
                assert [r["id"] for r in got.results] == [str(i) for i in ids], context
                assert got.total == total, context
                for r, ident in zip(got.results, ids) if explain else ():
                    assert_why_holds(model, vertical, ident, r["why"], context)
                assert truncated or not got.truncated, context
