from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from ops.seeding import demo_seed, load_seed, load_total_rows


class Command(BaseCommand):
    help = (
        "Without options: a small demo data set made through the services (idempotent). With --users and "
        "--operations: load data through set-based bulk inserts (not idempotent: each run adds)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--users", type=int, default=0, help="End users to load (account, welcome bonus)."
        )
        parser.add_argument(
            "--operations",
            type=int,
            default=0,
            help="Money operations: half paid generations (job, captured hold, charge), half other credits.",
        )
        parser.add_argument("--provider-logs", type=int, default=0)
        parser.add_argument("--debug-logs", type=int, default=0)
        parser.add_argument("--days", type=int, default=365, help="How far back the loaded history reaches.")

    def handle(self, *args, **options) -> None:
        loading = (
            options["users"] or options["operations"] or options["provider_logs"] or options["debug_logs"]
        )
        if not loading:
            self.stdout.write(str(demo_seed()))
            return
        if options["users"] < 1:
            self.stderr.write("--users N (N >= 1) is needed to load operations and logs.")
            raise SystemExit(2)
        total = load_total_rows(
            users=options["users"],
            operations=options["operations"],
            provider_logs=options["provider_logs"],
            debug_logs=options["debug_logs"],
        )
        with tqdm(total=total, unit="row", unit_scale=True, file=self.stderr, dynamic_ncols=True) as bar:

            def progress(rows: int, stage: str) -> None:
                bar.set_postfix_str(stage)
                bar.update(rows)

            report = load_seed(
                users=options["users"],
                operations=options["operations"],
                provider_logs=options["provider_logs"],
                debug_logs=options["debug_logs"],
                days=options["days"],
                progress=progress,
            )
        self.stdout.write(str(report))
