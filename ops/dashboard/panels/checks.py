from datetime import timedelta

from django.utils.translation import gettext_lazy as _

from ops import selectors
from ops.dashboard.base import Panel, changelist_url
from ops.models import DebugLog


def build(now):
    since = now - timedelta(hours=24)
    errors = selectors.debug_log_counts_since(since=since)
    return {
        "ledger_check": selectors.ledger_check_run_latest(),
        "ledger_check_url": changelist_url("ops.LedgerCheckRun"),
        "errors_24h": errors.get(DebugLog.Level.ERROR, 0) + errors.get(DebugLog.Level.CRITICAL, 0),
        "warnings_24h": errors.get(DebugLog.Level.WARNING, 0),
        "errors_url": changelist_url(
            "ops.DebugLog", level__exact=DebugLog.Level.ERROR, created_at__gte=str(since)
        ),
        "warnings_url": changelist_url(
            "ops.DebugLog", level__exact=DebugLog.Level.WARNING, created_at__gte=str(since)
        ),
    }


PANEL = Panel("checks", _("Checks and errors"), "ops.view_debuglog", build, order=30)
