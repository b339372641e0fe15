from django.core.management.base import BaseCommand

from ops import selectors
from ops.capacity import MEASURED

MB = 1024 * 1024


class Command(BaseCommand):
    help = "Prints the database size, per-table sizes (heap, indexes, TOAST), growth and the budget date."

    def add_arguments(self, parser):
        parser.add_argument("--top", type=int, default=0, help="Only the N largest tables (0: all).")
        parser.add_argument("--budget-mb", type=int, default=None, help="Budget to project against.")

    def handle(self, *args, **options):
        report = selectors.db_size_report(budget_mb=options["budget_mb"])
        out = self.stdout.write
        out(
            f"database: {report.database_bytes / MB:,.1f} MB of {report.budget_bytes / MB:,.0f} MB budget "
            f"({report.used_percent:.1f} %)"
        )
        if report.growth_bytes_per_day is None:
            out("growth: not enough daily snapshots yet (ops.tasks.db_size_snapshot takes one a day)")
        elif report.growth_source == selectors.GROWTH_FROM_ACTIVITY:
            out(
                f"growth: about {report.growth_bytes_per_day / MB:,.2f} MB/day, estimated from the last "
                f"{selectors.ACTIVITY_DAYS} days' jobs, operations and users (fewer than two daily snapshots yet)"
            )
        else:
            out(
                f"growth: {report.growth_bytes_per_day / MB:,.2f} MB/day over {len(report.snapshots)} snapshots"
            )
        if report.over_budget:
            out("budget: exceeded")
        elif report.projected_budget_date:
            out(f"budget: reached around {report.projected_budget_date:%Y-%m-%d}")
        else:
            out("budget: not reached at the current growth")
        if not report.over_budget:
            room = ", or ".join(f"{entry.count:,} {entry.unit.label}" for entry in report.room)
            out(f"room left: about {room} (each alone; bytes per unit from {MEASURED})")
        out("")
        out(
            f"{'table':<40} {'total MB':>10} {'heap MB':>10} {'index MB':>10} {'toast MB':>9} {'rows':>12} {'B/row':>7}"
        )
        tables = report.tables[: options["top"]] if options["top"] else report.tables
        for table in tables:
            rows = "?" if table.rows_estimate is None else f"{table.rows_estimate:,}"
            per_row = "" if table.bytes_per_row is None else str(table.bytes_per_row)
            out(
                f"{table.name:<40} {table.total_bytes / MB:>10.2f} {table.heap_bytes / MB:>10.2f} "
                f"{table.index_bytes / MB:>10.2f} {table.toast_bytes / MB:>9.2f} {rows:>12} {per_row:>7}"
            )
