import pytest


@pytest.fixture(autouse=True)
def _rate_limits_off(settings):
    settings.RATE_LIMITS_ENABLED = False
