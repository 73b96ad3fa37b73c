"""The house in ARCHITECTURE.md holds: imports run only down the data flow, and no module cycles; the
model of the contract (tests/model) imports nothing from the product.

import-linter runs in its own process: in-process it reconfigures logging for the rest of the session."""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_imports_follow_the_house():
    linted = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                             "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True))"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert "3 kept, 0 broken" in linted.stdout


def imported(path: Path) -> set[str]:
    """The absolute modules a file imports (relative imports stay inside its package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.add(node.module)
    return found


def test_the_model_imports_nothing_from_the_product():
    """tests/model is the contract written again in plain Python: a bug of the product's cannot reach
    the expectation through an import (the product's packages are import-linter's root packages)."""
    product = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"])
    files = sorted((ROOT / "tests" / "model").glob("*.py"))
    assert len(files) >= 4
    for path in files:
        for module in imported(path):
            top = module.split(".")[0]
            assert top not in product, f"{path.name} imports {module}"
            assert top != "tests" or module.startswith("tests.model"), f"{path.name} imports {module}"
