"""Micro-benchmarks of query primitives (pytest-benchmark; seconds in all). Not part of the test
run (pyproject's `python_files` takes only test_*.py); run them by naming the file:

    python3 -m pytest tests/bench_engine.py -q -n 0 --benchmark-enable   # in one process: pytest-benchmark measures nothing under xdist
"""

from __future__ import annotations

import numpy as np
import pytest
from pyroaring import BitMap

from unicorn.query import rank
from unicorn.query.parse import parse
from unicorn.query.typecheck import check

N = 1_000_000
QUERY = ("(and (term name:jo) (weak-and (term is:verified) (term follower:42 :optional-hits 5) "
         "(apply following: (or (term following:7) (term following:\"8\"))) :optional-weight 0.3) "
         "(difference (term name:\"o'neil\") (term is:private)))").replace(":optional-weight 0.3)", ")")


def test_parse_and_typecheck(benchmark):
    node = benchmark(lambda: check(parse(QUERY), "user"))
    assert node.operands[0].value == "jo"


@pytest.fixture(scope="module")
def bitmaps():
    rng = np.random.default_rng(0)
    return [BitMap(np.unique(rng.integers(0, N, size)).astype(np.uint32)) for size in (500_000, 50_000, 5_000)]


def test_and_of_three_bitmaps(benchmark, bitmaps):
    result = benchmark(lambda: bitmaps[2] & bitmaps[1] & bitmaps[0])
    assert set(result) == set(bitmaps[2]) & set(bitmaps[1]) & set(bitmaps[0])


def test_or_of_three_bitmaps(benchmark, bitmaps):
    result = benchmark(lambda: BitMap.union(*bitmaps))
    assert len(result) == len(set().union(*map(set, bitmaps)))


def test_top_20_of_a_million_media(benchmark):
    """A hashtag with a million media: top 20 by likes desc, taken_at desc, id desc."""
    rng = np.random.default_rng(1)
    likes = rng.zipf(2.0, N).astype(np.int64) - 1  # mostly 0: a huge boundary group
    taken = rng.integers(0, 1000, N).astype(np.int64)
    ext = rng.permutation(N).astype(np.uint64)
    levels = [np.invert(likes).__getitem__, np.invert(taken).__getitem__, np.invert(ext).__getitem__]
    ids = rank.as_array(BitMap(range(N)))
    best = benchmark(lambda: rank.select(ids, levels, 20))
    expected = np.lexsort((np.invert(ext), np.invert(taken), np.invert(likes)))[:20]
    assert best.tolist() == expected.tolist()


# The follow graph (unicorn.graph) at the size of scale M: 100k users, ~5M follows (out-degrees as
# the generator draws them). A viewer's 2-hop counts over F followees, each way it can be done.

USERS = 100_000


@pytest.fixture(scope="module")
def follow_graph():
    from unicorn.graph import Base

    rng = np.random.default_rng(2)
    degrees = np.minimum(rng.lognormal(np.log(54) - 0.5, 1.0, USERS).astype(np.int64), USERS - 1)
    rows = {u: np.unique(rng.integers(0, USERS, d)).astype(np.uint32) for u, d in enumerate(degrees) if d}
    return Base.of_rows(1, rows), rows


def viewer_followees(size: int) -> BitMap:
    return BitMap(np.sort(np.random.default_rng(size).choice(USERS, size, replace=False)).astype(np.uint32))


def loop_gather(base, followees: BitMap) -> np.ndarray:
    """A slice per followee, concatenated."""
    return np.concatenate([base.row(f) for f in followees])


@pytest.mark.parametrize("size", [50, 1000, 3000])
@pytest.mark.parametrize("how", ["vectorized gather + unique", "vectorized gather + bincount", "slice loop + unique",
                                 "roaring union (hop ids only, no counts)"])
def test_two_hop_counts(benchmark, follow_graph, size, how):
    from pyroaring import FrozenBitMap

    from unicorn.graph import Snapshot

    base, rows = follow_graph
    snapshot, followees = Snapshot(1, base), viewer_followees(size)
    expected = np.unique(loop_gather(base, followees), return_counts=True)
    if how.startswith("roaring"):
        bitmaps = {f: FrozenBitMap(rows.get(f, [])) for f in followees}
        ids = benchmark(lambda: FrozenBitMap.union(*bitmaps.values()))
        assert rank.as_array(ids).tolist() == expected[0].tolist()
        return
    gather = (lambda: loop_gather(base, followees)) if how.startswith("slice") else (
        lambda: snapshot.gather(None, followees))
    if how.endswith("bincount"):
        def count():
            counts = np.bincount(gather())
            ids = np.flatnonzero(counts)
            return ids, counts[ids]
    else:
        def count():
            return np.unique(gather(), return_counts=True)
    ids, counts = benchmark(count)
    assert ids.tolist() == expected[0].tolist() and counts.tolist() == expected[1].tolist()
