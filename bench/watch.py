"""Watch a sharded deployment index (`unicorn index --shards`, `unicorn demo --shards`) on this machine:
per index what it has applied and its size, per process its CPU and memory, sampled while it runs.

    python -m bench.watch --data DATA [--every 60] [--out FILE.jsonl]

A sample per interval, as one JSON line: for the documents stage (DATA/index, source "embedded") and
each shard replica (source "changes") the applied total (firehose events; changes records) and the
index's bytes on disk; for each process whose command line names DATA (the supervisor and its
children) its user+system CPU seconds and RSS. At the end (Ctrl-C, or with `--until-idle` once nothing
moved for three samples after something did) it prints the rates over the whole watch: events/s of
the documents stage, and per index applied/s, CPU seconds per 1,000 documents-stage events and peak RSS.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import click
import orjson

from indexer.stats import meta_key
from indexer.store import Index
from vocabulary import paths
from vocabulary.shards import find_layout

TICKS = os.sysconf("SC_CLK_TCK")


def indexes(data: Path) -> dict[str, tuple[Path, str]]:
    """Name -> (index path, indexer source) of the deployment's indexes."""
    layout = find_layout(data)
    if layout is None:
        raise click.ClickException(f"{data} holds no sharded deployment (no layout)")
    found = {"documents": (paths.index(data), "embedded")}
    for shard in range(layout.shards):
        for replica in range(layout.replicas):
            found[f"shard {shard}.{replica}"] = (layout.index(data, shard, replica), "changes")
    return found


def applied(path: Path, source: str) -> tuple[int, int]:
    """The applied total of `source` and the bytes on disk of the index at `path` (0, 0 before it exists)."""
    if not Index.exists(path):
        return 0, 0
    index = Index(path, readonly=True)
    try:
        with index.reader() as view:
            meta = view.meta(meta_key(source)) or {}
        return meta.get("applied_total", 0), index.size_bytes()
    finally:
        index.close()


def processes(data: Path) -> dict[int, dict]:
    """PID -> command, CPU seconds and RSS bytes of the processes whose command line names `data`."""
    found = {}
    needle = str(data).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            if needle not in cmdline:
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            status = (entry / "status").read_text()
        except OSError:
            continue
        rss = next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
        found[int(entry.name)] = {"cmd": cmdline.replace(b"\0", b" ").decode(errors="replace").strip(),
                                  "cpu_s": (int(fields[11]) + int(fields[12])) / TICKS, "rss": rss}
    return found


def role(cmd: str) -> str:
    """Which part of the deployment a command line is."""
    words = cmd.split()
    if "indexer.local" in words and "shard" in words:
        at = words.index("shard")
        return f"shard {words[at + 2]}.{words[at + 3]}" if len(words) > at + 3 else "shard"  # shard DATA S R
    if "indexer.local" in words and "documents" in words:
        return "documents"
    return "supervisor"


def sample(data: Path, names: dict[str, tuple[Path, str]]) -> dict:
    procs = processes(data)
    return {
        "t": time.time(),
        "indexes": {name: dict(zip(("applied", "bytes"), applied(path, source)))
                    for name, (path, source) in names.items()},
        "processes": {str(pid): p | {"role": role(p["cmd"])} for pid, p in procs.items()},
    }


def summary(first: dict, last: dict, peak_rss: dict[str, int], cpu: dict[str, float]) -> list[str]:
    seconds = last["t"] - first["t"]
    docs = last["indexes"]["documents"]["applied"] - first["indexes"]["documents"]["applied"]
    lines = [f"over {seconds:,.0f} s: documents stage {docs:,} events, {docs / seconds:,.0f} events/s"]
    for name, index in last["indexes"].items():
        done = index["applied"] - first["indexes"][name]["applied"]
        per = f", {cpu.get(name, 0.0) / docs * 1000:.2f} CPU s per 1,000 events" if docs else ""
        lines.append(f"  {name}: {done:,} applied ({done / seconds:,.1f}/s), {index['bytes'] / 2**30:.2f} GiB, "
                     f"CPU {cpu.get(name, 0.0):,.1f} s{per}, peak RSS {peak_rss.get(name, 0) / 2**20:,.0f} MiB")
    return lines


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--every", default=60.0, show_default=True, type=click.FloatRange(min=1), help="Seconds between samples.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Append each sample here (JSON lines).")
@click.option("--until-idle", is_flag=True, help="Stop once no index moved for three samples, after one did.")
def main(data: Path, every: float, out: Path | None, until_idle: bool) -> None:
    """Sample a sharded deployment's indexes and processes while it indexes; print the rates at the end."""
    data = data.resolve()
    names = indexes(data)
    first = previous = sample(data, names)
    peak_rss: dict[str, int] = {}
    cpu_by_pid: dict[int, tuple[str, float, float]] = {}  # pid -> role, first and last CPU seconds
    idle, started = 0, False
    try:
        while True:
            current = sample(data, names)
            for pid, p in current["processes"].items():
                peak_rss[p["role"]] = max(peak_rss.get(p["role"], 0), p["rss"])
                start = cpu_by_pid.get(int(pid), (p["role"], p["cpu_s"], p["cpu_s"]))[1]
                cpu_by_pid[int(pid)] = (p["role"], start, p["cpu_s"])
            if out:
                with out.open("ab") as f:
                    f.write(orjson.dumps(current) + b"\n")
            moved = any(current["indexes"][n]["applied"] != previous["indexes"][n]["applied"] for n in names)
            started = started or moved
            idle = 0 if moved or not started else idle + 1
            click.echo(f"{time.strftime('%H:%M:%S')} " + ", ".join(
                f"{n} {i['applied']:,}" for n, i in current["indexes"].items()), err=True)
            previous = current
            if until_idle and idle >= 3:
                break
            time.sleep(every)
    except KeyboardInterrupt:
        pass
    cpu: dict[str, float] = {}
    for name, start, end in cpu_by_pid.values():
        cpu[name] = cpu.get(name, 0.0) + end - start
    for line in summary(first, previous, peak_rss, cpu):
        click.echo(line)


if __name__ == "__main__":
    main()
