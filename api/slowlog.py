"""The slow-query log: a request still running after `threshold_ms` is logged with its query and
a snapshot of its thread's stack; when it ends, its total time is logged too.

A watchdog thread looks at the requests in flight every threshold/4 (at least 1 ms) and ends
when none is left (the next request starts another); work is registered from the thread that does
it (`with slow.watch("typeahead q=...")`).
"""

from __future__ import annotations

import itertools
import logging
import sys
import threading
import time
import traceback
from contextlib import contextmanager

log = logging.getLogger("unicorn.slow")


class SlowLog:
    def __init__(self, threshold_ms: float) -> None:
        self.threshold = threshold_ms / 1000.0
        self._running: dict[int, tuple[str, int, float]] = {}  # ticket -> (what, thread id, started)
        self._reported: set[int] = set()
        self._tickets = itertools.count()
        self._lock = threading.Lock()
        self._watchdog: threading.Thread | None = None

    @contextmanager
    def watch(self, what: str):
        ticket = next(self._tickets)
        started = time.perf_counter()
        with self._lock:
            self._running[ticket] = (what, threading.get_ident(), started)
            if self._watchdog is None:
                self._watchdog = threading.Thread(target=self._watch, name="slow-query-log", daemon=True)
                self._watchdog.start()
        try:
            yield
        finally:
            took = time.perf_counter() - started
            with self._lock:
                del self._running[ticket]
                self._reported.discard(ticket)
            if took >= self.threshold:
                log.warning("slow request %.1f ms: %s", took * 1000, what)

    def _watch(self) -> None:
        pause = max(self.threshold / 4, 0.001)
        while True:
            time.sleep(pause)
            now = time.perf_counter()
            with self._lock:
                if not self._running:
                    self._watchdog = None
                    return
                late = [(t, what, thread) for t, (what, thread, started) in self._running.items()
                        if now - started >= self.threshold and t not in self._reported]
                self._reported.update(t for t, _, _ in late)
            frames = sys._current_frames()
            for _, what, thread in late:
                frame = frames.get(thread)
                stack = "".join(traceback.format_stack(frame)) if frame is not None else "(finished)\n"
                log.warning("request past %.0f ms: %s\n%s", self.threshold * 1000, what, stack)
