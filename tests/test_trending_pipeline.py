"""The trending pipeline's stages and scoring (SPEC §6 Trending), over a real index: each stage's
contract, planted trends that trend, decoys that never do, fading, bounded state, and state that
survives reloading from the index exactly."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firehose.events import validate
from firehose.sources.trends import MINUTE, TrendScenario
from indexer.store import Index
from slipstream import Slipstream
from trending import Pipeline
from trending.parser import Uses, parse
from trending.preprocess import CLOCK, Clock, Enriched, Preprocessor
from trending.ranker import MIN_DISTINCT, MIN_LIFT, PRIOR, score
from trending.scorer import BUCKET_MS, HIST, HORIZON, OPEN, RECENT, Scorer
from trending.snapshot import SNAPSHOT as SNAPSHOT_NAME

AUX = (OPEN, HIST, CLOCK, "trending.snapshot")


def user(uid: int, private: bool = False, ts: int = 0) -> dict:
    return validate({"op": "user.upsert", "ts": ts, "user": {"id": uid, "username": f"u{uid}", "full_name": f"U {uid}",
                                                              "is_private": private, "is_verified": False}})


def media(mid: int, owner: int, ts: int, caption: str = "x", **fields) -> dict:
    return validate({"op": "media.upsert", "ts": ts, "media": {"id": mid, "owner": owner, "caption": caption,
                                                                "taken_at": ts, **fields}})


def feed(index: Index, events: list[dict], pipeline: Pipeline | None = None, batch_ms: int = MINUTE,
         fresh_pipeline_each_batch: bool = False, batch_events: int | None = None) -> Iterator[dict]:
    """Apply the events as the indexer does (Slipstream, then the pipeline, per event), one batch
    per `batch_ms` of event time, or per `batch_events` events; yields each batch's snapshots."""
    pipeline = pipeline or Pipeline()
    chunk: list[dict] = []
    for i, event in enumerate(events):
        chunk.append(event)
        last = i + 1 == len(events)
        if batch_events is not None:
            edge = len(chunk) == batch_events
        else:
            edge = not last and events[i + 1]["ts"] // batch_ms != event["ts"] // batch_ms
        if last or edge:
            if fresh_pipeline_each_batch:
                pipeline = Pipeline()
            with index.writer() as batch:
                slipstream, run = Slipstream(batch), pipeline.begin(batch)
                for e in chunk:
                    slipstream.apply(e)
                    run.observe(e)
                snapshots = run.finish()
            chunk = []
            yield snapshots


def aux_state(index: Index) -> dict:
    with index.reader() as view:
        return {name: dict(view.aux_items(name)) for name in AUX}


@pytest.fixture
def index(tmp_path) -> Iterator[Index]:
    index = Index(tmp_path / "index")
    try:
        yield index
    finally:
        index.close()


# the stages' contracts


def test_preprocess_attaches_whether_the_owner_is_live_and_public_and_the_clock_as_of_the_event(index):
    stage = Preprocessor()
    with index.writer() as batch:
        slipstream = Slipstream(batch)
        stage.begin(batch)
        given = [user(1, ts=3), user(2, private=True), media(10, 1, 5, "#a"), media(11, 2, 4),
                 media(12, 99, 7), user(2, private=False, ts=8), media(13, 2, 9),
                 {"op": "user.delete", "ts": 10, "id": 1}, media(14, 1, 11)]
        for event in given:
            slipstream.apply(event)
            stage.observe(event)
        clock, enriched = stage.finish()
        u1, u2, u99 = (batch.iid("user", u) for u in (1, 2, 99))
    assert clock == Clock(as_of=11, first=3)
    assert list(zip(*enriched)) == [
        (5, given[2]["media"], u1, True, 5),
        (4, given[3]["media"], u2, False, 5),  # private; as_of: the highest ts so far
        (7, given[4]["media"], u99, False, 7),  # an owner known by no user event
        (9, given[6]["media"], u2, True, 9),  # public since the event before
        (11, given[8]["media"], u1, False, 11)]  # deleted


def test_preprocess_rereads_owners_another_writer_changed_between_its_batches(index):
    stage = Preprocessor()
    with index.writer() as batch:
        Slipstream(batch).apply(user(1))
    for private, writer_between in ((False, False), (True, True), (True, False)):
        if writer_between:  # a batch the pipeline does not see turns the owner private
            with index.writer() as batch:
                Slipstream(batch).apply(user(1, private=True, ts=1))
        with index.writer() as batch:
            stage.begin(batch)
            event = media(10, 1, 5)
            Slipstream(batch).apply(event)
            stage.observe(event)
            assert stage.finish()[1].owner_public == [not private]


