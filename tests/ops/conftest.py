import pytest
from django.test import Client


@pytest.fixture
def admin_client_logged_in(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def debug_log_to_database(settings):
    """Switches the debug log handler on (the test settings keep it off for other apps' query counts)."""
    settings.DEBUG_LOG_DATABASE = True
