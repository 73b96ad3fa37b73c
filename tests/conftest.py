"""Test-wide settings and the suite's own leak check.

Hypothesis profiles (chosen with `HYPOTHESIS_PROFILE`, default `ci`):

- `ci`: deterministic. Every clean run draws the same examples (`derandomize=True`, no example
  database), a failure prints its reproduction blob, and there are no per-example deadlines on
  this shared, noisy machine. `python -m pytest` runs this.
- `explore`: random examples, ten times each test's own `max_examples` (1,000 where a test sets
  none), with the example database kept so that a failure found once is replayed first next time:

      HYPOTHESIS_PROFILE=explore python -m pytest -p no:cacheprovider tests/

At the end of the session the suite checks that it leaked nothing: no child process of the
test run is still alive (also daemons that left the process tree but run inside the suite's
temporary directory or pytest's `tmp_path` base), and no temporary file or directory made by a
test is left. Every test runs with `TMPDIR` (and `tempfile.tempdir`) pointing at one directory per
session; pytest's own `tmp_path` base is made before that, and pytest removes the `tmp_path` of
every test that passed (`tmp_path_retention_policy = "failed"` in pyproject.toml): a green run
leaves nothing behind, a failed test keeps its directory for a look.

The real-server fixtures (`postgres`, `pg_dsn`, `tansu`) come from tests/pg.py and tests/brokers.py.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

pytest_plugins = ["tests.pg", "tests.brokers"]

settings.register_profile(
    "ci", derandomize=True, print_blob=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore", derandomize=False, print_blob=True, deadline=None, max_examples=1000,
    phases=list(Phase), suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


EXPLORE_FACTOR = 10


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if settings.default.derandomize:
        return
    for item in items:
        test = getattr(item, "function", None)
        own = getattr(test, "_hypothesis_internal_use_settings", None)
        if own is not None and own.max_examples < settings.default.max_examples:
            test._hypothesis_internal_use_settings = settings(own, max_examples=own.max_examples * EXPLORE_FACTOR)


def descendants(root: int) -> list[tuple[int, str]]:
    """Live (non-zombie) descendants of process `root`: (pid, command line)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state != "Z":
            parents[int(entry.name)] = int(ppid)
    found, frontier = [], {root}
    while frontier:
        children = {pid for pid, ppid in parents.items() if ppid in frontier}
        found += children
        frontier = children
    return [(pid, command_line(pid)) for pid in sorted(found)]


def processes_mentioning(text: str) -> list[tuple[int, str]]:
    """Processes whose command line or working directory lies under `text` (daemons that left our tree)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        cmd = command_line(int(entry.name))
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            cwd = ""
        if text in cmd or cwd.startswith(text):
            found.append((int(entry.name), cmd))
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    config._tmp_path_factory.getbasetemp()  # pytest's tmp_path base stays where pytest keeps it
    session_tmp = tempfile.mkdtemp(prefix="unicorn-tests-")
    config.stash[SESSION_TMP] = (session_tmp, os.environ.get("TMPDIR"))
    os.environ["TMPDIR"] = session_tmp
    tempfile.tempdir = session_tmp


SESSION_TMP = pytest.StashKey[tuple[str, "str | None"]]()


def own_resource_tracker(pid: int, cmd: str) -> bool:
    """This interpreter's multiprocessing resource tracker: started on the first use of a spawn
    context (bench's process pool, run in-process by a test), it exits with this interpreter."""
    try:
        ppid = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return False
    return ppid == os.getpid() and "from multiprocessing.resource_tracker import main" in cmd


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if SESSION_TMP not in session.config.stash:
        return
    session_tmp, saved_tmpdir = session.config.stash[SESSION_TMP]
    problems = [f"child process left running: {pid} {cmd}" for pid, cmd in descendants(os.getpid())
                if not own_resource_tracker(pid, cmd)]
    for where in (session_tmp, str(session.config._tmp_path_factory.getbasetemp())):
        problems += [f"process left running in the suite's temp dir: {pid} {cmd}"
                     for pid, cmd in processes_mentioning(where)]
    problems += [f"temporary path left behind: {path}" for path in sorted(Path(session_tmp).iterdir())]
    tempfile.tempdir = None
    if saved_tmpdir is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = saved_tmpdir
    shutil.rmtree(session_tmp, ignore_errors=True)
    if problems:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "the test session leaked:\n  " + "\n  ".join(problems)
        if reporter is not None:
            reporter.write_sep("=", "LEAKS", red=True)
            reporter.write_line(message)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
