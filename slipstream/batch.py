"""What Slipstream needs of the index it writes into: one open write batch (the indexer's `WriteBatch`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from pyroaring import BitMap


class Batch(Protocol):
    def iid(self, vertical: str, ext: int | str) -> int | None:
        """The internal id of an external id, None when it was never referenced."""

    def intern(self, vertical: str, ext: int | str) -> int:
        """The internal id of an external id, allocated on first reference."""

    def posting(self, vertical: str, term: str) -> BitMap:
        """The term's posting list as of this batch (read-only for the caller)."""

    def add(self, vertical: str, term: str, iid: int) -> None: ...

    def add_terms(self, vertical: str, terms: Iterable[str], iid: int) -> None:
        """`add` of `iid` to each of `terms`."""

    def remove(self, vertical: str, term: str, iid: int) -> None: ...

    def doc(self, vertical: str, iid: int) -> dict | None: ...

    def put_doc(self, vertical: str, iid: int, doc: dict) -> None: ...

    def delete_doc(self, vertical: str, iid: int) -> None: ...

    def ext(self, vertical: str, iid: int) -> int | str:
        """The external id of an internal one."""

    def set_links(self, iid: int, links: tuple[int, int, list[int], list[int]] | None) -> None:
        """A media document's links (owner, place or -1, hashtags, mentions), as internal ids; None: none."""

    def is_live(self, vertical: str, iid: int) -> bool: ...

    def time(self, key: bytes) -> int | None:
        """The event time stored under an edge or tombstone key."""

    def set_time(self, key: bytes, ts: int | None) -> None: ...

    def stamp_time(self, key: bytes, ts: int) -> None:
        """Set the time under an edge key unless a time as new or newer is stored."""

    def cut_time(self, key: bytes, ts: int) -> bool:
        """Remove the time under an edge key when it is older than `ts` (none stored counts as
        older); whether it was older."""

    def remove_many(self, vertical: str, term: str, iids: list[int]) -> None: ...
