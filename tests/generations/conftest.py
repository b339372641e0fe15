import pytest


@pytest.fixture(autouse=True)
def _rate_limits_off(settings):
    """Most tests create several jobs for one user; the rate-limit tests switch limits back on."""
    settings.RATE_LIMITS_ENABLED = False
