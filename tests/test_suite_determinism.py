"""The suite's Hypothesis profile (tests/conftest.py) is deterministic: two fresh processes draw the
same examples, and the profile keeps no example database and prints reproduction blobs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
DRAW = """
import tests.conftest
from hypothesis import given, settings
from tests.strategies import events
drawn = []
@settings(max_examples=20)
@given(events(20))
def record(stream):
    drawn.append(stream)
record()
print(repr(drawn))
"""


def test_the_ci_profile_is_loaded():
    if os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci":
        assert settings.default.derandomize and settings.default.print_blob
        assert settings.default.database is None and settings.default.deadline is None


def test_two_fresh_processes_draw_the_same_examples():
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_PROFILE"}
    runs = [subprocess.run([sys.executable, "-c", DRAW], capture_output=True, text=True, check=True, cwd=ROOT,
                           env=env, timeout=120).stdout for _ in range(2)]
    assert runs[0] == runs[1] and runs[0].count("'op'") > 20
