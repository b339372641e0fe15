"""`manage.py db_timeouts`: the web timeouts as defaults of the database itself.

Behind a transaction-pooling pgbouncer Botdesk cannot send its timeouts as startup `options`
(pgbouncer refuses them) and must not SET them per session (the server connection is shared). Set on
the database (`ALTER DATABASE ... SET`, allowed to its owner), every new server session starts with
them. scripts/setup.sh and scripts/stress.sh run this; in production run it once after `migrate`
(README, Production). Sessions opened before it keep their old values until they reconnect.
"""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, connections

from ops.db import database_timeouts_set


class Command(BaseCommand):
    help = "Sets statement_timeout and idle_in_transaction_session_timeout on the database (ALTER DATABASE)."

    def add_arguments(self, parser):
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, database: str, **options):
        name = database_timeouts_set(using=database)
        self.stdout.write(
            f"database {name}: statement_timeout={settings.STATEMENT_TIMEOUT_MS} ms, "
            f"idle_in_transaction_session_timeout={settings.IDLE_IN_TRANSACTION_TIMEOUT_MS} ms "
            f"for new sessions ({connections[database].vendor})"
        )
