"""Operators' side of the tests: logged-in admin clients and the changelist query-count pin.

A client logged in as pytest-django's admin_user is its `admin_client` fixture; client_logged_in is for
any other operator (roles, permissions).
"""

from django.test import Client

from accounts.models import Operator


def client_logged_in(operator: Operator) -> Client:
    """A Django test client with `operator` logged in (force_login: no login form, no throttle counted)."""
    client = Client()
    client.force_login(operator)
    return client


def changelist_queries_pinned(client, django_assert_num_queries, url: str, make_rows, queries: int) -> None:
    """An admin changelist costs `queries` at 1 row and at 50 rows (house style: counts do not grow)."""
    for rows in (1, 50):
        make_rows(rows)
        with django_assert_num_queries(queries):
            response = client.get(url)
        assert response.status_code == 200
