"""Test-wide settings: hypothesis runs without per-example deadlines on this shared, noisy machine."""

from hypothesis import HealthCheck, settings

settings.register_profile("project", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("project")
