"""The trending scenario generator: canonical events in event-time order, and planted trends and
decoys shaped as described."""

from __future__ import annotations

from firehose.events import validate
from firehose.sources.trends import TrendScenario


def test_events_are_canonical_ordered_and_plant_what_they_say():
    scenario = TrendScenario(seed=2, users=300, media_per_minute=5, warmup_minutes=30, hashtag_trends=2,
                             place_trends=1, trend_accounts=40, cooldown_minutes=10)
    events = list(scenario.events())
    assert all(validate(e) == e for e in events)
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    assert max(e["ts"] for e in events) < scenario.end
    private = {e["user"]["id"] for e in events if e["op"] == "user.upsert" and e["user"]["is_private"]}
    posts = [e["media"] for e in events if e["op"] == "media.upsert"]

    def posters(tag: str) -> list[int]:
        return [m["owner"] for m in posts if tag in m.get("hashtags", []) or f"#{tag}" in m["caption"].split()]

    for planted in scenario.planted:
        if planted.kind == "hashtag":
            owners = posters(planted.id)
            assert len(set(owners)) == 40 and not set(owners) & private
        else:
            burst = [m for m in posts if str(m["place"]) == planted.id and planted.start <= m["taken_at"] < planted.end]
            assert len({m["owner"] for m in burst}) >= 40
    assert set(posters("spam_decoy")) == {1} and len(posters("spam_decoy")) == scenario.spam_posts
    assert set(posters("private_decoy")) <= private and len(set(posters("private_decoy"))) == min(40, len(private))
    daily = [m["taken_at"] for m in posts if "daily_decoy" in m.get("hashtags", [])]
    assert min(daily) - scenario.planted[0].start < 0 and len({t // 3_600_000 for t in daily}) >= scenario.minutes // 60
