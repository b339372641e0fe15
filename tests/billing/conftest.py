"""Fixtures of the billing tests."""

from tests.billing.yookassa_emulator import yookassa_live  # noqa: F401  (a fixture: YooKassa in live mode, emulated)
