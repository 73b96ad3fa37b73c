"""SPEC §5 through the HTTP API: over random platforms with private accounts and blocks, no response
to any viewer contains a document, id, count or name that SPEC §5 hides from that viewer.

The oracle is tests/model/queries.py (visibility, edge-term visibility, query answers) over
tests/model/platform.py. Every user a typeahead names (as a result or as a followee in the social
context) must be visible; followees named or counted must be visible followees of the viewer;
every search answer and `total` must equal the model's; a document is served iff visible, and
a hidden one answers exactly as an absent one.
"""

from __future__ import annotations

import asyncio

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import create_app
from tests.model.queries import QueryModel
from firehose.events import validate
from tests.strategies import USER_IDS, events
from tests.indexed import indexed

KEY = "search-key"  # budgets are generous: a loaded machine must not turn answers into 504s
HEADERS = {"Authorization": f"Bearer {KEY}"}
TYPED = ["j", "jo", "@jo", "@j", "zo", "li", "b", "an", "o'neil", "东", "#s", "#c", "caf", "to"]
SEARCHES = [
    ("user", {"term": "name:jo"}),
    ("user", {"apply": "follower:", "query": {"term": "name:j"}}),
    ("user", {"apply": "following:", "query": {"term": "is:private"}}),
    ("user", {"extract": "owner:", "query": {"term": "hashtag:sunset"}}),
    ("media", {"apply": "liker:", "query": {"term": "name:jo"}}),
    ("media", {"or": [{"term": "hashtag:sunset"}, {"term": "word:cafe"}, {"term": "hashtag:beach"}]}),
    ("media", {"apply": "owner:", "query": {"apply": "following:", "query": {"term": "name:j"}}}),
    ("hashtag", {"extract": "hashtag:", "query": {"term": "word:sunset"}}),
    ("place", {"extract": "place:", "query": {"apply": "owner:", "query": {"term": "is:private"}}}),
]
VIEWERS = [1, 2, 3, 4, 5, 6, 999]  # tests/strategies.py USER_IDS, and a viewer who is no user

# Follows and blocks after the random history, so that viewers often follow someone hidden from them
# who follows a visible user: the case where a social context could leak a count or a name.
edges = st.lists(st.builds(lambda op, a, b: validate({"op": op, "ts": 0, **dict(zip(
    ("follower", "followee") if op == "follow.add" else ("blocker", "blocked"), (a, b)))}),
    st.sampled_from(["follow.add", "follow.add", "block.add"]), USER_IDS, USER_IDS), min_size=8, max_size=24)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=events(90), dense=edges)
def test_no_response_reveals_what_spec_5_hides(history, dense):
    """Requests go straight to the ASGI app in one event loop (no TestClient thread hop per message)."""
    history = history + dense
    with indexed(history) as (index, platform):
        asyncio.run(ask_every_viewer(create_app(index=index, keys={KEY: "search"}, timeout_ms=60_000), platform))


async def ask_every_viewer(app, platform) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        for viewer in VIEWERS:
            model = QueryModel(platform, viewer, limit=50)
            users = model.visible("user")
            followees = {f for f in platform.following(viewer) if f in users}
            for typed in TYPED:
                got = await client.get("/v1/typeahead", params={"q": typed, "viewer": viewer, "limit": 50},
                                       headers=HEADERS)
                assert got.status_code == 200, got.text
                for result in got.json()["results"]:
                    if result["vertical"] != "user":
                        continue
                    uid = int(result["id"])
                    assert uid in users, (viewer, typed, result)
                    social = result["social"]
                    via = {f for f in followees if (f, uid) in platform.follows}
                    assert social["followed_by_count"] == len(via), (viewer, typed, result)
                    assert {int(f["id"]) for f in social["followed_by"]} <= via, (viewer, typed, result)
                    assert social["following"] == (uid in followees)
            for vertical, query in SEARCHES:
                got = await client.post("/v1/search", json={"vertical": vertical, "query": query, "viewer": viewer,
                                                            "limit": 50}, headers=HEADERS)
                assert got.status_code == 200, got.text
                body = got.json()
                ids, total, _ = model.search(vertical, query)
                assert [r["id"] for r in body["results"]] == [str(i) for i in ids], (viewer, vertical, query)
                assert body["total"] == total
            absent = await client.get("/v1/documents/user/123456", params={"viewer": viewer}, headers=HEADERS)
            for vertical, ids in (("user", range(1, 7)), ("media", range(100, 107)), ("place", range(200, 203))):
                visible = model.visible(vertical)
                for ident in ids:
                    got = await client.get(f"/v1/documents/{vertical}/{ident}", params={"viewer": viewer},
                                           headers=HEADERS)
                    if ident in visible:
                        assert got.status_code == 200 and got.json()["doc"]["id"] == str(ident)
                    else:
                        assert (got.status_code, got.content) == (404, absent.content), (viewer, vertical, ident)
