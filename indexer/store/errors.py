"""What the store raises: its own errors, never LMDB's. Every method that calls LMDB is
`@raises_store_errors` (or translates in place); callers catch StoreError and its kinds."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import lmdb

NEARLY_FULL = 64 << 20  # free bytes under which an LMDB I/O error is reported as a full disk


class StoreError(RuntimeError):
    """The index store failed; the message names the cause."""


class StorageFull(StoreError):
    """The disk is full or the index reached its map size; the write failed and left nothing behind."""


class IndexNotFound(StoreError):
    """There is no index at the path, or it is still being created."""


class IndexIncompatible(StoreError):
    """The index at the path was written with another schema version."""


class Unstorable(StoreError):
    """A key or value the store cannot hold: what was written is at fault, not the machine."""


def translated(exc: lmdb.Error, path: Path) -> StoreError:
    """The store's error for an LMDB error met at `path`, a full disk named as such."""
    raw = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, lmdb.MapFullError):
        return StorageFull(f"the index reached its LMDB map size ({raw})")
    if isinstance(exc, lmdb.BadValsizeError):
        return Unstorable(raw)
    try:
        fs = os.statvfs(path)
    except OSError:
        return StoreError(raw)
    free = fs.f_bavail * fs.f_frsize
    if free < NEARLY_FULL:  # LMDB reports a short write on a full disk as an I/O error
        return StorageFull(f"no space left on device: {free:,} bytes free on {path} ({raw})")
    return StoreError(raw)


Method = TypeVar("Method", bound=Callable[..., Any])


def raises_store_errors(method: Method) -> Method:
    """A method (or generator method) of an object with an `_env` whose LMDB errors leave as StoreError."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(self, *args, **kwargs):
            try:
                yield from method(self, *args, **kwargs)
            except lmdb.Error as exc:
                raise translated(exc, self._env.path) from exc

        return generator  # type: ignore[return-value]

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except lmdb.Error as exc:
            raise translated(exc, self._env.path) from exc

    return call  # type: ignore[return-value]
