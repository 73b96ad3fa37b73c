"""Candidates for the typo lookup of unicorn.typos, over a scale's `name:` prefix vocabulary.

    python -m bench.typos [--scale S] [--queries 300]

The vocabulary is made from the generator's names (users, hashtags, places), without building an
index. Typed tokens: a vocabulary term of 5+ characters with one random substitution,
transposition or deletion in its first five characters (plus up to 3 more characters, so that
tokens of 8+ characters take the two-edit path). Every candidate must give the same answer (the
stored prefixes within the allowed edits); build time, Python memory (tracemalloc, measured in a
second build) and lookup p50/p99 are printed per vertical.

- rapidfuzz_scan: rapidfuzz.process.extract (OSA) over the terms of lengths len(t) - k .. len(t) + k
- unicorn.typos: the same over (length, position, character) buckets (what the typeahead uses)
- deletion_dict: a SymSpell deletion neighbourhood (up to 2 deletes) in a dict, verified with OSA
- symspellpy: symspellpy.SymSpell(max_dictionary_edit_distance=2, prefix_length=8), Verbosity.ALL
"""

from __future__ import annotations

import random
import statistics
import time
import tracemalloc

import click
import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from firehose.sources import generator
from unicorn.typos import Vocabulary, allowed
from vocabulary.schema import PREFIX_MAX
from vocabulary.text import tokens


def vocabularies(scale: str) -> dict[str, list[str]]:
    """The `name:` prefixes of the generator's users, hashtags and places at `scale` (seed 0)."""
    platform = generator.SyntheticPlatform.__new__(generator.SyntheticPlatform)
    platform.scale, platform.seed = generator.SCALES[scale], 0
    platform._rng = np.random.default_rng(0)
    platform._pools = generator._Pools(0, size=min(400, max(40, platform.scale.users // 20)))
    platform._ts = generator.T0
    platform._build_users()
    platform._build_hashtags()
    platform._build_places()
    prefixes = lambda names: sorted({n[:m] for n in names for m in range(1, min(len(n), PREFIX_MAX) + 1)})
    return {"user": prefixes([t for u, f in zip(platform.usernames, platform.full_names) for t in tokens(u) + tokens(f)]),
            "hashtag": prefixes(platform.tag_names),
            "place": prefixes([t for p in platform.places for t in tokens(p["name"])])}


def typed_tokens(terms: list[str], rng: random.Random, n: int) -> list[str]:
    out = []
    long = [t for t in terms if len(t) >= 5]
    while len(out) < n:
        t = rng.choice(long)
        at, kind = rng.randrange(5), rng.choice("sdt")
        t = (t[:at] + rng.choice("aeiounrst") + t[at + 1:] if kind == "s" else t[:at] + t[at + 1:] if kind == "d"
             else t[:at] + t[at + 1:at + 2] + t[at] + t[at + 2:]) + "xyz"[:rng.randint(0, 3)]
        if allowed(t):
            out.append(t)
    return out


def _deletes(word: str, k: int) -> set[str]:
    out, frontier = {word}, {word}
    for _ in range(k):
        frontier = {f[:i] + f[i + 1:] for f in frontier for i in range(len(f))}
        out |= frontier
    return out


class RapidfuzzScan:
    def __init__(self, terms):
        self.by_length: dict[int, list[str]] = {}
        for t in terms:
            self.by_length.setdefault(len(t), []).append(t)

    def lookup(self, typed):
        k, n = allowed(typed), len(typed)
        return {m[0] for length in range(n - k, min(n + k, PREFIX_MAX) + 1)
                for m in process.extract(typed, self.by_length.get(length, []), scorer=OSA.distance,
                                         score_cutoff=k, limit=None)}


class Buckets:
    def __init__(self, terms):
        self.vocabulary = Vocabulary("user")
        self.vocabulary._add(terms)

    def lookup(self, typed):
        k, n = allowed(typed), len(typed)
        return self.vocabulary._within(typed, k, range(n - k, min(n + k, PREFIX_MAX) + 1))


class DeletionDict:
    def __init__(self, terms):
        self.deletes: dict[str, list[str]] = {}
        for t in terms:
            for d in _deletes(t, 2 if len(t) >= 6 else 1):  # 2 edits serve typed tokens of 8+: terms of 6+
                self.deletes.setdefault(d, []).append(t)

    def lookup(self, typed):
        k, n = allowed(typed), len(typed)
        return {t for d in _deletes(typed, k) for t in self.deletes.get(d, ())
                if n - k <= len(t) <= n + k and OSA.distance(typed, t, score_cutoff=k) <= k}


class SymSpellPy:
    def __init__(self, terms):
        from symspellpy import SymSpell
        self.sym = SymSpell(max_dictionary_edit_distance=2, prefix_length=PREFIX_MAX)
        for t in terms:
            self.sym.create_dictionary_entry(t, 1)

    def lookup(self, typed):
        from symspellpy import Verbosity
        return {s.term for s in self.sym.lookup(typed, Verbosity.ALL, max_edit_distance=allowed(typed),
                                                 transfer_casing=False)}


CANDIDATES = {"rapidfuzz_scan": RapidfuzzScan, "unicorn.typos": Buckets, "deletion_dict": DeletionDict,
              "symspellpy": SymSpellPy}


def run(scale: str, queries: int) -> dict:
    rng = random.Random(0)
    out: dict = {}
    for vertical, terms in vocabularies(scale).items():
        typed = typed_tokens(terms, rng, queries)
        answers, figures = None, {}
        for name, make in CANDIDATES.items():
            started = time.perf_counter()
            index = make(terms)
            build_s = time.perf_counter() - started
            tracemalloc.start()
            second = make(terms)
            memory = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
            del second
            times, got = [], []
            for t in typed:
                started = time.perf_counter()
                got.append(index.lookup(t))
                times.append((time.perf_counter() - started) * 1000)
            answers = answers or got
            times.sort()
            figures[name] = {"build_s": round(build_s, 2), "memory_mib": round(memory / 2**20, 1),
                             "p50_ms": round(statistics.median(times), 4),
                             "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 4),
                             "same_answers": sum(a == g for a, g in zip(answers, got))}
        out[vertical] = {"terms": len(terms), "queries": len(typed), "candidates": figures}
    return out


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--scale", default="S", show_default=True, help="Generator scale: S, demo, M or L.")
@click.option("--queries", default=300, show_default=True, type=click.IntRange(min=1), help="Typed tokens per vertical.")
def main(scale: str, queries: int) -> None:
    """Candidates for the typo lookup of unicorn.typos, over a scale's `name:` prefix vocabulary."""
    for vertical, result in run(scale, queries).items():
        click.echo(f"{vertical}: {result['terms']:,} prefixes, {result['queries']} typed tokens")
        for name, f in result["candidates"].items():
            click.echo(f"  {name:<15} build {f['build_s']:7.2f} s  {f['memory_mib']:7.1f} MiB  "
                  f"p50 {f['p50_ms']:.3f} ms  p99 {f['p99_ms']:.3f} ms  same answers {f['same_answers']}/{result['queries']}")


if __name__ == "__main__":
    main()
