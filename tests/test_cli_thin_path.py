"""Issue 2's thin path through the real console script: ingest, index --once, query."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

EVENTS = Path(__file__).parent / "data" / "thin_path.jsonl"


def unicorn(data: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args, "--data", str(data)],
        capture_output=True, text=True, check=check, timeout=120,
    )


def search(data: Path, query: str, vertical: str = "user", *extra: str) -> dict:
    return json.loads(unicorn(data, "query", "--vertical", vertical, "--json", *extra, query).stdout)


def test_ingest_index_query(tmp_path: Path) -> None:
    ingested = unicorn(tmp_path, "ingest", str(EVENTS))
    assert "appended 12 events, dead-lettered 2" in ingested.stderr
    assert f"{EVENTS}:11: not JSON" in ingested.stderr
    assert f"{EVENTS}:12: follower:" in ingested.stderr
    unicorn(tmp_path, "index", "--once")

    # Followers of 42 whose name has a token starting with "jo": 7 and 8 (9 unfollowed).
    result = search(tmp_path, "(and (term name:jo) (term follower:42))")
    assert [r["id"] for r in result["results"]] == ["7", "8"]  # 7 has 2 followers, 8 has none
    assert result["total"] == 2
    assert result["results"][0]["doc"] == {
        "id": "7", "username": "jo.doe", "full_name": "Jo Doe", "is_private": False, "is_verified": False,
        "followers_count": 2, "following_count": 1, "media_count": 1,
    }
    # A viewer who does not follow private 8 still finds 8 by name (SPEC §5) ...
    assert [r["id"] for r in search(tmp_path, "(term name:johan)", "user", "--viewer", "10")["results"]] == ["8"]
    # ... but 8's follow edges are invisible to them.
    assert search(tmp_path, "(term following:8)", "user", "--viewer", "10")["total"] == 0
    # Caption parsing: #Sunset -> hashtag sunset, @ana -> mention of 42.
    media = search(tmp_path, "(and (term hashtag:sunset) (term mention:42))", "media")
    assert [r["id"] for r in media["results"]] == ["500"]
    assert media["results"][0]["doc"]["owner_username"] == "jo.doe"


def test_strict_ingest_rejects_the_whole_file(tmp_path: Path) -> None:
    rejected = unicorn(tmp_path, "ingest", "--strict", str(EVENTS), check=False)
    assert rejected.returncode == 1
    assert "nothing appended" in rejected.stderr
    unicorn(tmp_path, "index", "--once")
    assert search(tmp_path, "(term name:jo)")["total"] == 0


def test_bad_query_names_the_position(tmp_path: Path) -> None:
    unicorn(tmp_path, "ingest", str(EVENTS))
    unicorn(tmp_path, "index", "--once")
    failed = unicorn(tmp_path, "query", "--vertical", "user", "(and (term name:jo) (term hashtag:x))", check=False)
    assert failed.returncode != 0
    assert "bad_query" in failed.stderr and "hashtag" in failed.stderr


def test_http_search_over_the_cli_built_index(tmp_path: Path) -> None:
    """The same index, served: POST /v1/search answers as `unicorn query` does, with a search key's viewer."""
    from starlette.testclient import TestClient

    from api import create_app

    unicorn(tmp_path, "ingest", str(EVENTS))
    unicorn(tmp_path, "index", "--once")
    app = create_app(tmp_path, keys={"s3cret": "search"})
    with TestClient(app) as client:
        body = {"vertical": "user", "viewer": 10, "query": "(and (term name:jo) (term follower:42))"}
        response = client.post("/v1/search", json=body, headers={"Authorization": "Bearer s3cret"})
        assert response.status_code == 200
        result = response.json()
        # Viewer 10 follows 7; private 8's documents are findable, so both followers of 42 are shown.
        assert [r["id"] for r in result["results"]] == ["7", "8"]
        assert result["results"][0]["doc"]["username"] == "jo.doe"
        del body["viewer"]
        forbidden = client.post("/v1/search", json=body, headers={"Authorization": "Bearer s3cret"})
        assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"


def test_backup_while_indexing_then_restore(tmp_path: Path) -> None:
    """`unicorn backup` copies a consistent snapshot while a real indexer process writes; the copy,
    put in place of the index, lets the indexer go on from the copy's offsets to the same state."""
    data, backup = tmp_path / "data", tmp_path / "backup"
    unicorn(data, "ingest", str(EVENTS))
    unicorn(data, "index", "--once")
    more = tmp_path / "more.jsonl"
    more.write_text("".join(json.dumps({"op": "user.upsert", "ts": 100 + i, "user": {
        "id": 1000 + i, "username": f"jo{i}", "full_name": "", "is_private": False, "is_verified": False}}) + "\n"
        for i in range(3000)))
    unicorn(data, "ingest", str(more))
    indexing = subprocess.Popen([sys.executable, "-m", "console.cli", "index", "--once", "--batch-size", "100",
                                 "--data", str(data)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        copied = unicorn(data, "backup", str(backup))
        indexing.wait(120)
    finally:
        if indexing.poll() is None:
            indexing.kill()
            indexing.wait()
    assert indexing.returncode == 0 and "copied generation" in copied.stderr
    assert unicorn(data, "backup", str(backup), check=False).returncode != 0  # never over a non-empty directory
    full = search(data, "(term name:jo)", "user", "--limit", "1000")
    shutil.rmtree(data / "index")
    shutil.copytree(backup, data / "index")
    unicorn(data, "index", "--once")
    assert search(data, "(term name:jo)", "user", "--limit", "1000")["results"] == full["results"]
