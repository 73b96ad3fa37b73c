"""SPEC §1 and §5 for hashtags: `media_count` of a hashtag or place counts live media of public
owners only, and a hashtag is visible to a viewer only while some media visible to that viewer
carries it (search, typeahead, documents, extract, apply), through slipstream, the engine and the
HTTP API, with exact expectations over hand-built event streams and over random ones."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from api import create_app
from firehose.events import validate
from indexer.store import Index
from slipstream import Slipstream
from tests.indexed import indexed
from tests.model.queries import QueryModel
from tests.strategies import events
from unicorn.engine import Engine

ADMIN, SEARCH = "admin-key", "search-key"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
AS_SEARCH = {"Authorization": f"Bearer {SEARCH}"}

VIEWER, PRIVATE, PUBLIC, BLOCKER, FOLLOWER = 1, 2, 3, 4, 5
EVERY_HASHTAG = "(or (term name:s) (term name:b) (term name:l))"  # the initials of the hashtags below


def user(uid: int, name: str, private: bool = False) -> dict:
    return {"op": "user.upsert", "ts": 0, "user": {"id": uid, "username": name, "full_name": "",
                                                   "is_private": private, "is_verified": False}}


def media(mid: int, owner: int, caption: str, place: int | None = None) -> dict:
    return {"op": "media.upsert", "ts": 0, "media": {"id": mid, "owner": owner, "caption": caption,
                                                     "taken_at": mid, "place": place}}


PLATFORM = [
    user(VIEWER, "viewer"), user(PRIVATE, "hidden.away", private=True), user(PUBLIC, "open"),
    user(BLOCKER, "blocker"), user(FOLLOWER, "friend"),
    {"op": "place.upsert", "ts": 0, "place": {"id": 200, "name": "Secret Garden", "city": "Paris", "country": "FR",
                                              "lat": 1.0, "lng": 2.0}},
    {"op": "follow.add", "ts": 0, "follower": FOLLOWER, "followee": PRIVATE},
    {"op": "block.add", "ts": 0, "blocker": BLOCKER, "blocked": VIEWER},
    media(100, PRIVATE, "only friends #secret #sunset", place=200),
    media(101, PUBLIC, "evening #sunset", place=200),
    media(102, BLOCKER, "mine #blockedonly #sunset"),
]


class Platform:
    """A real index fed through slipstream batch by batch, served by the real HTTP app."""

    def __init__(self, path) -> None:
        self.index = Index(path)
        self.client = TestClient(create_app(index=self.index, keys={ADMIN: "admin", SEARCH: "search"},
                                            timeout_ms=60_000))
        self.ts = 0

    def apply(self, *stream: dict) -> None:
        """Apply events in one batch, each later in event time than all before it."""
        with self.index.writer() as batch:
            slip = Slipstream(batch)
            for event in stream:
                self.ts += 1
                slip.apply(validate({**event, "ts": self.ts}))

    def document(self, name: str, viewer: int | None = None):
        params, headers = ({}, AS_ADMIN) if viewer is None else ({"viewer": viewer}, AS_SEARCH)
        got = self.client.get(f"/v1/documents/hashtag/{name}", params=params, headers=headers)
        if got.status_code == 404:
            return None
        assert got.status_code == 200, got.text
        return got.json()["doc"]["media_count"]

    def counts(self) -> dict[str, int]:
        """Every live hashtag and its media_count, as the admin searches them."""
        got = self.search("hashtag", EVERY_HASHTAG, None)
        return {r["id"]: r["doc"]["media_count"] for r in got["results"]}

    def place_count(self) -> int:
        return self.client.get("/v1/documents/place/200", headers=AS_ADMIN).json()["doc"]["media_count"]

    def search(self, vertical: str, query: str, viewer: int | None) -> dict:
        body = {"vertical": vertical, "query": query, "limit": 50}
        headers = AS_ADMIN if viewer is None else AS_SEARCH
        if viewer is not None:
            body["viewer"] = viewer
        got = self.client.post("/v1/search", json=body, headers=headers)
        assert got.status_code == 200, got.text
        return got.json()

    def found(self, vertical: str, query: str, viewer: int | None) -> list[str]:
        got = self.search(vertical, query, viewer)
        assert got["total"] == len(got["results"])
        return [r["id"] for r in got["results"]]

    def typeahead(self, q: str, viewer: int) -> list[tuple[str, str]]:
        got = self.client.get("/v1/typeahead", params={"q": q, "viewer": viewer, "limit": 50}, headers=AS_SEARCH)
        assert got.status_code == 200, got.text
        return [(r["id"], r["subtitle"]) for r in got.json()["results"] if r["vertical"] == "hashtag"]

    def visible(self, viewer: int) -> list[str]:
        """The hashtags a viewer finds by name, in static order."""
        return self.found("hashtag", EVERY_HASHTAG, viewer)

    def close(self) -> None:
        self.client.close()
        self.index.close()


@pytest.fixture
def platform(tmp_path):
    p = Platform(tmp_path / "index")
    p.client.__enter__()
    try:
        p.apply(*PLATFORM)
        yield p
    finally:
        p.close()


def test_counts_leave_private_media_out(platform):
    assert platform.counts() == {"sunset": 2, "blockedonly": 1, "secret": 0}
    assert platform.document("secret") == 0  # a hashtag exists while live media carry it
    assert platform.place_count() == 1


def test_hashtag_of_a_private_post_is_invisible_to_strangers(platform):
    assert platform.visible(VIEWER) == ["sunset"]
    assert platform.visible(PUBLIC) == ["sunset", "blockedonly"]
    assert platform.visible(FOLLOWER) == ["sunset", "blockedonly", "secret"]
    assert platform.visible(PRIVATE) == ["sunset", "blockedonly", "secret"]
    assert platform.visible(999) == ["sunset", "blockedonly"]  # a viewer who is no user
    assert platform.typeahead("#se", PUBLIC) == []
    assert platform.typeahead("secret", PUBLIC) == []
    assert platform.typeahead("#se", FOLLOWER) == [("secret", "0 posts")]
    assert platform.typeahead("#s", PRIVATE) == [("sunset", "2 posts"), ("secret", "0 posts")]
    assert platform.document("secret", PUBLIC) is None
    assert platform.document("secret", FOLLOWER) == 0


def test_hashtag_carried_only_by_a_blocker_is_invisible(platform):
    assert platform.typeahead("#b", VIEWER) == []
    assert platform.typeahead("blocked", VIEWER) == []
    assert platform.typeahead("#b", PUBLIC) == [("blockedonly", "1 post")]
    assert platform.document("blockedonly", VIEWER) is None
    assert platform.document("blockedonly", BLOCKER) == 1
    assert platform.document("sunset", VIEWER) == 2  # counts are not filtered per viewer
    absent = platform.client.get("/v1/documents/hashtag/nosuchtag", params={"viewer": VIEWER}, headers=AS_SEARCH)
    hidden = platform.client.get("/v1/documents/hashtag/blockedonly", params={"viewer": VIEWER}, headers=AS_SEARCH)
    assert (hidden.status_code, hidden.content) == (absent.status_code, absent.content)
    assert hidden.status_code == 404
    # a user the viewer blocks is hidden as well: sunset's public carriers are now all hidden owners'
    platform.apply({"op": "block.add", "ts": 0, "blocker": VIEWER, "blocked": PUBLIC})
    assert platform.visible(VIEWER) == []
    assert platform.typeahead("#s", VIEWER) == []
    assert platform.visible(PUBLIC) == ["sunset", "blockedonly"]


def test_extract_and_apply_see_only_visible_hashtags(platform):
    everything = "(extract hashtag: (or (term owner:2) (term owner:3) (term owner:4)))"
    assert platform.found("hashtag", everything, VIEWER) == ["sunset"]
    assert platform.found("hashtag", everything, FOLLOWER) == ["sunset", "blockedonly", "secret"]
    assert platform.found("hashtag", everything, None) == ["sunset", "blockedonly", "secret"]
    assert platform.found("media", "(apply hashtag: (term name:se))", VIEWER) == []
    assert platform.found("media", "(apply hashtag: (term name:se))", FOLLOWER) == ["100"]
    assert platform.found("media", "(apply hashtag: (term name:b))", VIEWER) == []
    assert platform.found("media", "(apply hashtag: (term name:sun))", VIEWER) == ["101"]
    assert platform.found("hashtag", "(difference (term name:s) (term name:su))", FOLLOWER) == ["secret"]
    assert platform.found("hashtag", "(difference (term name:s) (term name:su))", VIEWER) == []


def test_privacy_flips_move_counts_and_visibility(platform):
    platform.apply(user(PRIVATE, "hidden.away", private=False))
    assert platform.counts() == {"sunset": 3, "blockedonly": 1, "secret": 1}
    assert platform.place_count() == 2
    assert platform.visible(VIEWER) == ["sunset", "secret"]
    assert platform.typeahead("#se", VIEWER) == [("secret", "1 post")]
    platform.apply(user(PRIVATE, "hidden.away", private=True), user(PUBLIC, "open", private=True))
    assert platform.counts() == {"blockedonly": 1, "sunset": 1, "secret": 0}
    assert platform.place_count() == 0
    # sunset's only public carrier now belongs to the blocker: the viewer sees no hashtag at all
    assert platform.visible(VIEWER) == []
    assert platform.typeahead("#s", VIEWER) == []
    assert platform.document("sunset", VIEWER) is None
    platform.apply({"op": "follow.add", "ts": 0, "follower": VIEWER, "followee": PUBLIC})
    assert platform.visible(VIEWER) == ["sunset"]
    platform.apply(user(PUBLIC, "open", private=False), user(PUBLIC, "open", private=False))  # replayed
    assert platform.counts() == {"sunset": 2, "blockedonly": 1, "secret": 0}
    assert platform.place_count() == 1


def test_owner_arriving_private_after_the_media(platform):
    platform.apply(media(103, 7, "early #latecomer"), media(104, 7, "at the garden", place=200))
    assert platform.document("latecomer") == 1 and platform.place_count() == 2
    assert platform.visible(VIEWER) == ["sunset", "latecomer"]
    platform.apply(user(7, "late", private=True))
    assert platform.document("latecomer") == 0 and platform.place_count() == 1
    assert "latecomer" not in platform.visible(VIEWER)
    assert platform.document("latecomer", 7) == 0


def test_deletes_and_edits_keep_counts_exact(platform):
    platform.apply(media(101, PRIVATE, "moved to the private account #sunset #secret", place=200))
    assert platform.counts() == {"blockedonly": 1, "sunset": 1, "secret": 0}
    assert platform.place_count() == 0
    assert platform.visible(VIEWER) == []
    platform.apply({"op": "media.delete", "ts": 0, "id": 100, "owner": PRIVATE})
    assert platform.counts() == {"blockedonly": 1, "sunset": 1, "secret": 0}
    platform.apply({"op": "media.delete", "ts": 0, "id": 101, "owner": PRIVATE})
    assert platform.counts() == {"blockedonly": 1, "sunset": 1}
    assert platform.document("secret") is None and platform.document("secret", PRIVATE) is None
    platform.apply({"op": "user.delete", "ts": 0, "id": BLOCKER})
    assert platform.counts() == {}
    platform.apply(media(105, PUBLIC, "back #sunset"))
    assert platform.counts() == {"sunset": 1}
    assert platform.visible(VIEWER) == ["sunset"]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(events(80))
def test_counts_and_visible_hashtags_follow_their_definitions(history):
    """Over random histories: counts are public live carriers, a hashtag lives while carried, and each
    viewer's hashtags are exactly those of the media visible to them (tests/model's media visibility)."""
    with indexed(history) as (index, platform):
        public = {m for m, doc in platform.media.items()
                  if not (doc["owner"] in platform.users and platform.users[doc["owner"]]["is_private"])}
        carried = {tag for doc in platform.media.values() for tag in doc["hashtags"]}
        engine = Engine(index)
        with index.reader() as view:
            for tag in carried:
                doc = view.doc("hashtag", view.iid("hashtag", tag))
                assert doc["media_count"] == sum(tag in platform.media[m]["hashtags"] for m in public), tag
            assert {view.ext("hashtag", i) for i in view.posting("hashtag", "_live")} == carried
            assert {view.ext("hashtag", i) for i in view.posting("hashtag", "_public")} == {
                tag for m in public for tag in platform.media[m]["hashtags"]}
            for pid in platform.places:
                doc = view.doc("place", view.iid("place", pid))
                assert doc["media_count"] == sum(platform.media[m]["place"] == pid for m in public)
        for viewer in (None, 1, 2, 3, 4, 5, 6, 999):
            seen = QueryModel(platform, viewer).visible("media")
            expected = {tag for m in seen for tag in platform.media[m]["hashtags"]}
            got = engine.search("hashtag", "(or (term name:s) (term name:c) (term name:b) (term name:j))",
                                viewer=viewer, limit=1000, timeout_ms=60_000)
            assert {r["id"] for r in got.results} == expected, viewer
            for tag in carried:
                assert (engine.document("hashtag", tag, viewer=viewer) is not None) == (tag in expected)
