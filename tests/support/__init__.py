"""Helpers shared by the test modules of every app; fixtures stay in the conftest.py files.

- users: end users made the way the API makes them (welcome bonus included), funded to exact balances.
- ledger: money reads for assertions and the check that every ledger invariant holds.
- concurrency: running a worker on real threads released together.
- api: the bot's HTTP client and its auth header.
- admin: operator clients (pytest-django's admin_client for admin_user) and the changelist query-count pin.
- live: the OpenAPI operations seen by the live client tests, and the fake-mode YooKassa webhook.
- browser: screenshots and waits of the headless Chromium tests.
- processes: manage.py under production settings, free local ports.
"""
