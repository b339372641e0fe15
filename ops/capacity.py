"""What one unit of business costs on disk, and how many of each the rest of the budget holds.

The bytes are measured, not estimated: `bench/capacity.py --load --settle` loads the promised mix
(40,000 users, 2,000,000 paid generations, 2,000,000 other operations, 400,000 provider logs, 200,000
debug logs) into its own database with default settings, lets retention run, and divides each group of
tables (heap, indexes, TOAST) by its rows; bench/README.md ("Capacity") has the run. Re-measure and
update these figures when a table, an index or a retention default changes.

The dashboard's database panel, the database size page and `manage.py db_size` turn the budget that is
left into these units ("room for about N paid generations"), so an operator reads the budget in the
business's own terms. The date the budget is reached comes from the measured daily growth (size
snapshots); until there are two, from the last week's activity priced at these bytes per unit.
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

MEASURED = "bench/capacity.py --load --settle, 2026-12-02, default settings"


@dataclass(frozen=True)
class UnitCost:
    code: str
    label: str | Promise
    bytes: int  # heap, indexes and TOAST of everything one unit writes, with default settings


UNIT_COSTS: tuple[UnitCost, ...] = (
    # The job, its hold while it is kept (HOLD_RETENTION_DAYS) and its charge in the ledger.
    UnitCost("paid_generation", _("paid generations"), 584),
    # A ledger entry, plus the payment row of a top-up (40 % of the mix).
    UnitCost("other_operation", _("other operations (top-ups, bonuses, refunds)"), 389),
    # The profile, the account and the welcome bonus entry.
    UnitCost("user", _("new users"), 1185),
)


@dataclass(frozen=True)
class Room:
    unit: UnitCost
    count: int  # how many of this unit alone fit in the bytes left


def capacity_growth_per_day(*, paid_generations: int, other_operations: int, users: int, days: int) -> float:
    """Bytes a day at this activity: what a new database grows by before it has daily size snapshots."""
    costs = {unit.code: unit.bytes for unit in UNIT_COSTS}
    added = (
        paid_generations * costs["paid_generation"]
        + other_operations * costs["other_operation"]
        + users * costs["user"]
    )
    return added / days


def capacity_room(*, database_bytes: int, budget_bytes: int) -> list[Room]:
    """How many of each unit the budget still holds, each unit alone; nothing once the budget is used."""
    left = max(budget_bytes - database_bytes, 0)
    return [Room(unit=unit, count=left // unit.bytes) for unit in UNIT_COSTS]
