import pytest


@pytest.fixture
def debug_log_to_database(settings):
    """Switches the debug log handler on (the test settings keep it off for other apps' query counts)."""
    settings.DEBUG_LOG_DATABASE = True
