"""seed_demo's data, two jobs: `demo` makes a small demo through the services (idempotent), `bulk` loads
users, money operations and logs at scale with set-based SQL (each run adds)."""

from ops.seeding.bulk import LoadReport, load_seed, load_total_rows
from ops.seeding.demo import DemoReport, demo_seed

__all__ = ["DemoReport", "LoadReport", "demo_seed", "load_seed", "load_total_rows"]
