"""Session settings for maintenance work on the shared connection."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections


@contextmanager
def maintenance_statement_timeout(*, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Raises statement_timeout to MAINTENANCE_STATEMENT_TIMEOUT_MS for the block.

    Web requests run with STATEMENT_TIMEOUT_MS (30 s); a whole-database check may need longer. RESET
    returns to the connection's start-up value, so a persistent connection handed to the next task
    is back at the web default.
    """
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('statement_timeout', %s, false)",
            [str(settings.MAINTENANCE_STATEMENT_TIMEOUT_MS)],
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")
