"""Report files of a bench run: report.json (everything), report.md (summary and goals), latency.png."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)

MIB = 1 << 20


def write(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(result, indent=1, sort_keys=False, default=str) + "\n")
    (out / "report.md").write_text(markdown(result))
    if result.get("queries"):
        chart(result["queries"], out / "latency.png", result["scale"])


def _fig(value, unit: str = "", digits: int = 3) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    return f"{value:,}{unit}"


def _get(d: dict | None, *path):
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _verdict(value, goal: float, at_most: bool) -> str:
    if value is None:
        return "—"
    return "met" if (value <= goal if at_most else value >= goal) else "missed"


def goals(result: dict) -> list[tuple[str, str, str, str]]:
    """(issue goal, goal, measured, verdict) rows; a figure absent from the run says so."""
    q = _get(result, "queries", "classes") or {}
    social = q.get("social_typeahead") or {}
    rel = result.get("relevance") or {}
    rows = []

    def row(name: str, goal: str, value, at_most: bool, bound: float, unit: str = "", digits: int = 3) -> None:
        rows.append((name, goal, _fig(value, unit, digits), _verdict(value, bound, at_most)))

    row("#3 social typeahead p50 in-process", "<= 0.3 ms", _get(social, "ours", "p50_ms"), True, 0.3, " ms")
    row("#3 social typeahead p99 in-process", "<= 3 ms", _get(social, "ours", "p99_ms"), True, 3.0, " ms")
    row("#3 2-hop people search p50", "<= 2 ms", _get(q, "people_2hop", "ours", "p50_ms"), True, 2.0, " ms")
    ingest = _get(result, "ingest", "figures") or {}
    row("#4 ingest rate, mixed (embedded)", ">= 100,000 events/s (floor 25k)",
        _get(ingest, "embedded", "index_events_per_s"), False, 100_000, " ev/s")
    row("#4 ingest rate, mixed (Kafka)", ">= 100,000 events/s (floor 25k)",
        _get(ingest, "kafka", "index_events_per_s"), False, 100_000, " ev/s")
    row("#4 event-to-searchable p99, embedded", "<= 200 ms", _get(ingest, "embedded", "latency", "p99_ms"), True, 200, " ms")
    row("#4 event-to-searchable p99, Kafka", "<= 1,000 ms", _get(ingest, "kafka", "latency", "p99_ms"), True, 1000, " ms")
    row("#5 rebuild from PostgreSQL", "<= 120 s at M", _get(result, "rebuild", "figures", "rebuild_s"), True, 120, " s")
    http = _best_at_16(_get(result, "http", "figures") or {})
    row("#6 HTTP typeahead p99 at 16 connections", "<= 10 ms", http.get("p99_ms"), True, 10, " ms")
    row("#6 HTTP typeahead throughput at 16 connections", ">= 3,000 req/s", http.get("requests_per_s"), False, 3000, " req/s")
    row("#7 social typeahead vs PostgreSQL at p50", ">= 50x", social.get("ratio_p50"), False, 50, "x", 1)
    row("#7 social typeahead vs PostgreSQL at p99", ">= 20x", social.get("ratio_p99"), False, 20, "x", 1)
    matched = social.get("answers_match")
    rows.append(("#7 identical answers (every class)", "0 mismatches",
                 _fig(_get(result, "queries", "mismatch_count")),
                 "—" if matched is None else ("met" if not _get(result, "queries", "mismatch_count") else "missed")))
    row("#7 relevance: followees, social", "<= 2.0 keystrokes", _get(rel, "social", "followee", "mean_keystrokes"), True, 2.0)
    row("#7 relevance: fewer keystrokes than popularity", ">= 40% fewer",
        _get(rel, "reduction_vs_popularity", "all"), False, 0.4)
    row("#16 relevance with one typo, within two hops", "<= 3.0 keystrokes",
        _get(rel, "social_typos", "all", "mean_keystrokes"), True, 3.0)
    row("#16 relevance with one typo: fewer keystrokes than typos off", ">= 40% fewer",
        _get(rel, "typo_reduction_vs_typos_off", "all"), False, 0.4)
    row("#16 relevance without typos: second hop", "<= 2.5 keystrokes",
        _get(rel, "social", "second_hop", "mean_keystrokes"), True, 2.5)
    row("#16 typeahead with a typo p99 in-process", "<= 5 ms",
        _get(rel, "latency", "typos_auto_with_typo", "p99_ms"), True, 5.0, " ms")
    return rows


def _best_at_16(http: dict) -> dict:
    """The 16-connection HTTP load of the worker count that served the most requests/s."""
    runs = [v for k, v in http.items() if k.startswith("workers_") and k.endswith("_connections_16")]
    return max(runs, key=lambda r: r["requests_per_s"], default={})


def markdown(result: dict) -> str:
    m, v, d = result["machine"], result["versions"], result["dataset"]
    lines = [f"# Bench report: scale {result['scale']}", ""]
    commands = result.get("commands") or {name: result.get("command") for name in result.get("scenarios", [])}
    if any(commands.values()):
        lines += ["Made by (scenario: command):", ""]
        lines += [f"    {name}: {cmd}" for name, cmd in commands.items()] + [""]
    lines += [f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_bytes'] / (1 << 30):.1f} GiB; "
              f"load average at start {', '.join(f'{x:.1f}' for x in m['load_average_at_start'])} (a shared machine).",
              "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
              f"Dataset (seed {result['seed']}): " + ", ".join(f"{k} {_fig(val)}" for k, val in d.items() if val is not None)
              + f". Wall time of the run: {result['wall_s']:,.0f} s.", "", "## Goals", "",
              "| goal | target | measured | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {e} |" for a, b, c, e in goals(result)]
    q = result.get("queries")
    if q:
        lines += ["", f"## Query latency, in-process engine vs PostgreSQL ({q['classes'][next(iter(q['classes']))]['ours']['repeats']} "
                  "repeats; median over repeats, [min, max] spread)", "",
                  "| class | ours p50 | ours p99 | PostgreSQL p50 | PostgreSQL p99 | ratio p50 | ratio p99 | answers |",
                  "|---|---|---|---|---|---|---|---|"]
        for cls, e in q["classes"].items():
            o, p = e["ours"], e.get("postgres", {})
            lines.append(
                f"| {cls} | {o['p50_ms']:.3f} {_spread(o['p50_spread_ms'])} | {o['p99_ms']:.3f} {_spread(o['p99_spread_ms'])} | "
                f"{_fig(p.get('p50_ms'))} | {_fig(p.get('p99_ms'))} | {_fig(e.get('ratio_p50'), 'x', 1)} | "
                f"{_fig(e.get('ratio_p99'), 'x', 1)} | {_match(e)} |")
        lines += ["", f"Answers compared: {sum(q['answers_compared'].values()):,} queries (ordered ids); "
                  f"mismatches: {q['mismatch_count']}. All times in ms.", ""]
        for cls, e in q["classes"].items():
            if "p50_ms_by_prefix_length" in e:
                lines.append(f"- {cls}, ours p50 by prefix length: " +
                             ", ".join(f"{k}: {val:.3f} ms" for k, val in e["p50_ms_by_prefix_length"].items()))
    rel = result.get("relevance")
    if rel:
        lines += ["", f"## Relevance: keystrokes until the target is in the top {rel['top']} ({rel['pairs']} pairs)", "",
                  "| ranking | followee | second hop | all |", "|---|---|---|---|"]
        for name in ("social", "popularity_only"):
            if name in rel:
                lines.append(f"| {name} | " + " | ".join(_fig(rel[name][k]["mean_keystrokes"]) for k in
                                                      ("followee", "second_hop", "all")) + " |")
        if "reduction_vs_popularity" in rel:
            r = rel["reduction_vs_popularity"]
            lines.append("| reduction | " + " | ".join(_fig(r[k]) for k in ("followee", "second_hop", "all")) + " |")
        for name in ("social_typos", "social_typos_off", "popularity_typos"):
            if name in rel:
                lines.append(f"| {name} (one typo) | " + " | ".join(_fig(rel[name][k]["mean_keystrokes"]) for k in
                                                                   ("followee", "second_hop", "all")) + " |")
        if "typo_reduction_vs_typos_off" in rel:
            r = rel["typo_reduction_vs_typos_off"]
            lines.append("| typo reduction vs typos off | " + " | ".join(_fig(r[k]) for k in
                                                                       ("followee", "second_hop", "all")) + " |")
        if "latency" in rel:
            lines += ["", "Typeahead latency per call in-process (users, limit 3): " + "; ".join(
                f"{path} p50 {f['p50_ms']:.3f} ms, p99 {f['p99_ms']:.3f} ms ({f['calls']} calls)"
                for path, f in rel["latency"].items()) + "."]
    size = result.get("size")
    if size:
        lines += ["", "## Size", "",
                  f"- index on disk: {size['index_bytes_on_disk'] / MIB:,.1f} MiB ({size['index_bytes_used'] / MIB:,.1f} MiB of pages used)",
                  f"- bytes per edge (used pages / (follows + likes) = {size['edges']:,}): {size['bytes_per_edge']}",
                  f"- serving RSS after the query workload: {size['serving_rss_bytes'] / MIB:,.0f} MiB "
                  f"(peak {size['serving_peak_rss_bytes'] / MIB:,.0f} MiB)"]
        pg = result.get("postgres_dataset")
        if pg:
            lines.append(f"- PostgreSQL database with its indexes: {pg['size_bytes'] / MIB:,.0f} MiB (loaded in {pg['load_s']} s)")
    for name in ("http", "ingest", "rebuild"):
        part = result.get(name)
        if part:
            lines += ["", f"## {name}", ""]
            if part["status"] == "ok":
                lines += [f"- {k}: {_fig(val)}" for k, val in _flat(part["figures"])]
            else:
                lines.append(f"- {part['status']}: {part['reason']}")
    return "\n".join(lines) + "\n"


def _flat(d, prefix: str = ""):
    if isinstance(d, dict):
        for k, val in d.items():
            yield from _flat(val, f"{prefix}{k}." if not isinstance(val, dict) else f"{prefix}{k}.")
    else:
        yield prefix.rstrip("."), d


def _spread(s: list[float]) -> str:
    return f"[{s[0]:.3f}, {s[1]:.3f}]"


def _match(entry: dict) -> str:
    if "answers_match" not in entry:
        return "not compared"
    return "identical" if entry["answers_match"] else "MISMATCH"


def chart(queries: dict, path: Path, scale: str) -> None:
    """Per query class, the latency distribution of the engine beside PostgreSQL's (log scale)."""
    classes = list(queries["classes"])
    fig, ax = plt.subplots(figsize=(max(8, 1.4 * len(classes)), 5.5))
    data, positions, colors = [], [], []
    for n, cls in enumerate(classes):
        s = queries["classes"][cls]["samples_ms"]
        for offset, side, color in ((-0.2, "ours", "tab:blue"), (0.2, "postgres", "tab:orange")):
            if side in s:
                data.append([max(x, 1e-3) for x in s[side]])
                positions.append(n + offset)
                colors.append(color)
    parts = ax.boxplot(data, positions=positions, widths=0.35, patch_artist=True, showfliers=True,
                       flierprops={"markersize": 2})
    for patch, color in zip(parts["boxes"], colors):
        patch.set_facecolor(color)
    ax.set_yscale("log")
    ax.set_xticks(range(len(classes)))
    ax.set_xticklabels(classes, rotation=30, ha="right")
    ax.set_ylabel("latency per query (ms, log scale)")
    ax.set_title(f"Query latency at scale {scale}: unicorn in-process (blue) vs PostgreSQL (orange)")
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
