import pytest

from tests.clients.conftest import botdesk, live_key, paid_model, recorder  # noqa: F401  (shared fixtures)


@pytest.fixture(autouse=True)
def _rate_limits_off(settings):
    settings.RATE_LIMITS_ENABLED = False
