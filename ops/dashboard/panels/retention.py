from django.utils.translation import gettext_lazy as _

from ops import selectors
from ops.dashboard.base import Panel, changelist_url


def build(now):
    latest = list(selectors.retention_runs_latest_per_policy())
    return {
        "runs": latest,
        "last_started_at": max((run.started_at for run in latest), default=None),
        "failed": [run for run in latest if run.error],
        "url": changelist_url("ops.RetentionRun"),
    }


PANEL = Panel("retention", _("Retention"), "ops.view_retentionrun", build, wide=True, order=40)
