"""Composition of a serving engine over a data directory."""

from __future__ import annotations

from pathlib import Path

from indexer.store import Index
from unicorn.engine import Engine
from vocabulary import paths


def open_engine(data: Path) -> Engine:
    """An engine over the index under `data`, with every ranker (static and social)."""
    from unicorn.typeahead import rankers

    return Engine(Index(paths.index(data)), rankers=rankers())
