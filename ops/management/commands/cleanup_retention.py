from django.core.management.base import BaseCommand, CommandError

from ops import services
from ops.errors import OpsError
from ops.locks import leader_lock, lease_seconds
from ops.retention import RETENTION_POLICIES, retention_policy_get


class Command(BaseCommand):
    help = "Deletes rows past their retention in small batches (the same work as the scheduled task)."

    def add_arguments(self, parser):
        parser.add_argument("--policy", action="append", help="Only this policy (repeatable).")
        parser.add_argument("--batch-size", type=int, default=services.RETENTION_BATCH_SIZE)
        parser.add_argument("--max-seconds", type=float, default=None, help="Time budget for the whole run.")
        parser.add_argument("--list", action="store_true", help="List the policies and exit.")

    def handle(self, *args, **options):
        if options["list"]:
            for policy in RETENTION_POLICIES:
                also = "".join(f" and {field}" for field in policy.also_past_cutoff)
                clears = f"empties {', '.join(policy.clear_fields)} of " if policy.clear_fields else ""
                off = "" if policy.enabled else ": off"
                self.stdout.write(
                    f"{policy.name}: {clears}{policy.model_label}.{policy.timestamp_field}{also} older than "
                    f"{policy.days} days ({policy.days_setting}){off}"
                )
            return
        try:
            policies = (
                tuple(retention_policy_get(name=name) for name in options["policy"])
                if options["policy"]
                else RETENTION_POLICIES
            )
        except OpsError as exc:
            raise CommandError(exc.message) from exc
        for policy in policies:
            if not policy.enabled:
                self.stdout.write(f"{policy.name} is off ({policy.days_setting}=0)")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        # The same lock as the scheduled task: a manual run and the nightly one never overlap.
        # A run by hand may have a longer budget than a task's lease.
        ttl = max(lease_seconds(), (options["max_seconds"] or 0) + 60)
        with leader_lock("ops.retention_cleanup", ttl_seconds=ttl) as acquired:
            if not acquired:
                raise CommandError("A retention cleanup is already running elsewhere.")
            runs = services.retention_cleanup_run(
                policies=policies, batch_size=options["batch_size"], max_seconds=options["max_seconds"]
            )
        failed = False
        for run in runs:
            state = (
                "error: " + run.error if run.error else ("done" if run.complete else "stopped at time budget")
            )
            self.stdout.write(
                f"{run.policy:<20} {run.table:<28} {run.rows_deleted:>10} rows  {run.batches:>5} batches  "
                f"{run.duration_ms:>8} ms  {state}"
            )
            failed = failed or bool(run.error)
        if failed:
            raise CommandError("At least one retention policy failed; see the errors above.")
