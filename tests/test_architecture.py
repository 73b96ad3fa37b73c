"""The house in ARCHITECTURE.md holds: imports run only down the data flow, and no module cycles.

import-linter runs in its own process: in-process it reconfigures logging for the rest of the session."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_imports_follow_the_house():
    linted = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                             "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True))"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert "3 kept, 0 broken" in linted.stdout
