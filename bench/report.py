"""Report files of a bench run: report.json (everything), report.md (summary and goals), latency.png."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)

MIB = 1 << 20
PEERS = {"postgres": "PostgreSQL", "duckdb": "DuckDB"}


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


def _floored(value, goal: float, floor: float) -> str:
    if value is None:
        return "—"
    return "met" if value >= goal else "missed (floor met)" if value >= floor else "missed"


def goals(result: dict) -> list[tuple[str, str, str, str]]:
    """(issue goal, goal, measured, verdict) rows; a figure absent from the run says so."""
    q = _get(result, "queries", "classes") or {}
    social = q.get("social_typeahead") or {}
    rel = result.get("relevance") or {}
    rows = []

    def row(name: str, goal: str, value, at_most: bool, bound: float, unit: str = "", digits: int = 3) -> None:
        rows.append((name, goal, _fig(value, unit, digits), _verdict(value, bound, at_most)))

    warm = q.get("social_typeahead_warm") or {}
    for q_, bound in (("p50", 20), ("p99", 15)):
        row(f"#12 social typeahead (new viewers) vs PostgreSQL at {q_} (CPU ratio beside)", f">= {bound}x",
            social.get(f"ratio_{q_}"), False, bound, "x", 1)
        if social.get(f"cpu_ratio_{q_}") is not None:
            rows[-1] = (*rows[-1][:2], f"{rows[-1][2]} (CPU {social[f'cpu_ratio_{q_}']:.1f}x)", rows[-1][3])
    rows.append(("#12 social typeahead (new viewers) p50 / p99 in-process", "about 0.18 / 3.3 ms (from the ratios)",
                 f"{_fig(_get(social, 'ours', 'p50_ms'))} / {_fig(_get(social, 'ours', 'p99_ms'))} ms", "—"))
    row("#12 social typeahead, warm viewers, p99 in-process", "<= 1 ms", _get(warm, "ours", "p99_ms"), True, 1.0, " ms")
    for cls, e in q.items():
        if cls.startswith("social_typeahead") or "ratio_p50" not in e:
            continue
        met = e["ratio_p50"] >= 10 and e["ratio_p99"] >= 5
        cpu = f" (CPU {e['cpu_ratio_p50']:.1f}x / {e['cpu_ratio_p99']:.1f}x)" if "cpu_ratio_p50" in e else ""
        rows.append((f"#12 {cls} vs PostgreSQL at p50 / p99", ">= 10x / >= 5x",
                     f"{e['ratio_p50']:.1f}x / {e['ratio_p99']:.1f}x{cpu}", "met" if met else "missed"))
    if "duckdb" in (_get(result, "queries", "peers") or []):
        by_peer = _get(result, "queries", "answers_compared_by_peer") or {}
        wrong = sum(1 for m in _get(result, "queries", "mismatches") or [] if m.get("peer") == "duckdb")
        rows.append(("#12 DuckDB peer: same SQL, identical answers", "0 mismatches",
                     f"{wrong} of {sum(n.get('duckdb', 0) for n in by_peer.values()):,}",
                     "met" if not _get(result, "queries", "mismatch_count") else "missed"))
    ingest = _get(result, "ingest", "figures") or {}
    for transport, name in (("embedded", "embedded"), ("kafka", "Kafka")):
        rate = _get(ingest, transport, "index_events_per_s")
        cpu = _get(ingest, transport, "index_cpu_us_per_event")
        rows.append((f"#13 ingest rate, mixed ({name}; CPU per event beside)", ">= 100,000 events/s (floor 50k)",
                     _fig(rate, " ev/s") + (f" ({cpu} us CPU/event)" if cpu is not None else ""),
                     _floored(rate, 100_000, 50_000)))
    for transport, name in (("embedded", "embedded"), ("kafka", "Kafka")):
        latency = _get(ingest, transport, "latency") or {}
        p99, load = latency.get("p99_ms"), latency.get("load_events_per_s")
        rows.append((f"#13 event-to-searchable p99 under load ({name})", "<= 100 ms at >= 100,000 events/s of load",
                     "—" if p99 is None else f"{_fig(p99, ' ms', 1)} at {_fig(load, ' ev/s')} of load",
                     "—" if p99 is None else "met" if p99 <= 100 and load >= 100_000 else "missed"))
    for transport, name in (("embedded", "embedded"), ("kafka", "Kafka")):
        latency = _get(ingest, transport, "latency_sustained") or {}
        if latency:
            rows.append((f"#13 event-to-searchable p99 at half the measured ingest rate ({name})", "reported",
                         f"{_fig(latency['p99_ms'], ' ms', 1)} at {_fig(latency['load_events_per_s'], ' ev/s')} of load",
                         "—"))
    size = result.get("size") or {}
    per_edge = size.get("bytes_per_edge", _get(result, "dataset", "index_bytes_per_edge"))
    rss = size.get("serving_rss_bytes")
    rows.append(("#13 index size per edge, used pages (serving RSS beside: size scenario)", "<= 24 bytes per edge",
                 _fig(per_edge, " B/edge", 1) + (f" ({rss / MIB:,.0f} MiB RSS)" if rss else ""),
                 _verdict(per_edge, 24, True)))
    row("#13 rebuild from PostgreSQL", "<= 60 s at M", _get(result, "rebuild", "figures", "rebuild_s"), True, 60, " s", 1)
    delete = _get(ingest, "user_delete") or {}
    rows.append(("#13 user.delete, CPU ms per 1,000 edges (followers of the deleted user)",
                 "milliseconds (<= 10 ms) per 1,000 edges",
                 "—" if not delete else f"{delete['cpu_ms_per_1000_edges']} ms ({delete['followers']:,} followers)",
                 _verdict(delete.get("cpu_ms_per_1000_edges"), 10, True)))
    http = _get(result, "http", "figures", "workers_2_connections_16") or {}
    row("#12 HTTP typeahead, 2 workers, 16 connections: p99", "<= 10 ms", http.get("p99_ms"), True, 10, " ms")
    row("#12 HTTP typeahead, 2 workers, 16 connections: throughput", ">= 3,000 req/s", http.get("requests_per_s"),
        False, 3000, " req/s")
    if "wrk_cpu_share_of_cores" in http:
        rows.append(("#12 HTTP: wrk's own share of the 2 cores (server's)", "reported",
                     f"{http['wrk_cpu_share_of_cores']:.0%} ({http['server_cpu_share_of_cores']:.0%})", "—"))
    memory = _get(result, "size", "memory")
    if memory:
        rows.append(("#12 serving memory, bounded", "reported",
                     f"{_get(result, 'size', 'serving_peak_rss_bytes') / MIB:,.0f} MiB peak RSS (see Size)", "—"))
    matched = social.get("answers_match")
    rows.append(("#7/#12 identical answers (every class, every peer)", "0 mismatches",
                 _fig(_get(result, "queries", "mismatch_count")),
                 "—" if matched is None else ("met" if not _get(result, "queries", "mismatch_count") else "missed")))
    row("#7 relevance: followees, social", "<= 2.0 keystrokes", _get(rel, "social", "followee", "mean_keystrokes"), True, 2.0)
    row("#7 relevance: fewer keystrokes than popularity", ">= 40% fewer",
        _get(rel, "reduction_vs_popularity", "all"), False, 0.4)
    row("#16 relevance with one typo, within two hops", "<= 3.0 keystrokes",
        _get(rel, "social_typos", "all", "mean_keystrokes"), True, 3.0)
    row("#16 relevance with one typo: fewer keystrokes than typos off", ">= 40% fewer",
        _get(rel, "typo_reduction_vs_typos_off", "all"), False, 0.4)
    row("#16 relevance without typos: followees", "<= 1.3 keystrokes",
        _get(rel, "social", "followee", "mean_keystrokes"), True, 1.3)
    row("#16 relevance without typos: second hop", "<= 2.5 keystrokes",
        _get(rel, "social", "second_hop", "mean_keystrokes"), True, 2.5)
    row("#16 typeahead with a typo p99 in-process", "<= 5 ms",
        _get(rel, "latency", "typos_auto_with_typo", "p99_ms"), True, 5.0, " ms")
    return rows


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
        lines += _queries(q)
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
        lines += _size(size, result)
    http = _get(result, "http", "figures")
    if http:
        lines += _http(result["http"])
    for name in ("ingest", "rebuild"):
        part = result.get(name)
        if part:
            lines += ["", f"## {name}", ""]
            if part["status"] == "ok":
                lines += [f"- {k}: {_fig(val)}" for k, val in _flat(part["figures"])]
            else:
                lines.append(f"- {part['status']}: {part['reason']}")
    return "\n".join(lines) + "\n"


def _ms(figures: dict | None, key: str) -> str:
    return "—" if not figures else f"{figures[key]:.3f}"


def _ratio(value) -> str:
    return "—" if value is None else f"{value:.1f}x"


def _pair(figures: dict | None, unit: str = "") -> str:
    return "—" if not figures else f"{figures['p50_ms']:.3f} / {figures['p99_ms']:.3f}{unit}"


def _ratios(a, b) -> str:
    return "—" if a is None else f"{a:.1f}x / {b:.1f}x"


def _queries(q: dict) -> list[str]:
    peers = q.get("peers", ["postgres"])
    first = q["classes"][next(iter(q["classes"]))]["ours"]
    header = ["class", "n", "ours p50 [spread]", "ours p99 [spread]", "ours CPU p50 / p99"]
    for p in peers:
        header += [f"{PEERS[p]} p50 / p99", f"{PEERS[p]} CPU p50 / p99", "ratio p50 / p99", "CPU ratio p50 / p99"]
    header.append("answers")
    lines = ["", f"## Query latency, in-process engine vs {' and '.join(PEERS.get(p, p) for p in peers)}", "",
             f"Every figure is over all the class's queries of {first['repeats']} passes (n queries; cold social "
             "typeahead: sessions of viewers new to the process), [min, max] over the passes taken one by one. "
             "Wall times, and CPU times beside them, which other processes on the shared machine do not inflate: "
             "the engine's its thread's, DuckDB's its process's (its threads included), PostgreSQL's its server "
             "process's for the connection (/proc/PID/schedstat). Each side answers a class's queries in a run of "
             "its own. Ratios: the peer's figure over ours. "
             "All times in ms.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for cls, e in q["classes"].items():
        o = e["ours"]
        cells = [cls, f"{o['n']:,}", f"{o['p50_ms']:.3f} {_spread(o['p50_spread_ms'])}",
                 f"{o['p99_ms']:.3f} {_spread(o['p99_spread_ms'])}", _pair(e["ours_cpu"])]
        for p in peers:
            suffix = "" if p == "postgres" else f"_{p}"
            cells += [_pair(e.get(p)), _pair(e.get(f"{p}_cpu")),
                      _ratios(e.get(f"ratio_p50{suffix}"), e.get(f"ratio_p99{suffix}")),
                      _ratios(e.get(f"cpu_ratio_p50{suffix}"), e.get(f"cpu_ratio_p99{suffix}"))]
        cells.append(_match(e) if not cls.endswith("_warm") else "as cold")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Answers compared: {sum(q['answers_compared'].values()):,} (ordered ids, each peer); "
              f"mismatches: {q['mismatch_count']}. Load average after the scenario: "
              + ", ".join(f"{x:.1f}" for x in q.get("load_average_after", [])) + "."]
    for cls, e in q["classes"].items():
        by = e.get("by_prefix_length")
        if not by or not cls.startswith("social_typeahead"):
            continue
        present = [p for p in peers if p in by[next(iter(by))]]
        header = ["prefix length", "n", "ours p50 / p99", "ours CPU p50 / p99"]
        for p in present:
            header += [f"{PEERS[p]} p50 / p99", f"{PEERS[p]} CPU p50 / p99", "ratio p50 / p99", "CPU ratio p50 / p99"]
        lines += ["", f"### {cls} by prefix length", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for g, f in by.items():
            o, oc = f["ours"], f["ours_cpu"]
            cells = [g, f"{o['n']:,}", _pair(o), _pair(oc)]
            for p in present:
                pc = f.get(f"{p}_cpu")
                cells += [_pair(f[p]), _pair(pc),
                          _ratios(f[p]["p50_ms"] / max(o["p50_ms"], 1e-9), f[p]["p99_ms"] / max(o["p99_ms"], 1e-9)),
                          "—" if not pc else _ratios(pc["p50_ms"] / max(oc["p50_ms"], 1e-9),
                                                     pc["p99_ms"] / max(oc["p99_ms"], 1e-9))]
            lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for cls, e in q["classes"].items():
        if "p50_ms_by_prefix_length" in e and not cls.startswith("social_typeahead"):
            lines.append(f"- {cls}, ours p50 by prefix length: " +
                         ", ".join(f"{k}: {val:.3f} ms" for k, val in e["p50_ms_by_prefix_length"].items()))
    return lines


def _size(size: dict, result: dict) -> list[str]:
    lines = ["", "## Size and serving memory", "",
             f"- index on disk: {size['index_bytes_on_disk'] / MIB:,.1f} MiB ({size['index_bytes_used'] / MIB:,.1f} MiB of pages used)",
             f"- bytes per edge (used pages / (follows + likes) = {size['edges']:,}): {size['bytes_per_edge']}"]
    for name in ("postgres_dataset", "duckdb_dataset"):
        db = result.get(name)
        if db:
            lines.append(f"- {PEERS[name.split('_')[0]]} database with its indexes: {db['size_bytes'] / MIB:,.0f} MiB "
                         f"(loaded in {db['load_s']} s)")
    memory = size.get("memory")
    if not memory:
        lines.append(f"- serving RSS after the query workload: {size['serving_rss_bytes'] / MIB:,.0f} MiB")
        return lines
    g = memory["graph"]
    lines += ["", "Memory of a fresh serving process (MiB; RssAnon is the process's own heap, RssFile the index's "
              "LMDB pages mapped, which the OS can drop):", "",
              "| stage | VmRSS | RssAnon | RssFile | VmHWM |", "|---|---|---|---|---|"]
    for stage, m in memory["stages"].items():
        lines.append(f"| {stage.replace('_', ' ')} | " + " | ".join(f"{m[k] / MIB:,.0f}" for k in
                                                                ("VmRSS", "RssAnon", "RssFile", "VmHWM")) + " |")
    lines += ["", f"- follow graph (compressed sparse rows): {g['bytes'] / MIB:,.1f} MiB for {g['users']:,} users and "
              f"{g['follows']:,} follows: 8 bytes per user, 4 per follow between live users "
              "(grows with users and edges; a second base is kept for older snapshots, a third for a moment during a compaction)",
              f"- a cached viewer's circle: {memory['circle_bytes_mean'] / 1024:,.1f} KiB on average "
              f"({memory['circle_hop_ids_mean']:,} 2-hop users); circles and privacy sets are kept for the "
              "1,024 most recent viewers (least recently used out), so what grows with viewers stops there"]
    return lines


def _http(part: dict) -> list[str]:
    lines = ["", "## HTTP typeahead", ""]
    if part["status"] != "ok":
        return lines + [f"- {part['status']}: {part['reason']}"]
    f = part["figures"]
    runs = {k: v for k, v in f.items() if k.startswith("workers_")}
    lines += [f"Loopback, {f['seconds']} s per load; the in-process baseline of the same requests: p50 "
              f"{f['in_process']['p50_ms']:.3f} ms, p99 {f['in_process']['p99_ms']:.3f} ms.", "",
              "| workers | connections | generator | p50 ms | p99 ms | req/s | errors | generator's CPU share | server's CPU share | load average (before, after) |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for key, r in runs.items():
        _, workers, _, conns = key.split("_")
        share = r.get("wrk_cpu_share_of_cores")
        lines.append(f"| {workers} | {conns} | {r['generator']} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | "
                     f"{r['requests_per_s']:,.0f} | {r['errors']} | {'—' if share is None else f'{share:.0%}'} | "
                     f"{r.get('server_cpu_share_of_cores', 0):.0%} | "
                     + ", ".join(f"{x:.1f}" for x in r.get("load_average", [])) + " |")
    return lines


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
        for offset, side, color in ((-0.27, "ours", "tab:blue"), (0, "postgres", "tab:orange"), (0.27, "duckdb", "tab:green")):
            if side in s:
                data.append([max(x, 1e-3) for x in s[side]])
                positions.append(n + offset)
                colors.append(color)
    parts = ax.boxplot(data, positions=positions, widths=0.25, patch_artist=True, showfliers=True,
                       flierprops={"markersize": 2})
    for patch, color in zip(parts["boxes"], colors):
        patch.set_facecolor(color)
    ax.set_yscale("log")
    ax.set_xticks(range(len(classes)))
    ax.set_xticklabels(classes, rotation=30, ha="right")
    ax.set_ylabel("latency per query (ms, log scale)")
    ax.set_title(f"Query latency at scale {scale}: unicorn in-process (blue), PostgreSQL (orange), DuckDB (green)")
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
