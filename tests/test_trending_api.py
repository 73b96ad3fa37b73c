"""`GET /v1/trending` through the real ASGI app: shape, parameters, auth, and the viewer's privacy
(SPEC §5: a hashtag only while some media visible to the viewer carries it; places are public;
private media never count)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from api import create_app
from firehose.sources.trends import MINUTE
from indexer.store import Index
from tests.test_api_endpoints import AS_ADMIN, AS_SEARCH, KEYS, error
from tests.test_trending_pipeline import feed, media, user
from trending.ranker import MIN_DISTINCT

VIEWER, OTHER = 1, 2
BLOCKERS = range(10, 10 + MIN_DISTINCT + 2)  # public posters who all block VIEWER
OPEN = range(40, 40 + MIN_DISTINCT + 4)  # public posters blocking no one
PRIVATE = range(70, 70 + MIN_DISTINCT + 10)  # private posters, followed by VIEWER
PLACE = 9000


def history() -> list[dict]:
    events = [user(u) for u in (VIEWER, OTHER, *BLOCKERS, *OPEN)] + [user(u, private=True) for u in PRIVATE]
    events.append({"op": "place.upsert", "ts": 0, "place": {"id": PLACE, "name": "Pier", "city": "Oslo", "country": "NO",
                                                             "lat": 1.0, "lng": 2.0}})
    events += [{"op": "block.add", "ts": 0, "blocker": u, "blocked": VIEWER} for u in BLOCKERS]
    events += [{"op": "follow.add", "ts": 0, "follower": VIEWER, "followee": u} for u in PRIVATE]
    mid = iter(range(1000, 10_000))
    ts = 10 * MINUTE
    for u in BLOCKERS:
        events.append(media(next(mid), u, ts := ts + 1000, "#Shadow at the pier", place=PLACE))
    for u in OPEN:
        events.append(media(next(mid), u, ts := ts + 1000, "#open #mixed"))
    events.append(media(next(mid), BLOCKERS[0], ts := ts + 1000, "#mixed"))
    for u in PRIVATE:
        events.append(media(next(mid), u, ts := ts + 1000, "#hush"))
    return events


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    index = Index(tmp_path_factory.mktemp("trending-api") / "index")
    events = history()
    list(feed(index, events))
    try:
        with TestClient(create_app(index=index, keys=KEYS, timeout_ms=60_000)) as client:
            client.last_ts = events[-1]["ts"]
            yield client
    finally:
        index.close()


def trending(client, kind: str, viewer: int | None = None, **params) -> dict:
    query = {"kind": kind, **params, **({} if viewer is None else {"viewer": viewer})}
    response = client.get("/v1/trending", params=query, headers=AS_ADMIN if viewer is None else AS_SEARCH)
    assert response.status_code == 200, response.text
    return response.json()


def ids(body: dict) -> list[str]:
    return [r["id"] for r in body["results"]]


def test_shape_ids_as_strings_and_as_of_the_last_event(client):
    body = trending(client, "hashtag")
    assert set(body) == {"kind", "results", "as_of"} and body["kind"] == "hashtag"
    assert body["as_of"] == client.last_ts
    assert sorted(ids(body)) == ["mixed", "open", "shadow"]
    for result in body["results"]:
        assert set(result) == {"id", "title", "score", "recent", "baseline"}
        assert result["title"] == f"#{result['id']}" and result["score"] > 0
    assert [r["score"] for r in body["results"]] == sorted((r["score"] for r in body["results"]), reverse=True)
    places = trending(client, "place")
    assert places["results"] == [{**places["results"][0], "id": str(PLACE), "title": "Pier", "recent": len(BLOCKERS)}]
    assert ids(trending(client, "hashtag", limit=1)) == ids(body)[:1]


def test_a_burst_among_private_accounts_never_trends_even_for_their_followers_or_the_admin(client):
    assert "hush" not in ids(trending(client, "hashtag"))
    assert "hush" not in ids(trending(client, "hashtag", VIEWER))


def test_a_hashtag_whose_posters_all_block_the_viewer_is_hidden_from_that_viewer_only(client):
    assert sorted(ids(trending(client, "hashtag", VIEWER))) == ["mixed", "open"]  # mixed: one poster does not block
    assert sorted(ids(trending(client, "hashtag", OTHER))) == ["mixed", "open", "shadow"]
    assert ids(trending(client, "place", VIEWER)) == [str(PLACE)]  # places are public


def test_limit_applies_after_privacy(client):
    full = ids(trending(client, "hashtag", VIEWER))
    assert ids(trending(client, "hashtag", VIEWER, limit=1)) == full[:1] and "shadow" not in full


@pytest.mark.parametrize("params", [{}, {"kind": "user"}, {"kind": "hashtag", "limit": "0"},
                                    {"kind": "hashtag", "limit": "51"}, {"kind": "place", "limit": "ten"},
                                    {"kind": "hashtag", "viewer": "-1"}])
def test_bad_parameters_are_bad_request(client, params):
    error(client.get("/v1/trending", params=params, headers=AS_ADMIN), 400, "bad_request")


def test_auth_rules_as_the_other_endpoints(client):
    error(client.get("/v1/trending", params={"kind": "hashtag"}), 401, "unauthorized")
    error(client.get("/v1/trending", params={"kind": "hashtag"}, headers={"Authorization": "Bearer nope"}), 401,
          "unauthorized")
    error(client.get("/v1/trending", params={"kind": "hashtag"}, headers=AS_SEARCH), 403, "forbidden")