def test_an_empty_or_eventless_batch_keeps_the_clock(index):
    stage = Preprocessor()
    with index.writer() as batch:
        stage.begin(batch)
        assert stage.finish() == (Clock(None, None), Enriched([], [], [], [], []))
        assert batch.get_aux(CLOCK, b"") is None


def test_parser_normalizes_hashtags_from_the_field_or_the_caption_and_keeps_public_owners_only():
    given = ({"id": 1, "owner": 1, "caption": "#Ignored", "taken_at": 0, "place": 42,
              "hashtags": ["#Café_Paris", "CAFÉ_paris", "", "Zoë"]}, 3, True)
    hidden = ({"id": 2, "owner": 2, "caption": "#Hidden", "taken_at": 0, "place": 43}, 5, False)
    gone = ({"id": 3, "owner": 3, "caption": "#Gone", "taken_at": 0, "place": 44}, None, False)
    from_caption = ({"id": 4, "owner": 4, "caption": "sun #Été and #Beach!", "taken_at": 0, "place": None}, 4, True)
    media, owner, public = zip(given, hidden, gone, from_caption)
    enriched = Enriched([7, 8, 8, 6], list(media), list(owner), list(public), [8, 8, 8, 8])
    assert columns(parse(enriched)) == {
        "hashtag": (["cafe_paris", "cafe_paris", "zoe", "ete", "beach"], [3, 3, 3, 4, 4], [7, 7, 7, 6, 6], [8] * 5),
        "place": ([42], [3], [7], [8])}
    assert columns(parse(Enriched([], [], [], [], []))) == {"hashtag": ([], [], [], []), "place": ([], [], [], [])}


def columns(uses: dict[str, Uses]) -> dict[str, tuple[list, ...]]:
    return {kind: tuple(list(column) for column in one) for kind, one in uses.items()}


def test_score_needs_real_support_and_a_lift_over_the_items_own_baseline():
    assert score(MIN_DISTINCT - 1, 0.0) is None  # a small new item: not enough accounts
    assert score(MIN_DISTINCT, 0.0) > 0
    assert score(100, 100.0) is None  # popular, but as usual
    assert score(int(MIN_LIFT * (40 + PRIOR)), 40.0) > 0
    assert score(200, 10.0) > score(100, 10.0) > score(100, 20.0)


# scoring behaviour


SCENARIO = dict(users=800, media_per_minute=15, warmup_minutes=120, hashtag_trends=3, place_trends=1,
                trend_accounts=80, trend_every_minutes=45, cooldown_minutes=RECENT + 5)


@pytest.fixture(scope="module")
def scenario_run(tmp_path_factory) -> tuple[TrendScenario, list[dict], Path]:
    scenario = TrendScenario(seed=3, **SCENARIO)
    path = tmp_path_factory.mktemp("scenario") / "index"
    index = Index(path)
    snapshots = list(feed(index, list(scenario.events())))
    index.close()
    return scenario, snapshots, path


def top(snapshot: dict, kind: str, n: int = 10) -> list[str]:
    return [r["id"] for r in snapshot[kind]["results"][:n]]


def test_planted_trends_reach_the_top_within_five_minutes_and_fade_when_they_end(scenario_run):
    scenario, snapshots, _ = scenario_run
    for planted in scenario.planted:
        shown = [s["hashtag"]["as_of"] for s in snapshots if planted.id in top(s, planted.kind)]
        assert shown, f"{planted} never trended"
        assert planted.start <= shown[0] <= planted.start + 5 * MINUTE
        assert shown[-1] < planted.end + RECENT * BUCKET_MS  # gone once its burst left the window
    assert all(not s[kind]["results"] for s in snapshots[-3:] for kind in ("hashtag", "place"))


