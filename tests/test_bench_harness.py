"""The bench harness end to end at scale S: a real index, a real PostgreSQL, the report files.

No timing is asserted: the figures are the harness's output, the tests check that it produces
them, that every query class was answered identically by the engine and PostgreSQL, and that a
wrong answer fails the run.
"""

from __future__ import annotations

import json
import random
import shutil

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import postgres, relevance, scenarios
from bench.__main__ import main
from bench.servers import Postgres
from bench.workload import Item
from vocabulary.text import normalize


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    out = root / "report"
    code = main(["--scale", "S", "--queries", "10", "--repeats", "2", "--sessions", "4", "--relevance-pairs", "12",
                 "--scenario", "queries", "--scenario", "relevance", "--scenario", "size",
                 "--data", str(root / "data"), "--out", str(out)])
    return code, root, json.loads((out / "report.json").read_text())


def test_the_run_succeeds_and_writes_every_file(bench_run):
    code, root, report = bench_run
    assert code == 0
    out = root / "report"
    assert (out / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    assert "## Goals" in md and "## Query latency" in md and "## Relevance" in md
    assert report["command"].startswith("python -m bench --scale S")


def test_report_has_machine_versions_and_dataset(bench_run):
    _, _, report = bench_run
    assert report["machine"]["cores"] >= 1 and report["machine"]["memory_bytes"] > 0
    for name in ("python", "lmdb", "pyroaring", "postgres", "duckdb"):
        assert report["versions"][name]
    data = report["dataset"]
    assert data["users"] == 2000 and data["follows"] > 0 and data["media"] > 0
    assert report["postgres_dataset"]["users"] == data["users"]
    assert report["postgres_dataset"]["media"] == data["media"]


def test_every_class_was_answered_identically_by_postgres_and_duckdb(bench_run):
    _, _, report = bench_run
    queries = report["queries"]
    assert queries["mismatch_count"] == 0
    expected = {"social_typeahead", "user_typeahead", "hashtag_typeahead", "place_typeahead", "people_2hop", "media_by_followees",
                "extract_owners", "weak_and", "strong_or"}
    assert expected <= set(queries["classes"])
    for cls in expected:
        entry = queries["classes"][cls]
        per_repeat = 2 * 5 if cls == "social_typeahead" else 10  # 4 sessions of 5 keystrokes over 2 repeats
        assert queries["answers_compared_by_peer"][cls] == {"postgres": 2 * per_repeat, "duckdb": 2 * per_repeat}, cls
        assert entry["answers_match"] is True
        for side in ("ours", "postgres", "duckdb"):
            figures = entry[side]
            assert figures["repeats"] == 2 and figures["queries_per_repeat"] == per_repeat
            assert figures["n"] == 2 * per_repeat == len(entry["samples_ms"][side])
            assert figures["p50_ms"] <= figures["p99_ms"]
        assert entry["ratio_p50"] > 0 and entry["ratio_p50_duckdb"] > 0


def test_cold_sessions_have_viewers_no_other_query_has(bench_run):
    """The cold social typeahead's viewers: one per session, none seen by another class, the warm-up or each other."""
    from bench import harness, workload
    from indexer.store import Index

    _, root, _ = bench_run
    index = Index(root / "data" / "index")
    try:
        with index.reader() as view:
            inputs = workload.sample_inputs(view, random.Random(0), fresh=4 + harness.WARMUP_SESSIONS)
    finally:
        index.close()
    fresh = set(inputs.fresh_viewers)
    assert len(fresh) == 4 + harness.WARMUP_SESSIONS and not fresh & set(inputs.viewers)
    sessions = workload.items(inputs, ["social_typeahead"], 4 * 5, random.Random(1))
    others = workload.items(inputs, ["people_2hop", "user_typeahead"], 20, random.Random(1))
    by_class: dict[str, set] = {}
    for item in sessions + others:
        by_class.setdefault(item.cls, set()).add(item.viewer)
    assert len(by_class["social_typeahead"]) == 4
    assert all(len({i.viewer for i in sessions[n:n + 5]}) == 1 for n in range(0, 20, 5))
    assert not by_class["social_typeahead"] & (by_class["people_2hop"] | by_class["user_typeahead"])


def test_warm_sessions_repeat_the_cold_ones_with_the_same_answers(bench_run):
    _, _, report = bench_run
    warm = report["queries"]["classes"]["social_typeahead_warm"]
    assert warm["ours"]["n"] == report["queries"]["classes"]["social_typeahead"]["ours"]["n"]
    assert set(warm["by_prefix_length"]) == {"1", "2", "3", "4", "5"}
    assert "postgres" not in warm


def test_relevance_and_size_are_reported(bench_run):
    _, _, report = bench_run
    rel = report["relevance"]
    assert rel["pairs"] == 12
    assert isinstance(rel["reduction_vs_popularity"]["all"], (int, float))
    for ranking in ("popularity_only", "social"):
        for kind in ("followee", "second_hop"):
            assert rel[ranking][kind]["pairs"] == 6
            assert rel[ranking][kind]["mean_keystrokes"] >= 1
    size = report["size"]
    assert size["index_bytes_on_disk"] >= size["index_bytes_used"] > 0
    assert size["edges"] == report["dataset"]["follows"] + report["dataset"]["likes"]
    assert size["serving_rss_bytes"] > 0
    stages = size["memory"]["stages"]
    assert {"opened", "readied", "workload"} <= set(stages) and all(m["VmRSS"] > 0 for m in stages.values())
    assert size["memory"]["graph"]["follows"] == report["dataset"]["follows"]


def test_a_wrong_answer_fails_the_comparison(bench_run, monkeypatch):
    _, root, _ = bench_run
    from indexer.store import Index

    server = Postgres(root / "data" / "pg").start()
    index = Index(root / "data" / "index")
    try:
        # The static order reversed: PostgreSQL now answers differently for any prefix with 2+ matches.
        monkeypatch.setitem(postgres.SQL, "wrong", postgres.SQL["user_prefix"].replace(
            "u.followers_count DESC, u.id", "u.followers_count ASC, u.id DESC"))
        item = Item("user_typeahead", "user", "(term name:a)", 1, 10, "wrong", {"v": 1, "p": "a%", "k": 10})
        measured = scenarios.measure_queries(scenarios.searchers(index), server.dsn(), [[item]], lambda _: None)
        assert measured["mismatch_count"] == 1
        assert measured["classes"]["user_typeahead"]["answers_match"] is False
    finally:
        index.close()
        server.stop()


def test_keystrokes_until_the_target_shows(bench_run):
    _, root, _ = bench_run
    from indexer.store import Index

    index = Index(root / "data" / "index")
    try:
        searcher = scenarios.searchers(index)
        with index.reader() as view:
            pairs = relevance.sample_pairs(view, searcher.viewers.privacy, random.Random(3), 6)
        assert pairs
        for kind, viewer, target, text in pairs:
            for ranking in ("social", "popularity_only"):
                n = relevance.keystrokes(searcher, viewer, str(target), text, ranking)
                assert 1 <= n <= len(text) + 1
                if n <= len(text):  # shown after n keystrokes, and not one keystroke earlier
                    assert str(target) in relevance.top(searcher, viewer, text[:n], ranking)
                    earlier = text[:n - 1].rstrip()
                    assert not earlier or str(target) not in relevance.top(searcher, viewer, earlier, ranking)
    finally:
        index.close()


@pytest.fixture(scope="module")
def pg(bench_run):
    _, root, _ = bench_run
    server = Postgres(root / "data" / "pg").start()
    yield server
    server.stop()


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=names, value=names)
def test_like_prefix_matches_exactly_the_values_starting_with_the_normalized_prefix(pg, prefix, value):
    with psycopg.connect(pg.dsn()) as conn:
        matched = conn.execute("SELECT %s LIKE %s", (normalize(value), postgres.like_prefix(prefix))).fetchone()[0]
    assert matched == normalize(value).startswith(normalize(prefix))


def test_a_partial_run_keeps_the_other_scenarios_with_their_commands(bench_run, tmp_path):
    """Re-running `size` into a copy of the module run's report directory keeps the other scenarios."""
    _, root, first = bench_run
    out = tmp_path / "report"
    shutil.copytree(root / "report", out)
    assert main(["--scale", "S", "--queries", "10", "--repeats", "1", "--scenario", "size", "--data", str(root / "data"),
                 "--out", str(out)]) == 0
    merged = json.loads((out / "report.json").read_text())
    assert merged["queries"] == first["queries"] and merged["relevance"] == first["relevance"]
    assert merged["commands"]["queries"] == first["command"] == merged["commands"]["relevance"]
    assert merged["commands"]["size"].endswith("--scenario size --data " + str(root / "data") + " --out " + str(out))
    assert "queries: python -m bench" in (out / "report.md").read_text()


def test_markdown_shows_text_figures():
    """Figures may hold text (a scale, a load generator's name) beside numbers."""
    from bench.report import _fig

    assert _fig("M") == "M" and _fig(1234) == "1,234" and _fig(None) == "not measured"
