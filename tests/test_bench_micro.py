"""The engine's pytest-benchmark micro-benchmarks (tests/bench_engine.py), collected in CI so that
they always run; CI does not judge their numbers, each still asserts its result is right."""

from tests.bench_engine import (  # noqa: F401  (collected by pytest)
    bitmaps,
    test_and_of_three_bitmaps,
    test_or_of_three_bitmaps,
    test_parse_and_typecheck,
    test_top_20_of_a_million_media,
)