def test_decoys_never_trend(scenario_run):
    scenario, snapshots, _ = scenario_run
    first = min(p.start for p in scenario.planted)
    decoys = {d.id for d in scenario.decoys}
    for snapshot in snapshots:
        if snapshot["hashtag"]["as_of"] >= first:
            assert decoys.isdisjoint(r["id"] for r in snapshot["hashtag"]["results"])
    burst = scenario.planted[len(scenario.planted) // 2]
    during = [s for s in snapshots if burst.start + 10 * MINUTE <= s["hashtag"]["as_of"] < burst.end]
    assert during and all(burst.id in top(s, burst.kind) for s in during)  # the decoys ran at this time


def test_each_account_counts_once_per_item_per_window(index):
    events = [user(u) for u in range(1, 30)]
    events += [media(1000 + i, 1, 60 * MINUTE + i * 1000, "#solo") for i in range(500)]
    events += [media(2000 + u, u, 61 * MINUTE + u, "#crowd #solo") for u in range(2, 2 + MIN_DISTINCT + 2)]
    snapshot = list(feed(index, events))[-1]["hashtag"]
    got = {r["id"]: r for r in snapshot["results"]}
    assert got["crowd"]["recent"] == MIN_DISTINCT + 2
    assert got["solo"]["recent"] == MIN_DISTINCT + 3  # 500 posts of one account count once
    assert got["solo"]["title"] == "#solo" and snapshot["as_of"] == max(e["ts"] for e in events)


def test_state_is_bounded_by_the_window_and_the_horizon(index):
    events = [user(u) for u in range(1, 4)]
    ts = 0
    for step in range(40):  # a post every 50 minutes for longer than the horizon
        ts = step * 50 * MINUTE
        events.append(media(100 + step, 1 + step % 3, ts, f"#t{step % 4}", place=None))
    list(feed(index, events))
    state = aux_state(index)
    now = ts // BUCKET_MS
    buckets = lambda rows: {int.from_bytes(k[1:9], "big") - (1 << 63) for k in rows}  # noqa: E731
    assert buckets(state[OPEN]) == {now}
    hist = buckets(state[HIST])
    assert hist and min(hist) >= now - RECENT + 1 - HORIZON and max(hist) < now - RECENT + 1
    scorer = Scorer()
    with index.writer() as batch:  # the sums a reload rebuilds: what the closed buckets in the horizon hold
        scorer.begin(batch)
        batch.abort()
    posts = {f"t{step % 4}": 0 for step in range(40)}
    for step in range(40):
        if now - RECENT + 1 - HORIZON <= step * 50 <= now - RECENT:
            posts[f"t{step % 4}"] += 1
    with index.reader() as view:
        assert {name: scorer.sum("hashtag", view.iid("hashtag", name)) for name in posts} == posts


def test_state_reloaded_from_the_index_every_batch_equals_state_kept_in_memory(scenario_run, tmp_path):
    scenario, snapshots, path = scenario_run
    index = Index(tmp_path / "index")
    try:
        reloaded = list(feed(index, list(scenario.events()), batch_ms=7 * MINUTE, fresh_pipeline_each_batch=True))
        assert reloaded[-1] == snapshots[-1]
        kept = Index(path, readonly=True)
        assert aux_state(index) == aux_state(kept)
        kept.close()
    finally:
        index.close()


def test_state_kept_in_memory_equals_state_reloaded_after_every_batch_whose_edges_split_buckets(tmp_path):
    events = list(TrendScenario(seed=4, **SCENARIO).events())
    kept, reloaded = Index(tmp_path / "kept"), Index(tmp_path / "reloaded")
    try:
        for a, b in zip(feed(kept, events, batch_events=97), feed(reloaded, events, batch_events=97,
                                                                  fresh_pipeline_each_batch=True), strict=True):
            assert a == b
        assert aux_state(kept) == aux_state(reloaded)
    finally:
        kept.close()
        reloaded.close()


PRIVATE_POSTERS = {5, 6}
posts = st.lists(st.tuples(st.sampled_from([0, 0, 1, 7, 400]),  # minutes after the previous post's clock
                           st.sampled_from([0, 0, 10, 29, 31, 45]),  # minutes late
                           st.integers(1, 6),  # owner
                           st.lists(st.sampled_from(["a", "b", "c"]), max_size=3),
                           st.sampled_from([None, 1, 2])), min_size=1, max_size=60)


def model_counts(events: list[dict]) -> tuple[dict, dict]:
    """The scoring rule written out (docs above trending/scorer.py): per (kind, item), the distinct
    public accounts in the recent window, and the distinct accounts per closed bucket summed over
    the horizon; a use older than the window at its event's clock does not count."""
    as_of, accounts = None, {}
    for event in events:
        as_of = event["ts"] if as_of is None else max(as_of, event["ts"])
        if event["op"] != "media.upsert" or event["media"]["owner"] in PRIVATE_POSTERS:
            continue
        bucket = event["ts"] // BUCKET_MS
        if bucket < as_of // BUCKET_MS - RECENT + 1:
            continue
        media_ = event["media"]
        items = [("hashtag", tag) for tag in media_["hashtags"]] + [("place", media_["place"])] * (media_["place"] is not None)
        for item in items:
            accounts.setdefault(item, {}).setdefault(bucket, set()).add(media_["owner"])
    start = as_of // BUCKET_MS - RECENT + 1
    recent = {item: len(set().union(*(a for b, a in per.items() if b >= start))) for item, per in accounts.items()}
    sums = {item: sum(len(a) for b, a in per.items() if start - HORIZON <= b < start) for item, per in accounts.items()}
    return recent, sums


@settings(max_examples=25)
@given(posts, st.integers(1, 25))
def test_counts_after_every_batch_are_the_scoring_rules_own(drawn, batch_events):
    events = [user(u, private=u in PRIVATE_POSTERS) for u in range(1, 7)]
    clock = 0
    for n, (step, late, owner, tags, place) in enumerate(drawn):
        clock += step * MINUTE + 1000
        events.append(media(100 + n, owner, clock - late * MINUTE, hashtags=tags, place=place))
    with tempfile.TemporaryDirectory() as tmp:
        index, pipeline = Index(Path(tmp)), Pipeline()
        try:
            for done, _ in enumerate(feed(index, events, pipeline, batch_events=batch_events), start=1):
                recent, sums = model_counts(events[:done * batch_events])
                with index.reader() as view:
                    for (kind, item), expected in recent.items():
                        counted, summed = pipeline.scorer.counts(kind)
                        iid = view.iid(kind, item)
                        assert (int(counted[iid]) if iid < len(counted) else 0) == expected, (kind, item)
                        assert pipeline.scorer.sum(kind, iid) == sums[kind, item], (kind, item)
        finally:
            index.close()


def test_an_aborted_batch_leaves_no_trace_in_the_next(index):
    events = [user(u) for u in range(1, 20)]
    events += [media(100 + u, u, MINUTE + u, "#wave") for u in range(1, 20)]
    pipeline = Pipeline()
    list(feed(index, events[:19], pipeline))
    with pytest.raises(RuntimeError):
        with index.writer() as batch:
            run = pipeline.begin(batch)
            for e in events[19:]:
                Slipstream(batch).apply(e)
                run.observe(e)
            run.finish()
            raise RuntimeError("the batch fails before it commits")
    assert list(feed(index, events[19:], pipeline))[-1]["hashtag"]["results"][0]["recent"] == 19
    with tempfile.TemporaryDirectory() as tmp:
        clean = Index(Path(tmp))
        list(feed(clean, events))
        assert aux_state(clean) == aux_state(index)
        clean.close()


def test_aux_values_commit_with_the_batch_and_scan_by_prefix_and_bound(tmp_path):
    index = Index(tmp_path / "index")
    try:
        with index.writer() as batch:
            for key in (b"a1", b"a2", b"a3", b"b1"):
                batch.put_aux("x", key, key.upper())
            batch.put_aux("xy", b"a1", b"other")  # another name: never mixed in
            assert batch.aux_items("x", b"a", b"a3") == [(b"a1", b"A1"), (b"a2", b"A2")]
        with pytest.raises(RuntimeError):
            with index.writer() as batch:
                batch.delete_aux("x", b"a1")
                batch.put_aux("x", b"c", b"C")
                raise RuntimeError("aborted")
        with index.reader() as view:
            assert list(view.aux_items("x")) == [(b"a1", b"A1"), (b"a2", b"A2"), (b"a3", b"A3"), (b"b1", b"B1")]
            assert (view.aux("x", b"b1"), view.aux("x", b"c"), view.aux("xy", b"a1")) == (b"B1", None, b"other")
    finally:
        index.close()


def test_a_reader_of_an_index_without_the_aux_db_sees_no_trending_state(tmp_path):
    import lmdb

    Index(tmp_path).close()
    env = lmdb.open(str(tmp_path), max_dbs=64)
    with env.begin(write=True) as txn:  # as an index written before the aux db existed
        txn.drop(env.open_db(b"aux", txn=txn), delete=True)
    env.close()
    index = Index(tmp_path, readonly=True)
    try:
        with index.reader() as view:
            assert view.aux(SNAPSHOT_NAME, b"hashtag") is None and list(view.aux_items(OPEN)) == []
    finally:
        index.close()
