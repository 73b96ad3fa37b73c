"""Issue 17's rough edges of the console script, through `python -m console.cli` in subprocesses:
`serve` without keys warns, an unknown viewer sees what a user with no edges sees, `query`
prints a table with headers, and `bench` is a click command that needs the `bench` extra."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx

from tests.processes import stop_group, wait_for_line
from tests.test_cli_thin_path import EVENTS, search, unicorn
from unicorn.service import open_engine

ROOT = Path(__file__).resolve().parent.parent
PLATFORM = ROOT / "docs" / "examples" / "platform.jsonl"
KEY_VARIABLES = ("UNICORN_API_KEYS", "UNICORN_API_KEYS_FILE")
BENCH_OPTIONS = ("--scale", "--scenario", "--out", "--data", "--repeats", "--queries", "--relevance-pairs", "--seed")
# Importing matplotlib fails as it does where the package is not installed.
BLOCK_MATPLOTLIB = '''
import sys

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "matplotlib":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
'''


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def _serve_stderr(tmp_path: Path, env: dict) -> tuple[str, int]:
    """Start `unicorn serve` on a free port; return its stderr once uvicorn listens, and the port."""
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "console.cli", "serve", "--data", str(tmp_path / "data"),
                                 "--port", "0"], stdout=stdout, stderr=stderr, env=env, start_new_session=True)
    try:
        port = int(wait_for_line(err, r"Uvicorn running on http://127\.0\.0\.1:(\d+)", proc, 60).group(1))
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
        search_status = httpx.get(f"{url}/v1/typeahead?q=a", headers={"Authorization": "Bearer k"}, timeout=10)
        return err.read_text(), search_status.status_code
    finally:
        stop_group(proc)


def test_serve_without_any_key_starts_and_warns_on_stderr(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARIABLES}
    stderr, status = _serve_stderr(tmp_path, env)
    assert status == 401  # every API call is refused, as the warning says; /healthz answered
    warnings = [record for record in map(json.loads, stderr.splitlines()) if record["level"] == "WARNING"]
    assert len(warnings) == 1
    assert all(name in warnings[0]["message"] for name in KEY_VARIABLES)
    assert "refused" in warnings[0]["message"]

    stderr, status = _serve_stderr(tmp_path, {**env, "UNICORN_API_KEYS": "k:admin"})
    assert status != 401 and "WARNING" not in stderr


def test_an_unknown_viewer_sees_what_a_user_without_edges_sees(tmp_path):
    """docs/privacy.md: an id that is no user (never seen, or deleted) follows and blocks nobody.

    The comparisons run on the engine `unicorn query` opens (unicorn.service.open_engine); the
    command itself is run for the answers that set an unknown viewer apart."""
    more = tmp_path / "more.jsonl"
    more.write_text(
        json.dumps({"op": "user.upsert", "ts": 50, "user": {"id": 7, "username": "newbie", "full_name": "Jo New",
                                                             "is_private": False, "is_verified": False}}) + "\n"
        + json.dumps({"op": "user.delete", "ts": 51, "id": 6}) + "\n")  # zoe: followed 2 and 4, blocked by 5
    data = tmp_path / "data"
    unicorn(data, "ingest", str(PLATFORM))
    unicorn(data, "ingest", str(more))
    unicorn(data, "index", "--once")
    queries = [("user", "(term name:jo)"), ("user", "(term following:3)"), ("user", "(term follower:1)"),
               ("user", "(term name:zoe)"), ("media", "(term hashtag:sunset)"), ("media", "(term owner:3)"),
               ("media", "(term liker:4)"), ("hashtag", "(term name:s)"), ("place", "(term name:sun)")]
    engine = open_engine(data)
    try:
        for vertical, query in queries:
            fresh = engine.search(vertical, query, viewer="7", timeout_ms=60_000).to_dict()
            for unknown in ("99", "6"):
                answer = engine.search(vertical, query, viewer=unknown, timeout_ms=60_000).to_dict()
                assert (answer["total"], answer["results"]) == (fresh["total"], fresh["results"]), (vertical, query)
    finally:
        engine.index.close()
    # What sets them apart from everything: Johanna's private post and her edges.
    assert [r["id"] for r in search(data, "(term hashtag:sunset)", "media", "--viewer", "99")["results"]] == ["100", "102"]
    assert [r["id"] for r in search(data, "(term hashtag:sunset)", "media")["results"]] == ["100", "102", "101"]
    assert search(data, "(term following:3)", "user", "--viewer", "99")["total"] == 0
    assert [r["id"] for r in search(data, "(term following:3)", "user", "--viewer", "1")["results"]] == ["1"]


def _table(stdout: str) -> tuple[list[str], list[list[str]], str]:
    """Headers, rows (a cell's wrapped lines joined by newlines) and the line after a rich table."""
    lines = stdout.rstrip("\n").splitlines()
    headers = [cell.strip() for cell in next(line for line in lines if "┃" in line).split("┃")[1:-1]]
    rows: list[list[str]] = []
    for line in lines:
        if "│" not in line:
            continue
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells[0]:
            rows.append(cells)
        else:  # a continuation line of the row above
            rows[-1] = [f"{old}\n{new}" if new else old for old, new in zip(rows[-1], cells)]
    return headers, rows, lines[-1]


def test_query_prints_a_table_with_headers(tmp_path):
    unicorn(tmp_path, "ingest", str(PLATFORM))
    unicorn(tmp_path, "index", "--once")
    done = unicorn(tmp_path, "query", "--viewer", "6", "(term name:jo)")
    headers, rows, last = _table(done.stdout)
    assert headers == ["id", "score", "username", "full name"]
    assert rows == [["2", "3", "@jo.doe", "Jo Doe"], ["3", "1", "@johanna", "Johanna Berg"],
                    ["4", "1", "@joao", "João Silva"]]
    assert re.fullmatch(r"3 user results, took [\d.]+ ms", last)

    headers, rows, _ = _table(unicorn(tmp_path, "query", "--vertical", "media", "(term hashtag:surf)").stdout)
    assert headers == ["id", "score", "owner", "caption"]
    assert [row[0] for row in rows] == ["102", "104"]
    assert rows[0][2:] == ["@joao", "First waves #surf #Sunset"]

    explained = unicorn(tmp_path, "query", "--explain", "(and (term name:jo) (apply follower: (term name:ana)))")
    headers, rows, last = _table(explained.stdout)
    assert headers == ["id", "score", "username", "full name", "why"]
    assert [row[0] for row in rows] == ["2", "3", "4"]
    assert rows[0][4].split("\n")[0] == "name:jo"
    assert "".join(rows[0][4].split("\n")[1:]).replace(" ", "") == "applyfollower:follower:1<-[name:ana]"
    assert last.startswith("3 user results")


def test_bench_is_a_click_command_with_its_options():
    done = cli("bench", "--help")
    assert done.returncode == 0 and done.stdout.startswith("Usage: python -m console.cli bench [OPTIONS]")
    assert all(option in done.stdout for option in BENCH_OPTIONS)
    assert "[queries|relevance|size|http|ingest|rebuild]" in done.stdout
    assert "pip install -e '.[bench]'" in " ".join(done.stdout.split())
    refused = cli("bench", "--repeats", "0")
    assert refused.returncode == 2 and "Invalid value for '--repeats'" in refused.stderr


def _without_matplotlib(tmp_path: Path) -> dict:
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCK_MATPLOTLIB)
    path = os.pathsep.join(filter(None, [str(blocker), str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    check = subprocess.run([sys.executable, "-c", "import matplotlib"], capture_output=True, text=True, env=env)
    assert check.returncode == 1 and "No module named 'matplotlib'" in check.stderr
    return env


def test_bench_without_the_bench_extra_says_how_to_install_it(tmp_path):
    env = _without_matplotlib(tmp_path)
    helped = cli("bench", "--help", env=env)
    assert helped.returncode == 0 and "--scenario" in helped.stdout
    for argv, name in ((["-m", "console.cli", "bench"], "python -m console.cli bench"), (["-m", "bench"], "python -m bench")):
        done = subprocess.run([sys.executable, *argv, "--scale", "S", "--out", str(tmp_path / "out"),
                               "--data", str(tmp_path / "data")], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.splitlines() == [
            f"{name} needs the bench extra: pip install -e '.[bench]' (No module named 'matplotlib')"]
    assert not (tmp_path / "data").exists()


def test_the_bench_extra_names_what_bench_imports_and_test_includes_it():
    from bench import harness
    from bench.__main__ import EXTRA_MODULES, SCENARIOS

    assert SCENARIOS == harness.SCENARIOS
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {re.split(r"[<>=\[ ]", requirement)[0] for requirement in extras["bench"]}
    assert names == {module.replace("_", "-") for module in EXTRA_MODULES}
    assert set(extras["bench"]) <= set(extras["test"])
