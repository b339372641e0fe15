import logging

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate

logger = logging.getLogger(__name__)
SCHEDULE_TABLES = {"django_celery_beat_periodictask", "ops_schedule_sync"}


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Once per migrate (sender=self), after every app's migrations, so beat's tables exist.
        post_migrate.connect(sync_schedules_after_migrate, sender=self, dispatch_uid="ops.schedules_sync")


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
