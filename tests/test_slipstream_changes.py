"""Slipstream's changes for index shards (slipstream/changes.py): a shard that applies the changes of
its partitions holds exactly the documents of its shard, with every posting, document and link
they have in one index built from the same events, however the batches were cut, and when a batch's
changes are delivered twice."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firehose.events import validate
from indexer.store import Index
from slipstream import Slipstream
from slipstream import changes
from slipstream.changes import Recorder, apply_changes
from tests.strategies import events
from vocabulary import terms
from vocabulary.schema import VERTICALS
from vocabulary.shards import document_shard, owned

SHARDS, PARTITIONS = 3, 5


def contents(view, keep=lambda vertical, ext: True) -> dict:
    """Every posting (as external ids), live document and media link of an index, for the documents kept."""
    out = {}
    for vertical in VERTICALS:
        for term, bitmap in view.postings(vertical, ""):
            exts = {view.ext(vertical, iid) for iid in bitmap} - {None}
            exts = {e for e in exts if keep(vertical, e)}
            if exts:
                out[vertical, "posting", term] = exts
        for iid in view.posting(vertical, terms.LIVE):
            ext = view.ext(vertical, iid)
            if keep(vertical, ext):
                out[vertical, "doc", ext] = view.doc(vertical, iid)
                if vertical == "media":
                    owner, place, hashtags, mentions = view.links(iid)
                    out[vertical, "links", ext] = (view.ext("user", owner), None if place < 0 else view.ext("place", place),
                                                   [view.ext("hashtag", h) for h in hashtags],
                                                   [view.ext("user", u) for u in mentions])
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=events(), cuts=st.lists(st.integers(0, 80), max_size=4), repeat=st.integers(0, 4))
def test_shards_hold_exactly_their_documents_of_one_index(history, cuts, repeat):
    bounds = sorted({0, len(history), *(c for c in cuts if c < len(history))})
    with tempfile.TemporaryDirectory() as tmp:
        whole = Index(Path(tmp) / "whole")
        shards = [Index(Path(tmp) / f"shard{s}") for s in range(SHARDS)]
        try:
            for n, (start, end) in enumerate(zip(bounds, bounds[1:])):
                with whole.writer() as batch:
                    recorder = Recorder(batch)
                    slip = Slipstream(recorder)
                    for event in history[start:end]:
                        slip.apply(event)
                    records = list(recorder.encode(PARTITIONS))
                for s, shard in enumerate(shards):
                    mine = set(owned(s, SHARDS, PARTITIONS))
                    deliveries = 2 if n == repeat else 1  # one batch's changes arrive twice
                    for _ in range(deliveries):
                        with shard.writer() as batch:
                            for partition, payload in records:
                                if partition in mine:
                                    apply_changes(batch, payload)
            with whole.reader() as view:
                expected = [contents(view, lambda v, e, s=s: document_shard(v, e, SHARDS, PARTITIONS) == s)
                            for s in range(SHARDS)]
            for s, shard in enumerate(shards):
                with shard.reader() as view:
                    assert contents(view) == expected[s]
        finally:
            whole.close()
            for shard in shards:
                shard.close()


def test_a_user_with_the_id_of_a_relinked_media_is_applied_as_a_user(tmp_path):
    """A batch's change flags say which media were relinked: a user of the same external id is
    not one of them, and a shard applies its document."""
    history = [validate(event) for event in (
        {"op": "user.upsert", "ts": 1, "user": {"id": 5, "username": "five"}},
        {"op": "media.upsert", "ts": 2, "media": {"id": 5, "owner": 5, "caption": "hi", "taken_at": 2}},
    )]
    whole, shard = Index(tmp_path / "whole"), Index(tmp_path / "shard")
    try:
        with whole.writer() as batch:
            recorder = Recorder(batch)
            slip = Slipstream(recorder)
            for event in history:
                slip.apply(event)
            records = list(recorder.encode(1))
        with shard.writer() as batch:
            for _, payload in records:
                apply_changes(batch, payload)
        with whole.reader() as view:
            expected = contents(view)
        with shard.reader() as view:
            assert contents(view) == expected
    finally:
        whole.close()
        shard.close()


def test_a_term_with_more_ids_than_a_record_holds_is_split_and_applies_the_same(tmp_path, monkeypatch):
    monkeypatch.setattr(changes, "CHUNK", 4)
    first = [validate({"op": "user.upsert", "ts": 1, "user": {"id": u, "username": f"u{u}"}}) for u in range(1, 12)]
    second = [validate({"op": "user.delete", "ts": 2, "id": u}) for u in range(1, 7)]
    whole, shard = Index(tmp_path / "whole"), Index(tmp_path / "shard")
    try:
        for history in (first, second):
            with whole.writer() as batch:
                recorder = Recorder(batch)
                slip = Slipstream(recorder)
                for event in history:
                    slip.apply(event)
                records = list(recorder.encode(1))
            with shard.writer() as batch:
                applied = [apply_changes(batch, payload) for _, payload in records]
            assert max(applied) <= 4 and sum(applied) == len(recorder)
        with whole.reader() as view:
            expected = contents(view)
        with shard.reader() as view:
            assert contents(view) == expected
    finally:
        whole.close()
        shard.close()
