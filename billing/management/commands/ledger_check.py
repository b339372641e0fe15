import sys

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from billing.checks import ledger_invariants_check


class Command(BaseCommand):
    help = (
        "Verifies every money invariant (design.md section 4) over the whole database; exits 1 on a failure."
    )

    def add_arguments(self, parser):
        parser.add_argument("--hold-grace-seconds", type=int, default=120)

    def handle(self, *args, hold_grace_seconds: int, **options):
        # A whole-database check may outlast the web statement timeout. SET LOCAL (set_config(..., true))
        # in one read-only transaction: behind a transaction-pooling pgbouncer a session-level SET
        # would stay on the server session and reach other clients.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true)",
                [str(settings.MAINTENANCE_STATEMENT_TIMEOUT_MS)],
            )
            results = ledger_invariants_check(hold_grace_seconds=hold_grace_seconds)
        for result in results:
            mark = "ok  " if result.ok else "FAIL"
            self.stdout.write(f"{mark} {result.invariant}" + (f": {result.detail}" if result.detail else ""))
            for sample in result.samples:
                self.stdout.write(f"       {sample}")
        failed = [result for result in results if not result.ok]
        self.stdout.write(f"ledger_check: {len(results) - len(failed)} passed, {len(failed)} failed")
        if failed:
            sys.exit(1)
