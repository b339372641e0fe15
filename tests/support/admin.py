"""Operators' side of the tests: the changelist query-count pin."""


def changelist_queries_pinned(client, django_assert_num_queries, url: str, make_rows, queries: int) -> None:
    """An admin changelist costs `queries` at 1 row and at 50 rows (house style: counts do not grow)."""
    for rows in (1, 50):
        make_rows(rows)
        with django_assert_num_queries(queries):
            response = client.get(url)
        assert response.status_code == 200
