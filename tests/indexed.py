"""An index built through Slipstream and the model platform, after the same events."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from indexer.store import Index
from slipstream import Slipstream
from tests.model.platform import Platform


@contextmanager
def indexed(history: list[dict]) -> Iterator[tuple[Index, Platform]]:
    platform = Platform()
    with tempfile.TemporaryDirectory() as tmp:
        index = Index(tmp)
        try:
            with index.writer() as batch:
                slip = Slipstream(batch)
                for event in history:
                    slip.apply(event)
                    platform.apply(event)
            yield index, platform
        finally:
            index.close()
