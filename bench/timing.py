"""Latency figures from samples in milliseconds: percentiles of one run, and the summary of repeats."""

from __future__ import annotations

import statistics


def percentile(samples: list[float], q: float) -> float:
    """The sample at rank floor(n * q) of the sorted samples (the last one for q near 1)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def percentiles(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(samples), 4), "p99_ms": round(percentile(samples, 0.99), 4),
            "n": len(samples)}


def summarize(per_repeat: list[list[float]]) -> dict:
    """p50/p99/mean over the samples of every repeat together (`n` of them), and the spread (min, max) of
    each figure over the repeats taken one by one."""
    pooled = [x for samples in per_repeat for x in samples]
    figures: dict = {}
    for name, fn in (("p50_ms", statistics.median), ("p99_ms", lambda s: percentile(s, 0.99)),
                     ("mean_ms", statistics.fmean)):
        values = [fn(samples) for samples in per_repeat]
        figures[name] = round(fn(pooled), 4)
        figures[name.replace("_ms", "_spread_ms")] = [round(min(values), 4), round(max(values), 4)]
    figures["n"] = len(pooled)
    figures["repeats"] = len(per_repeat)
    figures["queries_per_repeat"] = len(per_repeat[0])
    return figures
