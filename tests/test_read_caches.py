"""What readers keep beside the index (indexer/store): the generation memo of posting lists and the hashtag
name column. Each must answer exactly what the index holds at the reading view's generation."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.store import Index
from indexer.store.columns import NameColumn


def test_views_of_each_generation_read_their_own_postings(tmp_path):
    """A view opened before a batch keeps reading the older lists while newer views read the newer ones,
    whichever generation read a list first."""
    index = Index(tmp_path / "index")
    try:
        with index.writer() as batch:
            batch.add("user", "name:jo", 1)
        old = index.reader()
        try:
            assert list(old.posting("user", "name:jo")) == [1]
            with index.writer() as batch:
                batch.add("user", "name:jo", 2)
                batch.add("user", "name:al", 3)
            with index.reader() as new:
                assert list(new.posting("user", "name:jo")) == [1, 2]
                assert list(new.posting("user", "name:al")) == [3]
            assert list(old.posting("user", "name:jo")) == [1]
            assert list(old.posting("user", "name:al")) == []
            with index.reader() as new:
                assert list(new.posting("user", "name:al")) == [3]
        finally:
            old.close()
    finally:
        index.close()


def test_memo_starts_over_past_its_bytes(tmp_path):
    index = Index(tmp_path / "index", cache_bytes=64)  # a memo of 16 bytes: every list read starts it over
    try:
        with index.writer() as batch:
            for n in range(40):
                batch.add("user", f"name:n{n}", n)
        with index.reader() as view:
            for _ in range(2):
                for n in range(40):
                    assert list(view.posting("user", f"name:n{n}")) == [n]
    finally:
        index.close()


names = st.text(st.sampled_from("ab#é_1"), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(names, max_size=30, unique=True), max_size=6), st.sampled_from([1, 64]))
def test_name_column_ranks_every_name(batches, reorder_share):
    """After each extension, `order` ranks every id by its name (both ways of extending: ranked again, or one
    name inserted at a time)."""
    column = NameColumn()
    column.REORDER_SHARE = reorder_share
    seen: list[str] = []
    for batch in batches:
        fresh = [name for name in batch if name not in seen]
        column.extend([(len(seen) + i, name) for i, name in enumerate(fresh)])
        seen += fresh
        assert column.name.tolist() == seen
        by_name = sorted(range(len(seen)), key=seen.__getitem__)
        assert [int(column.order[i]) for i in by_name] == list(range(len(seen)))
