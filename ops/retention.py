"""Retention policies: which tables only grow, and how long their rows are kept.

Models are named by label and resolved with django.apps when the cleanup runs, so a policy for another
app's table is one line here and ops never imports that app. Days come from a setting, read at run
time, so operators change retention through the environment without a deploy.

Adding a table: one `RetentionPolicy(...)` line below (name, model label, timestamp field, days setting)
and the days setting, with its default, in config/settings/base.py (the one place a default lives). The timestamp field should be indexed (or be the table's insertion order): each batch selects the oldest
expired primary keys through it. `also_past_cutoff` names more timestamp fields that must be past the cutoff too; a
NULL there never is, so rows still waiting for that step (an unprocessed provider event) are kept whatever their age.
A policy with `clear_fields` keeps its rows and empties those text fields of the expired ones instead; 0 days turns
it off (kept forever).
`only_if` is a further condition a row must meet to go; `walk_by` names the indexed field the batches walk instead
of the timestamp field, for a table whose timestamps have no index but whose ids grow with them.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import Q

from ops.errors import OpsError


@dataclass(frozen=True)
class RetentionPolicy:
    name: str
    model_label: str  # "app_label.ModelName"
    timestamp_field: str
    days_setting: str
    also_past_cutoff: tuple[str, ...] = ()
    clear_fields: tuple[str, ...] = ()
    only_if: Q | None = None
    walk_by: str = ""

    @property
    def days(self) -> int:
        # A name held in data: every days setting is declared with its default in config/settings/base.py.
        return int(getattr(settings, self.days_setting))

    @property
    def enabled(self) -> bool:
        return not self.clear_fields or self.days > 0

    def cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=self.days)

    @property
    def cutoff_fields(self) -> tuple[str, ...]:
        return (self.timestamp_field, *self.also_past_cutoff)

    def expired_filter(self, cutoff: datetime) -> dict[str, datetime]:
        return {f"{field}__lt": cutoff for field in self.cutoff_fields}

    def model(self) -> type[models.Model]:
        try:
            model = apps.get_model(self.model_label)
        except LookupError as exc:
            raise OpsError(
                f"Retention policy {self.name}: no model {self.model_label}.", code="not_found"
            ) from exc
        for field in (*self.cutoff_fields, *self.clear_fields):
            model._meta.get_field(field)  # fails loudly on a typo, before any delete
        return model


RETENTION_POLICIES: tuple[RetentionPolicy, ...] = (
    RetentionPolicy("debug-logs", "ops.DebugLog", "created_at", "LOG_RETENTION_DAYS"),
    RetentionPolicy("provider-logs", "generations.ProviderLog", "created_at", "LOG_RETENTION_DAYS"),
    # Jobs stay (status, cost, their money, the usage rollups); what the person asked and got goes.
    RetentionPolicy(
        "generation-prompts",
        "generations.Generation",
        "created_at",
        "PROMPT_RETENTION_DAYS",
        clear_fields=("prompt", "result_url"),
    ),
    RetentionPolicy("retention-runs", "ops.RetentionRun", "started_at", "OPS_RUN_RETENTION_DAYS"),
    RetentionPolicy("ledger-check-runs", "ops.LedgerCheckRun", "started_at", "OPS_RUN_RETENTION_DAYS"),
    RetentionPolicy("db-size-snapshots", "ops.DbSizeSnapshot", "taken_at", "DB_SIZE_SNAPSHOT_DAYS"),
    # YooKassa notifications are kept for audit: only those processed (credited, duplicate, mismatch...)
    # more than PROVIDER_EVENT_RETENTION_DAYS ago go; one never processed stays until someone looks at it.
    # received_at is indexed and never later than processed_at, so batches walk the index.
    RetentionPolicy(
        "provider-events",
        "billing.ProviderEvent",
        "received_at",
        "PROVIDER_EVENT_RETENTION_DAYS",
        also_past_cutoff=("processed_at",),
    ),
    # Events sent to the bots' webhooks: delivered (or given up) more than WEBHOOK_EVENT_RETENTION_DAYS
    # ago; a pending one is kept whatever its age. created_at is indexed and never later than finished_at.
    RetentionPolicy(
        "webhook-events",
        "accounts.BotEvent",
        "created_at",
        "WEBHOOK_EVENT_RETENTION_DAYS",
        also_past_cutoff=("finished_at",),
    ),
    # Holds resolved (captured, released, expired) more than HOLD_RETENTION_DAYS ago: the job and the
    # ledger's charge keep every fact a hold had, and a charge is refunded from the ledger once its hold is
    # gone. An open hold has no resolved_at, so it is never past the cutoff; a hold a payment refund names
    # is kept (the refund may still be settled after it expired). Holds have no created_at index, but
    # their ids grow with it: batches walk the primary key.
    RetentionPolicy(
        "resolved-holds",
        "billing.Hold",
        "created_at",
        "HOLD_RETENTION_DAYS",
        also_past_cutoff=("resolved_at",),
        only_if=Q(status__in=("captured", "released", "expired"), payment_refund__isnull=True),
        walk_by="pk",
    ),
    # Expired operator sessions: Django only removes them when `clearsessions` is run.
    RetentionPolicy("expired-sessions", "sessions.Session", "expire_date", "SESSION_RETENTION_DAYS"),
)


def retention_policy_get(*, name: str) -> RetentionPolicy:
    for policy in RETENTION_POLICIES:
        if policy.name == name:
            return policy
    known = ", ".join(policy.name for policy in RETENTION_POLICIES)
    raise OpsError(f"No retention policy {name!r}; known: {known}.", code="not_found")
