"""The exact static order (docs/query-language.md) and top-K selection without sorting whole sets.

| vertical | order |
| user     | followers_count desc, id asc |
| media    | like_count desc, taken_at desc, id desc |
| hashtag  | media_count desc, name asc |
| place    | media_count desc, id asc |

Each vertical's order is a list of levels, each an array over internal ids where smaller is
better (descending keys are bit-inverted, which is monotone and cannot overflow). `top_k`
partitions on the first level, keeps everything strictly better than the K-th key, and resolves
only the boundary group (the ids equal to the K-th key) by the next level, recursively. Hashtag
names, the last hashtag level, are their places in name order (`ReadView.hashtag_names`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from pyroaring import AbstractBitMap, BitMap

Level = Callable[[np.ndarray], np.ndarray]


def as_array(ids: AbstractBitMap) -> np.ndarray:
    return np.frombuffer(ids.to_array(), dtype=np.uint32)


def _desc(column: np.ndarray) -> Level:
    return lambda ids: np.invert(column[ids])


def levels(view, vertical: str) -> list[Level]:
    cols = view.rank(vertical)
    if vertical == "media":
        return [_desc(cols.count), _desc(cols.taken_at), _desc(cols.ext_id)]
    if vertical == "hashtag":
        return [_desc(cols.count), view.hashtag_names().order.__getitem__]
    return [_desc(cols.count), cols.ext_id.__getitem__]


def sort_keys(view, vertical: str, ids: np.ndarray) -> list[tuple]:
    """Each id's static order as a key of external values, ascending = better, comparable across indexes:
    user (-followers, id), media (-likes, -taken_at, -id), hashtag (-media_count, name), place (-media_count, id)."""
    cols = view.rank(vertical)
    counts = [-c for c in cols.count[ids].tolist()]
    if vertical == "media":
        return list(zip(counts, [-t for t in cols.taken_at[ids].tolist()], [-e for e in cols.ext_id[ids].tolist()]))
    if vertical == "hashtag":
        return list(zip(counts, view.hashtag_names().name[ids].tolist()))
    return list(zip(counts, cols.ext_id[ids].tolist()))


def ranked(view, vertical: str, ids: AbstractBitMap, k: int) -> list[tuple[int, float, tuple]]:
    """The best `k` in static order: (internal id, score, sort key), the score being the leading count."""
    best = top_k(view, vertical, ids, k)
    scores = view.rank(vertical).count[best].astype(float).tolist()
    return list(zip(best.tolist(), scores, sort_keys(view, vertical, best)))


def _sorted(ids: np.ndarray, lv: list[Level]) -> np.ndarray:
    if len(ids) <= 1:
        return ids
    keys = [level(ids) for level in lv]
    return ids[np.lexsort(keys[::-1])]


def select(ids: np.ndarray, lv: list[Level], k: int) -> np.ndarray:
    if k <= 0:
        return ids[:0]
    if len(ids) <= k or len(lv) == 1:
        return _sorted(ids, lv)[:k]
    key = lv[0](ids)
    kth = np.partition(key, k - 1)[k - 1]
    better = ids[key < kth]
    tied = ids[key == kth]
    head = _sorted(better, lv)
    return np.concatenate([head, select(tied, lv[1:], k - len(head)) if len(lv) > 1 else tied[: k - len(head)]])


def top_k(view, vertical: str, ids: AbstractBitMap | np.ndarray, k: int) -> np.ndarray:
    """The best `k` internal ids of `ids` in static order, best first."""
    arr = ids if isinstance(ids, np.ndarray) else as_array(ids)
    return select(arr, levels(view, vertical), k).astype(np.uint32, copy=False)


def walk(view, vertical: str, ids: AbstractBitMap, chunk: int = 64) -> Iterator[int]:
    """All of `ids` in static order, best first, selecting a doubling chunk at a time."""
    lv = levels(view, vertical)
    rest = BitMap(ids)
    while rest:
        head = select(as_array(rest), lv, chunk)
        yield from head.tolist()
        rest.difference_update(BitMap(head.tolist()))
        chunk *= 2
