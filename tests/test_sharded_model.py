"""Index shards behind an in-process aggregator (unicorn.aggregator) answer exactly as one index built from
the same events: every operator, both orders, totals and truncation (tests/test_query_model.py's queries),
typeahead with its `social` context (tests/test_typeahead_model.py's requests), documents and hashtag
privacy (tests/test_hashtag_privacy.py's property), over 3 shards of 5 partitions (tests/sharded.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.store import Index
from tests.model.queries import QueryModel
from tests.sharded import aggregator, sharded, write_sharded
from tests.strategies import USER_IDS, events
from tests.test_query_model import VERTICALS, query, sexpr
from tests.test_typeahead_model import check, model_candidates, requests, social_graphs
from trending.snapshot import SNAPSHOT, encode
from unicorn.aggregator import Aggregator
from unicorn.engine import Engine
from unicorn.errors import QueryError
from unicorn.shard import LocalShard

searches = st.lists(
    st.tuples(st.one_of([st.tuples(st.just(v), query(v)) for v in VERTICALS]),
              st.none() | USER_IDS | st.just(999),
              st.integers(1, 5) | st.sampled_from([20, 1000]),
              st.sampled_from([1, 2, 100_000]),
              st.sampled_from(["static", "social"]),
              st.booleans()),
    min_size=20, max_size=20)


def answer(found) -> tuple:
    return [r["id"] for r in found.results], found.results, found.keys, found.total


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=events(70), searches=searches)
def test_search_through_shards_equals_one_index(history, searches):
    with sharded(history) as (whole, shards, platform):
        one, through = Engine(whole), aggregator(shards)
        try:
            for (vertical, q), viewer, limit, fanout, order, as_text in searches:
                text = sexpr(q) if as_text else q
                context = f"{vertical} {sexpr(q)} viewer={viewer} limit={limit} fanout={fanout} {order}"
                if order == "social" and viewer is None:
                    continue
                expected = one.search(vertical, text, viewer, limit=limit, order=order, timeout_ms=60_000,
                                      apply_fanout_max=fanout)
                got = through.search(vertical, text, viewer, limit=limit, order=order, timeout_ms=60_000,
                                     apply_fanout_max=fanout)
                assert answer(got) == answer(expected), context
                assert not got.partial, context
                ids, total, truncated = QueryModel(platform, viewer, limit, fanout).search(vertical, q)
                if order == "static":
                    assert [r["id"] for r in got.results] == [str(i) for i in ids], context
                    assert got.total == total, context
                # the aggregator runs every apply (one index may skip one it need not run): truncated
                # exactly when the model cut an apply
                assert got.truncated == truncated, context
        finally:
            through.close()


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=events(80), reqs=requests)
def test_typeahead_through_shards_equals_one_index(history, reqs):
    with sharded(history) as (whole, shards, platform):
        one, through = Engine(whole), aggregator(shards)
        try:
            for typed, viewer, limit, verticals, typos in reqs:
                typos = "auto" if typos else "0"
                expected = one.typeahead(typed, viewer, limit, verticals, timeout_ms=60_000, typos=typos)
                got = through.typeahead(typed, viewer, limit, verticals, timeout_ms=60_000, typos=typos)
                context = f"{typed!r} viewer={viewer} limit={limit} {verticals} {typos}"
                assert got.results == expected.results, context
                assert got.keys == expected.keys, context
                check(platform, got.results, model_candidates(platform, typed, viewer, verticals, typos == "auto"),
                      viewer, limit, context)
        finally:
            through.close()


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=social_graphs(), limit=st.integers(1, 10))
def test_social_context_over_dense_graphs_through_shards(history, limit):
    """Followees, 2-hop counts and the followees named in `social` live on other shards than the result."""
    with sharded(history) as (whole, shards, _):
        one, through = Engine(whole), aggregator(shards)
        try:
            for viewer in range(1, 9):
                for typed in ("", "u", "us"):
                    expected = one.typeahead(typed or "u", viewer, limit, ("user",), timeout_ms=60_000)
                    assert through.typeahead(typed or "u", viewer, limit, ("user",), timeout_ms=60_000).results \
                        == expected.results
                found = one.search("user", "(term name:u)", viewer, limit=limit, order="social", timeout_ms=60_000)
                assert answer(through.search("user", "(term name:u)", viewer, limit=limit, order="social",
                                             timeout_ms=60_000)) == answer(found)
        finally:
            through.close()


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(events(80))
def test_documents_and_visible_hashtags_through_shards(history):
    """Each viewer's hashtags are those of the media visible to them, and every document answers as one
    index's, whichever shards hold the hashtag, its carriers, their owners and the viewer's edges."""
    with sharded(history) as (whole, shards, platform):
        one, through = Engine(whole), aggregator(shards)
        try:
            carried = {tag for doc in platform.media.values() for tag in doc["hashtags"]}
            for viewer in (None, 1, 2, 3, 4, 5, 6, 999):
                seen = QueryModel(platform, viewer).visible("media")
                expected = {tag for m in seen for tag in platform.media[m]["hashtags"]}
                got = through.search("hashtag", "(or (term name:s) (term name:c) (term name:b) (term name:j))",
                                     viewer=viewer, limit=1000, timeout_ms=60_000)
                assert {r["id"] for r in got.results} == expected, viewer
                for tag in carried:
                    assert through.document("hashtag", tag, viewer=viewer) == one.document("hashtag", tag, viewer=viewer)
                for vertical, ids in (("user", platform.users), ("media", platform.media), ("place", platform.places)):
                    for ident in [*ids, 77]:
                        assert through.document(vertical, ident, viewer) == one.document(vertical, ident, viewer), \
                            (vertical, ident, viewer)
        finally:
            through.close()


def test_explain_is_refused_on_shards():
    with sharded([]) as (_, shards, _):
        through = aggregator(shards)
        try:
            with pytest.raises(QueryError) as refused:
                through.search("user", "(term name:jo)", None, explain=True)
            assert refused.value.code == "bad_request"
        finally:
            through.close()


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=events(80), viewer=st.none() | USER_IDS | st.just(999))
def test_trending_through_shards_equals_one_index(history, viewer):
    """Every shard holds the trending snapshot; a viewer sees the hashtags some media visible to them carries,
    wherever those media are."""
    tags = ["beach", "cafe_paris", "jonathanathan", "sunset", "absent"]  # tests.strategies' hashtags
    snapshot = {"hashtag": [{"id": t, "title": f"#{t}", "score": 1.0, "recent": 10, "baseline": 0} for t in tags],
                "place": [{"id": str(p), "title": "p", "score": 1.0, "recent": 10, "baseline": 0} for p in (1, 2)]}
    aux = {(SNAPSHOT, kind.encode()): encode(1000, results) for kind, results in snapshot.items()}
    with tempfile.TemporaryDirectory() as tmp:
        whole = Index(Path(tmp) / "whole")
        shards = [Index(Path(tmp) / f"shard{s}") for s in range(3)]
        try:
            write_sharded(history, whole, shards, 5, aux=aux)
            one, through = Engine(whole), Aggregator([[LocalShard(Engine(s))] for s in shards], 5)
            for kind in ("hashtag", "place"):
                expected = one.trending(kind, 50, viewer)
                assert through.trending(kind, 50, viewer) == expected
                if kind == "hashtag" and viewer is None:
                    assert [r["id"] for r in expected["results"]] == tags
            through.close()
        finally:
            for index in (whole, *shards):
                index.close()
