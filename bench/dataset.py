"""The benchmark's dataset: the index of the generator's snapshot at (scale, seed), and its counts."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from bench.engine import build
from indexer.store import Index
from unicorn.query.rank import as_array
from vocabulary.terms import LIVE


def build_index(data: Path, scale: str, seed: int) -> tuple[Index, float | None]:
    """The index under DATA/index; the seconds taken when it was built now, None when it was reused."""
    path = data / "index"
    probe = Index(path)
    fresh = probe.offsets("bench") != {0: 1}
    probe.close()
    started = time.perf_counter()
    index = build(path, scale, seed)
    return index, (round(time.perf_counter() - started, 1) if fresh else None)


def dataset_stats(index: Index) -> dict:
    with index.reader() as view:
        live = {v: len(view.posting(v, LIVE)) for v in ("user", "media", "hashtag", "place")}
        follows = int(view.rank("user").count[rank_ids(view, "user")].sum())
        likes = int(view.rank("media").count[rank_ids(view, "media")].sum())
    return {"users": live["user"], "media": live["media"], "hashtags": live["hashtag"], "places": live["place"],
            "follows": follows, "likes": likes}


def rank_ids(view, vertical: str) -> np.ndarray:
    return as_array(view.posting(vertical, LIVE))
