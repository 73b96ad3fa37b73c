"""`python -m bench`: the benchmark harness (see bench/harness.py for the scenarios)."""

from __future__ import annotations

import argparse
import shlex
import sys

from bench import harness


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench", description=harness.__doc__.splitlines()[0])
    parser.add_argument("--scale", default="S", help="S, demo, M or L (firehose.sources.generator)")
    parser.add_argument("--scenario", action="append", choices=harness.SCENARIOS,
                        help="repeatable; default: all of them")
    parser.add_argument("--out", help="report directory (default bench/results/SCALE)")
    parser.add_argument("--data", help="index and PostgreSQL data, reused between runs (default /tmp/unicorn-bench/SCALE)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--queries", type=int, default=100, help="queries per class and repeat")
    parser.add_argument("--relevance-pairs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.queries < 1:
        parser.error("--repeats and --queries must be at least 1")
    command = "python -m bench " + shlex.join(argv)
    try:
        harness.run(args.scale, tuple(args.scenario or harness.SCENARIOS), args.out, args.repeats, data=args.data,
                    queries=args.queries, seed=args.seed, relevance_pairs=args.relevance_pairs,
                    command=command)
    except harness.MismatchError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
