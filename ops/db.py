"""Session settings for maintenance work, and the database's own defaults; safe behind pgbouncer.

Behind a transaction-pooling pgbouncer consecutive transactions of one Django connection may run on
different server sessions, so a session-level SET would leak to another client and a RESET might
never reach the session that was changed. Everything here is transaction-scoped instead.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from psycopg import sql


@contextmanager
def maintenance_statement_timeout(*, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Runs the block in one transaction whose statement_timeout is MAINTENANCE_STATEMENT_TIMEOUT_MS.

    Web requests run with STATEMENT_TIMEOUT_MS (30 s); a whole-database check may need longer.
    `set_config(..., true)` is SET LOCAL: it ends with the transaction, on whatever server session the
    pooler gave it, so nothing is left behind for the next task or client. Only for blocks that may be
    one transaction (read-only checks); work that commits in batches sets the timeout per batch.
    """
    with transaction.atomic(using=using):
        with connections[using].cursor() as cursor:
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true)",
                [str(settings.MAINTENANCE_STATEMENT_TIMEOUT_MS)],
            )
        yield


def database_timeouts_set(*, using: str = DEFAULT_DB_ALIAS) -> str:
    """ALTER DATABASE <current> SET the web timeouts (for new sessions); returns the database's name."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        name = cursor.fetchone()[0]
        for parameter, value in (
            ("statement_timeout", settings.STATEMENT_TIMEOUT_MS),
            ("idle_in_transaction_session_timeout", settings.IDLE_IN_TRANSACTION_TIMEOUT_MS),
        ):
            # Utility statements take no bind parameters: psycopg composes the quoted identifier.
            statement = sql.SQL(" ").join(
                [
                    sql.SQL("ALTER DATABASE"),
                    sql.Identifier(name),
                    sql.SQL("SET"),
                    sql.Identifier(parameter),
                    sql.SQL("="),
                    sql.Literal(int(value)),
                ]
            )
            cursor.execute(statement)
    return name
