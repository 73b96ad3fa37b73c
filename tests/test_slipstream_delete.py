"""`user.delete` and `media.delete` of well-connected entities against the model: edges older than
the delete go from both ends with their times, newer and same-`ts` ones survive, and every other
end's count follows (docs/events.md)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from firehose.events import validate
from tests.model.platform import Platform
from tests.test_slipstream_model import assert_index_equals_model, built

USERS = range(1, 41)
MEDIA = range(100, 121)
IDS = {"user": USERS, "media": MEDIA, "place": range(200, 201)}
DELETED = 1  # the hub: followed by, following, blocking and liking many


def hub_stream(rng: random.Random, delete_ts: int) -> list[dict]:
    """Users and media; edges touching the hub at times around `delete_ts` (ties included, a self-follow
    among them) and edges between the others; the hub's delete; more edges after it."""
    events = [{"op": "user.upsert", "ts": 1, "user": {"id": u, "username": f"u{u}", "full_name": "", "is_private": u % 7 == 0}}
              for u in USERS]
    events += [{"op": "media.upsert", "ts": 2, "media": {"id": m, "owner": USERS[m % 5], "caption": "x", "taken_at": 0}}
               for m in MEDIA]
    edges = []
    for _ in range(300):
        a, z, m = rng.choice(USERS), rng.choice(USERS), rng.choice(MEDIA)
        hub = rng.random()
        if hub < 0.02:
            a = z = DELETED
        elif hub < 0.35:
            a = DELETED
        elif hub < 0.7:
            z = DELETED
        ts = delete_ts + rng.choice([-3, -1, 0, 0, 1, 4])
        edges.append(rng.choice([
            {"op": "follow.add", "ts": ts, "follower": a, "followee": z},
            {"op": "block.add", "ts": ts, "blocker": a, "blocked": z},
            {"op": "like.add", "ts": ts, "user": a, "media": m},
            {"op": "follow.remove", "ts": ts, "follower": a, "followee": z},
        ]))
    cut = rng.randrange(len(edges) + 1)
    delete = [{"op": "user.delete", "ts": delete_ts, "id": DELETED},
              {"op": "media.delete", "ts": delete_ts, "id": MEDIA[0], "owner": USERS[MEDIA[0] % 5]}]
    return [validate(e) for e in [*events, *edges[:cut], *delete, *edges[cut:]]]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), cuts=st.lists(st.integers(0, 800), max_size=3))
def test_deleting_a_hub_matches_the_model_whenever_its_edges_arrive(seed, cuts):
    stream = hub_stream(random.Random(seed), delete_ts=100)
    model = Platform()
    for event in stream:
        model.apply(event)
    with built(stream, cuts) as index:
        assert_index_equals_model(index, model, IDS)
        with index.reader() as view:
            follows = {(view.ext("user", a), view.ext("user", z)): ts for key, ts in view.times() if key[:1] == b"f"
                       for a, z in [(int.from_bytes(key[1:5], "big"), int.from_bytes(key[5:9], "big"))]}
        assert follows == model.follow_ts
