"""The Searcher seam (unicorn/searcher.py): results carry sort keys that order them exactly, so the
answers of several parts of a platform, merged, equal one index's answer, ties included.

Each part holds the documents whose id falls in it (as a shard would); its answer to a request is
its own documents' best `limit`, in the engine's order, with their keys. A blended typeahead is the
blend of each searched vertical's merged answer (unicorn.typeahead.blend_answers). Random platforms have
many ties (equal follower, like and media counts, equal social scores), which the keys must break
exactly as the engine does.
"""

from __future__ import annotations

import zlib

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firehose.events import validate
from tests.indexed import indexed
from tests.strategies import USER_IDS, events
from tests.test_query_model import VERTICALS, query
from tests.test_typeahead_model import TYPED
from unicorn.engine import Engine
from unicorn.searcher import SearchResult, TypeaheadResult, merge_search, merge_typeahead
from unicorn.typeahead import VERTICALS as TYPEAHEAD_VERTICALS
from unicorn.typeahead import blend_answers, searched

PARTS = 3


def part_of(result: dict) -> int:
    return zlib.crc32(f"{result.get('vertical')}/{result['id']}".encode()) % PARTS


def split_search(whole: SearchResult, limit: int) -> list[SearchResult]:
    parts = []
    for n in range(PARTS):
        mine = [(k, r) for k, r in zip(whole.keys, whole.results) if part_of(r) == n]
        parts.append(SearchResult(whole.vertical, len(mine), whole.truncated, [r for _, r in mine[:limit]],
                                  whole.took_ms, [k for k, _ in mine[:limit]]))
    return parts


def split_typeahead(whole: TypeaheadResult, limit: int) -> list[TypeaheadResult]:
    parts = []
    for n in range(PARTS):
        mine = [(k, r) for k, r in zip(whole.keys, whole.results) if part_of(r) == n]
        parts.append(TypeaheadResult(whole.q, [r for _, r in mine[:limit]], whole.took_ms, [k for k, _ in mine[:limit]]))
    return parts


def assert_keys_order(keys: list) -> None:
    assert keys == sorted(keys) and len(set(keys)) == len(keys), keys


def without_top_k(q: dict) -> bool:
    text = orjson.dumps(q)
    return b'"weak_and"' not in text and b'"strong_or"' not in text


searches = st.lists(
    st.tuples(st.sampled_from(VERTICALS).flatmap(lambda v: st.tuples(st.just(v), query(v).filter(without_top_k))),
              st.none() | USER_IDS, st.integers(1, 6), st.sampled_from(["static", "social"])),
    min_size=15, max_size=15)
typeaheads = st.lists(st.tuples(st.sampled_from(TYPED), st.none() | USER_IDS, st.integers(1, 6),
                                st.sampled_from(["auto", "0"])), min_size=15, max_size=15)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=events(70), searches=searches, typeaheads=typeaheads)
def test_merged_parts_equal_one_index(history, searches, typeaheads):
    with indexed(history) as (index, _):
        engine = Engine(index)
        for (vertical, q), viewer, limit, order in searches:
            whole = engine.search(vertical, q, viewer, limit=1000, order=order, timeout_ms=60_000)
            assert_keys_order(whole.keys)
            expected = engine.search(vertical, q, viewer, limit=limit, order=order, timeout_ms=60_000)
            merged = merge_search(split_search(whole, limit), limit)
            assert (merged.results, merged.keys, merged.total) == (expected.results, expected.keys, expected.total)
        for typed, viewer, limit, typos in typeaheads:
            own = []  # each searched vertical's answer, merged from the parts; blended, the whole answer
            for vertical in searched(typed, TYPEAHEAD_VERTICALS):
                whole = engine.typeahead(typed, viewer, limit=50, verticals=(vertical,), timeout_ms=60_000, typos=typos)
                assert_keys_order(whole.keys)
                expected = engine.typeahead(typed, viewer, limit=limit, verticals=(vertical,), timeout_ms=60_000,
                                            typos=typos)
                own.append(merge_typeahead(split_typeahead(whole, limit), limit))
                assert (own[-1].results, own[-1].keys) == (expected.results, expected.keys), (typed, viewer, limit)
            expected = engine.typeahead(typed, viewer, limit=limit, timeout_ms=60_000, typos=typos)
            blended = blend_answers(typed, own, limit)
            assert (blended.results, blended.keys) == (expected.results, expected.keys), (typed, viewer, limit)


def user(uid: int, name: str) -> dict:
    return validate({"op": "user.upsert", "ts": 0, "user": {"id": uid, "username": name, "full_name": "",
                                                             "is_private": False, "is_verified": False}})


def test_ties_break_by_id_or_name_across_parts():
    """Every user has one follower, every media one like at the same time, every hashtag one media: the
    order is by id (users, places ascending; media descending) or name, split across all parts."""
    history = [user(i, f"jo{i}") for i in range(1, 10)]
    history += [validate({"op": "follow.add", "ts": 0, "follower": i % 9 + 1, "followee": i}) for i in range(1, 10)]
    history += [validate({"op": "media.upsert", "ts": 0, "media": {"id": 100 + i, "owner": i, "caption": f"#t{10 - i}",
                                                                   "taken_at": 5}}) for i in range(1, 10)]
    history += [validate({"op": "like.add", "ts": 0, "user": i, "media": 100 + i}) for i in range(1, 10)]
    with indexed(history) as (index, _):
        engine = Engine(index)
        for vertical, q, ids in [("user", "(term name:jo)", [str(i) for i in range(1, 10)]),
                                 ("media", "(apply owner: (term name:jo))", [str(i) for i in range(109, 100, -1)]),
                                 ("hashtag", "(term name:t)", [f"t{i}" for i in range(1, 10)])]:
            whole = engine.search(vertical, q, limit=1000)
            assert [r["id"] for r in whole.results] == ids
            assert {part_of(r) for r in whole.results} == set(range(PARTS))
            for limit in (1, 4, 9):
                merged = merge_search(split_search(whole, limit), limit)
                assert [r["id"] for r in merged.results] == ids[:limit] and merged.total == 9
        whole = engine.typeahead("jo", 1, limit=50)
        merged = merge_typeahead(split_typeahead(whole, 5), 5)
        assert merged.results == engine.typeahead("jo", 1, limit=5).results


def test_partial_is_said_only_when_true():
    one = SearchResult("user", 0, False)
    assert "partial" not in one.to_dict()
    assert merge_search([one, SearchResult("user", 0, False, partial=True)], 5).to_dict()["partial"] is True
    assert "partial" not in TypeaheadResult("q").to_dict()
