"""A viewer who follows more than 1,000 accounts: searches that join through the followees and the
typeahead's social context still give the model's exact answer (no cap at 1,000 anywhere)."""

from __future__ import annotations

import pytest

from firehose.events import validate
from tests.indexed import indexed
from tests.model.queries import QueryModel
from unicorn.engine import Engine
from unicorn.typeahead import Typeahead

VIEWER = 1
FOLLOWEES = range(2, 1_302)  # 1,300 accounts
TARGET = 5_000


def user(uid: int, name: str, private: bool = False) -> dict:
    return {"op": "user.upsert", "ts": uid, "user": {"id": uid, "username": name, "full_name": "",
                                                     "is_private": private, "is_verified": False}}


def history() -> list[dict]:
    events = [user(VIEWER, "viewer"), user(TARGET, "jo.target")]
    for f in FOLLOWEES:
        events.append(user(f, f"jo{f}", private=f % 7 == 0))
        events.append({"op": "follow.add", "ts": 10_000 + f, "follower": VIEWER, "followee": f})
        if f % 3:
            events.append({"op": "follow.add", "ts": 20_000 + f, "follower": f, "followee": TARGET})
        if f % 5 == 0:
            events.append({"op": "block.add", "ts": 30_000 + f, "blocker": f, "blocked": VIEWER})
    return [validate(e) for e in events]


def test_joins_through_more_than_a_thousand_followees():
    with indexed(history()) as (index, platform):
        engine = Engine(index)
        for vertical, query in [("user", {"term": f"following:{VIEWER}"}),
                                ("user", {"apply": "follower:", "query": {"term": f"following:{VIEWER}"}}),
                                ("user", {"and": [{"term": "name:jo"}, {"term": f"following:{VIEWER}"}]})]:
            got = engine.search(vertical, query, VIEWER, limit=1000, timeout_ms=60_000)
            ids, total, _ = QueryModel(platform, VIEWER, 1000).search(vertical, query)
            assert [r["id"] for r in got.results] == [str(i) for i in ids]
            assert got.total == total
        assert len(QueryModel(platform, VIEWER).term("user", f"following:{VIEWER}")) > 1000


def test_typeahead_counts_every_visible_followee_who_follows_a_result():
    with indexed(history()) as (index, platform):
        results = Typeahead(index).search("jo.target", viewer=VIEWER, limit=1, timeout_ms=60_000)["results"]
        visible = QueryModel(platform, VIEWER).visible("user")
        via = {f for f in FOLLOWEES if f in visible and (f, TARGET) in platform.follows}
        assert len(via) > 600
        assert results[0]["id"] == str(TARGET)
        assert results[0]["social"]["followed_by_count"] == len(via)
        assert {int(f["id"]) for f in results[0]["social"]["followed_by"]} <= via


HEAVY = f"(apply follower: (apply following: (or (term following:{VIEWER}) (term follower:{TARGET}))))"


def test_a_real_query_overrunning_its_budget_is_a_timeout_and_answers_within_a_large_one():
    """Two nested applies over 1,000+ ids read thousands of postings: far more than 1 ms of work."""
    from starlette.testclient import TestClient

    from api import create_app
    from unicorn.errors import QueryError

    with indexed(history()) as (index, _):
        engine = Engine(index)
        assert engine.search("user", HEAVY, VIEWER, timeout_ms=60_000).total > 0
        with pytest.raises(QueryError) as info:
            engine.search("user", HEAVY, VIEWER, timeout_ms=1)
        assert info.value.code == "timeout"
        with TestClient(create_app(index=index, keys={"k": "admin"}, timeout_ms=1)) as client:
            got = client.post("/v1/search", json={"vertical": "user", "query": HEAVY, "viewer": VIEWER},
                              headers={"Authorization": "Bearer k"})
            assert got.status_code == 504 and got.json()["error"]["code"] == "timeout"
