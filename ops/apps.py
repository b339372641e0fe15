import logging

from django.apps import AppConfig
from django.conf import settings
from django.db import connections
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)
SCHEDULE_TABLES = {"django_celery_beat_periodictask", "ops_schedule_sync"}


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = _("Operations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Once per migrate (sender=self), after every app's migrations, so beat's tables exist.
        post_migrate.connect(sync_schedules_after_migrate, sender=self, dispatch_uid="ops.schedules_sync")
        if settings.DATABASE_POOLER:
            connection_created.connect(pooled_session_timeouts_check, dispatch_uid="ops.pooled_timeouts")


_pooled_timeouts_warned = False


def pooled_session_timeouts_check(sender, connection, **kwargs) -> None:
    """Behind pgbouncer the timeouts come from the database's defaults (`manage.py db_timeouts`), not
    from the connection: a session without them is reported loudly, once per process."""
    global _pooled_timeouts_warned
    if _pooled_timeouts_warned or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout')"
        )
        statement, idle = cursor.fetchone()
    if "0" in (statement, idle):
        _pooled_timeouts_warned = True
        logger.error(
            "DATABASE_POOLER=%s but the session has statement_timeout=%s, idle_in_transaction_session_timeout=%s: "
            "run `manage.py db_timeouts` against the database (README, Production)",
            settings.DATABASE_POOLER,
            statement,
            idle,
        )


def sync_schedules_after_migrate(sender, using: str = "default", verbosity: int = 1, **kwargs) -> None:
    from ops.services import schedules_sync

    # A partial migrate (`migrate ops zero`, one app only) may leave these tables missing.
    if not SCHEDULE_TABLES.issubset(connections[using].introspection.table_names()):
        return
    outcomes = schedules_sync(using=using)
    if verbosity >= 1:
        changed = {name: outcome for name, outcome in outcomes.items() if outcome != "unchanged"}
        if changed:
            summary = ", ".join(f"{name} {outcome}" for name, outcome in changed.items())
            print(f"  Beat schedules: {summary}")
