"""Composition of a serving engine over a data directory."""

from __future__ import annotations

from pathlib import Path

from indexer.store import Index
from unicorn.engine import Engine
from vocabulary import paths


def open_engine(data: Path) -> Engine:
    """The engine (the Searcher) over the index under `data`."""
    return Engine(Index(paths.index(data)))
