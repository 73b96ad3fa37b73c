"""Engine API behaviour beyond query semantics: response shape, request validation, limits, orders."""

from __future__ import annotations

import pytest
from pyroaring import BitMap

from firehose.events import validate
from indexer.store import Index
from slipstream import Slipstream
from unicorn.engine import Engine
from unicorn.errors import QueryError


def user(uid, name, private=False):
    return {"op": "user.upsert", "ts": 0, "user": {"id": uid, "username": name, "full_name": name.title(),
                                                    "is_private": private, "is_verified": False}}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    index = Index(tmp_path_factory.mktemp("index"))
    history = [user(i, f"jo{i}") for i in range(1, 8)]
    history += [{"op": "follow.add", "ts": 0, "follower": a, "followee": b} for a in range(1, 8) for b in range(1, a)]
    history += [{"op": "media.upsert", "ts": 0, "media": {"id": 100 + i, "owner": i, "caption": "#sun",
                                                          "taken_at": i}} for i in range(1, 8)]
    with index.writer() as batch:
        slip = Slipstream(batch)
        for event in history:
            slip.apply(validate(event))
    yield Engine(index)
    index.close()


def test_response_shape_and_string_ids(engine):
    result = engine.search("media", "(term hashtag:sun)", viewer="3", limit=2, explain=True).to_dict()
    assert set(result) == {"vertical", "total", "truncated", "results", "took_ms"}
    assert result["vertical"] == "media" and result["total"] == 7 and result["truncated"] is False
    first = result["results"][0]
    assert first["id"] == "107" and first["doc"]["id"] == "107" and first["doc"]["owner"] == "7"
    assert first["why"] == ["hashtag:sun"]
    assert "why" not in engine.search("media", "(term hashtag:sun)", limit=1).results[0]


def test_apply_fanout_truncates_to_the_best_inner_ids(engine):
    # user a follows every b < a: user 1 has the most followers (the best inner id) and follows no one
    full = engine.search("user", "(apply following: (term name:jo))", apply_fanout_max=100)
    assert not full.truncated and full.total == 6
    cut = engine.search("user", "(apply following: (term name:jo))", apply_fanout_max=1)
    assert cut.truncated and cut.total == 0
    cut = engine.search("user", "(apply follower: (term name:jo))", apply_fanout_max=2)
    assert cut.truncated and [r["id"] for r in cut.results] == [str(i) for i in range(2, 8)]


@pytest.mark.parametrize("kwargs, code", [
    ({"limit": 0}, "bad_request"), ({"limit": 1001}, "bad_request"), ({"viewer": "abc"}, "bad_request"),
    ({"viewer": -1}, "bad_request"), ({"order": "fancy"}, "bad_request"), ({"apply_fanout_max": 0}, "bad_request"),
    ({"vertical": "video"}, "bad_request"), ({"query": "(term name:jo"}, "bad_query"),
    ({"query": "(term " + "x" * 20_000 + ")"}, "too_large"), ({"timeout_ms": 0}, "timeout"),
])
def test_bad_requests_are_refused_with_their_code(engine, kwargs, code):
    args = {"vertical": "user", "query": "(apply follower: (term name:jo))", **kwargs}
    with pytest.raises(QueryError) as info:
        engine.search(**args)
    assert info.value.code == code


def test_rankers_plug_in_by_order_name(engine):
    def lowest_id_first(view, vertical, ids: BitMap, limit, viewer):
        return [(iid, 0.0, (view.ext(vertical, iid),)) for iid in sorted(ids, key=lambda i: view.ext(vertical, i))[:limit]]

    social = Engine(engine.index, rankers={"social": lowest_id_first})
    got = social.search("user", "(term name:jo)", viewer=1, order="social", limit=3)
    assert [r["id"] for r in got.results] == ["1", "2", "3"]
    assert [r["id"] for r in social.search("user", "(term name:jo)", limit=3).results] == ["1", "2", "3"]
    assert [r["id"] for r in social.search("user", "(apply following: (term username:jo7))", limit=2).results] == ["1", "2"]


def test_document_ids_accept_int_or_decimal_string(engine):
    assert engine.document("user", 3)["id"] == "3"
    assert engine.document("user", "3") == engine.document("user", 3)
    assert engine.document("hashtag", "sun") == {"id": "sun", "name": "sun", "media_count": 7}
    assert engine.document("user", 99) is None
    with pytest.raises(QueryError):
        engine.document("user", "x")
