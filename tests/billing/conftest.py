"""Fixtures of the billing tests."""

import pytest

from tests.billing.yookassa_emulator import yookassa_live  # noqa: F401  (a fixture: YooKassa in live mode, emulated)
from tests.support.ledger import assert_ledger_clean


@pytest.fixture
def ledger_clean_after():
    """Whatever a test does through the API, every money invariant holds afterwards."""
    yield
    assert_ledger_clean()
