import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _auth_throttle_counters_cleared():
    """Failure counters live in the cache; each test starts (and leaves) with none."""
    cache.clear()
    yield
    cache.clear()
