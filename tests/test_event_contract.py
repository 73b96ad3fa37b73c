"""SPEC §2: unknown fields are ignored, at the top of an event and inside its entity."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from firehose.events import validate
from tests.indexed import indexed
from tests.strategies import events
from tests.test_indexer_daemon import index_state

extra = st.dictionaries(st.sampled_from(["color", "extra", "v2", "client", "trace_id"]),
                        st.one_of(st.integers(), st.text(max_size=5), st.none(), st.lists(st.integers(), max_size=2)),
                        min_size=1, max_size=3)


def with_unknown_fields(event: dict, top: dict, inner: dict) -> dict:
    out = {**event, **top}
    for entity in ("user", "media", "place"):
        if isinstance(event.get(entity), dict):
            out[entity] = {**event[entity], **inner}
    return out


@settings(max_examples=40)
@given(history=events(40), top=extra, inner=extra)
def test_unknown_fields_change_nothing(history, top, inner):
    noisy = [validate(with_unknown_fields(e, top, inner)) for e in history]
    with indexed(history) as (plain, _), indexed(noisy) as (decorated, _):
        assert index_state(decorated) == index_state(plain)
