"""Test-wide settings: hypothesis runs without per-example deadlines on this shared, noisy machine;
the real-server fixtures (`postgres`, `pg_dsn`, `tansu`) come from tests/pg.py and tests/brokers.py."""

from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.pg", "tests.brokers"]

settings.register_profile("project", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("project")
