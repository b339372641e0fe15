import pytest

from billing.models import Plan


@pytest.fixture(autouse=True)
def _rate_limits_off(settings):
    """Most tests create several jobs for one user; the rate-limit tests switch limits back on."""
    settings.RATE_LIMITS_ENABLED = False


@pytest.fixture
def limits(settings):
    """Plan limits on, and a setter for the free plan's limits (unset ones unlimited)."""
    settings.RATE_LIMITS_ENABLED = True

    def set_free_limits(**values):
        Plan.objects.filter(code="free").update(
            limits={"per_minute": None, "concurrent": None, "per_day": None, **values}
        )

    return set_free_limits
