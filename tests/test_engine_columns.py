"""The engine against the model while the index changes batch by batch: the reader-side numpy
columns (static order, media links) are refreshed per generation, incrementally from
`{v}.rankdirty` or by a whole reload when those records were pruned, and must always answer
like the model. Narrow link rows and a low id bound make hashtags and mentions overflow into their lists.
"""

from __future__ import annotations

import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.store import Index, LinkColumns, columns, reads
from slipstream import Slipstream
from tests.model.platform import Platform
from tests.model.queries import QueryModel
from tests.strategies import USER_IDS, events
from tests.test_query_model import assert_why_holds, query
from unicorn.engine import Engine

FIELDS = {"owner": 0, "place": 1, "hashtag": 2, "mention": 3}
EXTRACTS = [("user", "owner"), ("user", "mention"), ("place", "place"), ("hashtag", "hashtag")]

extract_queries = st.sampled_from(EXTRACTS).flatmap(
    lambda vf: st.tuples(st.just(vf[0]), query("media", 2).map(lambda q: {"extract": f"{vf[1]}:", "query": q})))
any_queries = st.sampled_from(["user", "media", "hashtag", "place"]).flatmap(lambda v: st.tuples(st.just(v), query(v)))
steps = st.lists(st.tuples(events(24), st.lists(st.tuples(st.one_of(extract_queries, any_queries),
                                                           st.none() | USER_IDS), max_size=4)),
                 min_size=2, max_size=5)


@pytest.fixture(params=["incremental", "reload"])
def columns_mode(request, monkeypatch):
    monkeypatch.setattr(LinkColumns, "WIDTH", {"hashtag": 1, "mention": 1})
    monkeypatch.setattr(LinkColumns, "ROW_MAX", 2)  # larger ids overflow, as ids past int32 do
    if request.param == "reload":  # every generation's records pruned at once: readers reload whole columns
        monkeypatch.setattr(columns, "RANKDIRTY_KEEP", 0)
        monkeypatch.setattr(reads, "LOAD_ROWS", 2)  # loaded two stored rows at a time
    return request.param


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=steps)
def test_columns_follow_every_batch(columns_mode, steps):
    platform = Platform()
    with tempfile.TemporaryDirectory() as tmp:
        index = Index(tmp)
        try:
            engine = Engine(index)
            for history, searches in steps:
                with index.writer() as batch:
                    slip = Slipstream(batch)
                    for event in history:
                        slip.apply(event)
                        platform.apply(event)
                with index.reader() as view:
                    assert_columns_match_documents(view, columns_mode)
                for (vertical, q), viewer in searches:
                    got = engine.search(vertical, q, viewer, limit=5, explain=True, timeout_ms=60_000)
                    model = QueryModel(platform, viewer, 5)
                    ids, total, _ = model.search(vertical, q)
                    context = f"{vertical} {q} viewer={viewer} ({columns_mode})"
                    assert [r["id"] for r in got.results] == [str(i) for i in ids], context
                    assert got.total == total, context
                    for r, ident in zip(got.results, ids):
                        assert_why_holds(model, vertical, ident, r["why"], context)
        finally:
            index.close()


def assert_columns_match_documents(view, mode: str) -> None:
    """Every live media's link columns equal its stored links; every live document's rank count its count."""
    links = view.link_columns()
    for media in view.posting("media", "_live"):
        stored = view.links(media)
        for field, slot in FIELDS.items():
            expected = stored[slot] if isinstance(stored[slot], list) else [stored[slot]] if stored[slot] >= 0 else []
            assert links.of(field, media) == expected, (field, media, mode)
    for vertical, count in [("user", "followers_count"), ("media", "like_count"), ("hashtag", "media_count"),
                            ("place", "media_count")]:
        ranks = view.rank(vertical)
        for iid in view.posting(vertical, "_live"):
            assert ranks.count[iid] == view.doc(vertical, iid)[count], (vertical, iid, mode)
