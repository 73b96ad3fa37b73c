"""Reader-side numpy columns of an index, refreshed per generation from `{v}.rankdirty`
(ARCHITECTURE.md): static-order fields per vertical, and the media's links."""

from __future__ import annotations

import array
import bisect

import numpy as np
from pyroaring import AbstractBitMap, BitMap

RANKDIRTY_KEEP = 4096  # generations of document changes kept for incremental reader refresh
UNIQUE_SHARE = 4  # target_counts sorts below one found id per this many possible ids, else counts them all
UNNAMED = 2**62  # NameColumn.order of an id without a name: after every name


class RankColumns:
    """Static-order fields per internal id, as numpy columns (docs/query-language.md static order).

    `count` leads the order of every vertical; `taken_at` breaks media ties; `ext_id` is the
    external id (0 for hashtags, whose ties break by name via `ReadView.ext`).
    """

    def __init__(self) -> None:
        self.gen = -1
        self.count = np.zeros(0, dtype=np.int64)
        self.taken_at = np.zeros(0, dtype=np.int64)
        self.ext_id = np.zeros(0, dtype=np.uint64)

    def reserve(self, size: int) -> None:
        """Room for the internal ids below `size`."""
        if size <= len(self.count):
            return
        capacity = max(size, 2 * len(self.count), 1024)
        for name in ("count", "taken_at", "ext_id"):
            old = getattr(self, name)
            new = np.zeros(capacity, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def set(self, iid: int, rank: tuple[int, int, int] | None) -> None:
        """The row of `iid` from its stored rank; None clears it."""
        count, taken_at, ext = rank if rank is not None else (0, 0, 0)
        self.count[iid] = count
        self.taken_at[iid] = taken_at
        self.ext_id[iid] = ext

    def load(self, rows: list[tuple[int, tuple[int, int, int]]]) -> None:
        """Fill empty columns with every stored (iid, rank) at once (a full reload)."""
        if not rows:
            return
        iids = np.fromiter((iid for iid, _ in rows), dtype=np.int64, count=len(rows))
        self.reserve(int(iids.max()) + 1)
        self.count[iids] = np.fromiter((r[0] for _, r in rows), dtype=np.int64, count=len(rows))
        self.taken_at[iids] = np.fromiter((r[1] for _, r in rows), dtype=np.int64, count=len(rows))
        self.ext_id[iids] = np.fromiter((r[2] for _, r in rows), dtype=np.uint64, count=len(rows))


class NameColumn:
    """Every id's external name by internal id, and each name's place in name order (`order`: the
    vertical's names' ranks, ascending by name), for hashtags, whose static order breaks ties by name. An
    internal id's external id never changes, so each is read once and the columns only grow; a new name
    shifts the ranks after its own (a new array: readers holding the old one keep a consistent order)."""

    REORDER_SHARE = 64  # new names inserted one by one up to one per this many known, else all ranked again

    def __init__(self) -> None:
        self.gen = -1
        self.name = np.zeros(0, dtype=object)
        self.order = np.zeros(0, dtype=np.int64)
        self._sorted: list[str] = []

    def extend(self, named: list[tuple[int, str]]) -> None:
        """(internal id, name) of ids from len(self.name) on, ascending."""
        if not named:
            return
        size = named[-1][0] + 1
        name = np.full(size, None, dtype=object)
        name[: len(self.name)] = self.name
        order = np.full(size, UNNAMED, dtype=np.int64)
        order[: len(self.order)] = self.order
        if len(named) * self.REORDER_SHARE > len(self._sorted):
            for iid, ext in named:
                name[iid] = ext
            known = np.flatnonzero(name != None)  # noqa: E711 (elementwise)
            by_name = known[np.argsort(name[known], kind="stable")]
            order[by_name] = np.arange(len(by_name))
            self._sorted = name[by_name].tolist()
        else:
            for iid, ext in named:
                name[iid] = ext
                at = bisect.bisect_left(self._sorted, ext)
                self._sorted.insert(at, ext)
                order[(order >= at) & (order != UNNAMED)] += 1
                order[iid] = at
        self.name, self.order = name, order


class LinkColumns:
    """Media links per internal media id, as numpy columns (`extract` reads these, not msgpack).

    `owner` and `place` hold one internal id or -1. `hashtag` and `mention` are int32 rows of up to
    `WIDTH[field]` ids padded with -1; a media with more, or with an id past int32, keeps its whole
    list in `overflow[field]` instead.
    """

    WIDTH = {"hashtag": 8, "mention": 2}
    ROW_MAX = 2**31 - 1

    def __init__(self) -> None:
        self.gen = -1
        self.owner = np.full(0, -1, dtype=np.int64)
        self.place = np.full(0, -1, dtype=np.int64)
        self.hashtag = np.full((0, self.WIDTH["hashtag"]), -1, dtype=np.int32)
        self.mention = np.full((0, self.WIDTH["mention"]), -1, dtype=np.int32)
        self.overflow: dict[str, dict[int, list[int]]] = {"hashtag": {}, "mention": {}}
        self.overflowing: dict[str, BitMap] = {"hashtag": BitMap(), "mention": BitMap()}

    def reserve(self, size: int) -> None:
        """Room for the internal ids below `size`."""
        if size <= len(self.owner):
            return
        capacity = max(size, 2 * len(self.owner), 1024)
        for name in ("owner", "place", "hashtag", "mention"):
            old = getattr(self, name)
            new = np.full((capacity, *old.shape[1:]), -1, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def set(self, iid: int, links: list | None) -> None:
        """The row of media `iid` from its stored links; None clears it."""
        owner, place, hashtags, mentions = links if links is not None else (-1, -1, [], [])
        self.owner[iid] = owner
        self.place[iid] = place
        for name, ids in (("hashtag", hashtags), ("mention", mentions)):
            row = getattr(self, name)[iid]
            row[:] = -1
            if len(ids) <= self.WIDTH[name] and all(i <= self.ROW_MAX for i in ids):
                row[: len(ids)] = ids
                if iid in self.overflowing[name]:
                    del self.overflow[name][iid]
                    self.overflowing[name].discard(iid)
            else:
                self.overflow[name][iid] = list(ids)
                self.overflowing[name].add(iid)

    def load(self, rows: list[tuple[int, list]]) -> None:
        """Fill empty columns with every stored (iid, links) at once (a full reload): what `set` does row by
        row, with one numpy assignment per column."""
        if not rows:
            return
        iids = np.fromiter((iid for iid, _ in rows), dtype=np.int64, count=len(rows))
        self.reserve(int(iids.max()) + 1)
        self.owner[iids] = np.fromiter((links[0] for _, links in rows), dtype=np.int64, count=len(rows))
        self.place[iids] = np.fromiter((links[1] for _, links in rows), dtype=np.int64, count=len(rows))
        for at, name in ((2, "hashtag"), (3, "mention")):
            width, cells, values = self.WIDTH[name], [], []
            for row, (iid, links) in enumerate(rows):
                ids = links[at]
                if not ids:
                    continue
                if len(ids) <= width and max(ids) <= self.ROW_MAX:
                    cells.extend(range(row * width, row * width + len(ids)))
                    values.extend(ids)
                else:
                    self.overflow[name][iid] = list(ids)
                    self.overflowing[name].add(iid)
            block = np.full((len(rows), width), -1, dtype=np.int32)
            block.reshape(-1)[np.asarray(cells, dtype=np.int64)] = np.asarray(values, dtype=np.int32)
            getattr(self, name)[iids] = block

    def targets(self, field: str, media: AbstractBitMap) -> list[int]:
        """The distinct internal ids that field `field` of the given media points to, ascending."""
        return list(self.target_set(field, media))

    def target_set(self, field: str, media: AbstractBitMap) -> BitMap:
        """The internal ids that field `field` of the given media points to."""
        found = self._found(field, media)
        return BitMap(array.array("I", found.astype(np.uint32).tobytes())) if len(found) else BitMap()

    def _found(self, field: str, media: AbstractBitMap) -> np.ndarray:
        """What field `field` of each of the given media points to, every pointer (int64, unordered)."""
        ids = np.frombuffer(media.to_array(), dtype=np.uint32)
        column = getattr(self, field)[ids[ids < len(self.owner)]]
        found = column[column >= 0].astype(np.int64, copy=False)
        if column.ndim == 2 and self.overflowing[field]:
            extra = [i for m in media & self.overflowing[field] for i in self.overflow[field][m]]
            found = np.concatenate([found, np.asarray(extra, dtype=np.int64)])
        return found

    def target_counts(self, field: str, media: AbstractBitMap) -> tuple[np.ndarray, np.ndarray]:
        """The distinct internal ids that field `field` of the given media points to, ascending,
        and for each how many of the media point to it."""
        found = self._found(field, media)
        if not len(found):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        if len(found) * UNIQUE_SHARE < int(found.max()):  # few: sort them rather than count into every id
            return np.unique(found, return_counts=True)
        counts = np.bincount(found)
        present = np.flatnonzero(counts)
        return present, counts[present]

    def pointing(self, field: str, media: AbstractBitMap, targets: AbstractBitMap) -> BitMap:
        """Those of `media` whose field `field` points to one of `targets`, ascending."""
        ids = np.frombuffer(media.to_array(), dtype=np.uint32)
        ids = ids[ids < len(self.owner)]
        wanted = np.zeros(targets.max() + 1 if targets else 1, dtype=bool)
        wanted[np.frombuffer(targets.to_array(), dtype=np.uint32)] = bool(targets)
        column = getattr(self, field)[ids]
        known = (column >= 0) & (column < len(wanted))
        hit = np.zeros(column.shape, dtype=bool)
        hit[known] = wanted[column[known]]
        found = BitMap(ids[hit.reshape(len(ids), -1).any(axis=1)].tolist())
        if column.ndim == 2 and self.overflowing[field]:
            for m in media & self.overflowing[field]:
                if any(t in targets for t in self.overflow[field][m]):
                    found.add(m)
        return found

    def of(self, field: str, media: int) -> list[int]:
        """What field `field` of one media points to."""
        if media >= len(self.owner):
            return []
        if field in self.overflow and media in self.overflowing[field]:
            return self.overflow[field][media]
        column = getattr(self, field)[media]
        return [int(i) for i in np.atleast_1d(column) if i >= 0]
