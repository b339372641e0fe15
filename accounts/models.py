from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _


class Operator(AbstractUser):
    """A person who logs in to the admin. End users of the bots are `EndUser` and never log in."""

    class Meta:
        verbose_name_plural = _("operators")
        db_table = "accounts_operator"
        verbose_name = _("operator")


def _trigram_upper(field: str, name: str) -> GinIndex:
    # The admin searches names with icontains, which PostgreSQL runs as UPPER(col) LIKE UPPER('%q%');
    # a trigram index on the same expression keeps that fast on a million users.
    return GinIndex(OpClass(Upper(field), name="gin_trgm_ops"), name=name)


class EndUser(models.Model):
    """A user of a bot: identified by a Telegram id, an anonymous device id and/or an external auth id."""

    telegram_id = models.BigIntegerField(unique=True, null=True, blank=True, verbose_name=_("telegram id"))
    device_id = models.CharField(
        max_length=128, unique=True, null=True, blank=True, verbose_name=_("device id")
    )
    external_id = models.CharField(
        max_length=128, unique=True, null=True, blank=True, verbose_name=_("external id")
    )
    username = models.CharField(max_length=64, blank=True, default="", verbose_name=_("username"))
    first_name = models.CharField(max_length=128, blank=True, default="", verbose_name=_("first name"))
    last_name = models.CharField(max_length=128, blank=True, default="", verbose_name=_("last name"))
    language_code = models.CharField(max_length=16, blank=True, default="", verbose_name=_("language code"))
    referrer = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="referrals",
        verbose_name=_("referrer"),
    )
    # Set when an anonymous user was merged into a registered one; the row stays because the
    # append-only ledger still points at its accounts.
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_users",
        verbose_name=_("merged into"),
    )
    # Blocked by an operator: spending and starting anything answers 403 (bot-api.md, v1.1); money
    # already paid is still recorded and refunds stay possible. Each change is in UserBlockAudit.
    # Database defaults too: bulk loads (seed_demo) insert raw rows.
    is_blocked = models.BooleanField(default=False, db_default=False, verbose_name=_("is blocked"))
    blocked_reason = models.CharField(
        max_length=255, blank=True, default="", db_default="", verbose_name=_("blocked reason")
    )
    blocked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("blocked at"))
    blocked_by = models.ForeignKey(
        "accounts.Operator",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("blocked by"),
    )
    # Set when the person asked to be forgotten (152-FZ, GDPR): identities replaced, personal fields cleared.
    anonymized_at = models.DateTimeField(null=True, blank=True, verbose_name=_("anonymized at"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name_plural = _("end users")
        db_table = "accounts_end_user"
        verbose_name = _("end user")
        permissions = [
            ("block_enduser", "Can block and unblock end users"),
            ("anonymize_enduser", "Can anonymize end users (right to be forgotten)"),
        ]
        constraints = [
            models.CheckConstraint(
                name="end_user_has_identity",
                condition=Q(telegram_id__isnull=False)
                | Q(device_id__isnull=False)
                | Q(external_id__isnull=False)
                | Q(merged_into__isnull=False),
            ),
            models.CheckConstraint(name="end_user_not_own_referrer", condition=~Q(referrer=models.F("pk"))),
            models.CheckConstraint(name="end_user_device_id_not_empty", condition=~Q(device_id="")),
            models.CheckConstraint(name="end_user_external_id_not_empty", condition=~Q(external_id="")),
        ]
        indexes = [
            models.Index(
                fields=["referrer"], name="end_user_referrer_idx", condition=Q(referrer__isnull=False)
            ),
            _trigram_upper("username", "end_user_username_trgm"),
            _trigram_upper("first_name", "end_user_first_name_trgm"),
            _trigram_upper("last_name", "end_user_last_name_trgm"),
        ]

    def __str__(self) -> str:
        return self.display_ref

    @property
    def is_anonymous_user(self) -> bool:
        return self.telegram_id is None and self.external_id is None

    @property
    def display_ref(self) -> str:
        """The `{user}` path form that names this user, preferring the Telegram id."""
        if self.telegram_id is not None:
            return str(self.telegram_id)
        if self.external_id:
            return f"ext:{self.external_id}"
        if self.device_id:
            return f"device:{self.device_id}"
        return f"#{self.pk}"


class UserBlockAudit(models.Model):
    """Who blocked or unblocked a user, when and why: appended by the block services, never edited."""

    class Action(models.TextChoices):
        BLOCK = "block", _("block")
        UNBLOCK = "unblock", _("unblock")

    user = models.ForeignKey(
        EndUser, on_delete=models.PROTECT, related_name="block_audits", verbose_name=_("user")
    )
    action = models.CharField(max_length=8, choices=Action.choices, verbose_name=_("action"))
    reason = models.CharField(max_length=255, verbose_name=_("reason"))
    operator = models.ForeignKey(
        "accounts.Operator",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("operator"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("block audit records")
        db_table = "accounts_user_block_audit"
        verbose_name = _("block audit record")
        indexes = [models.Index(fields=["user", "-id"], name="user_block_audit_user_idx")]

    def __str__(self) -> str:
        return f"{self.action} #{self.user_id}"


class ApiKey(models.Model):
    """A bot's credential. Only a SHA-256 of the key is stored; the key itself is shown once."""

    name = models.CharField(max_length=100, verbose_name=_("name"))
    prefix = models.CharField(
        max_length=16, help_text=_("First characters of the key, to recognise it."), verbose_name=_("prefix")
    )
    key_hash = models.CharField(max_length=64, unique=True, verbose_name=_("key hash"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last used at"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))
    created_by = models.ForeignKey(
        "accounts.Operator",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name_plural = _("API keys")
        db_table = "accounts_api_key"
        verbose_name = _("API key")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# --- Events sent to the bots' webhooks (bot-api.md, "Events sent to the bot") --------------------
# Not to be confused with accounts/events.py, the in-process domain events between apps.


class BotEventType(models.TextChoices):
    PAYMENT_SUCCEEDED = "payment.succeeded", _("payment.succeeded")
    PAYMENT_CANCELED = "payment.canceled", _("payment.canceled")
    REFUND_SUCCEEDED = "refund.succeeded", _("refund.succeeded")
    GENERATION_TIMEOUT = "generation.timeout", _("generation.timeout")
    SUBSCRIPTION_RENEWED = "subscription.renewed", _("subscription.renewed")
    SUBSCRIPTION_EXPIRED = "subscription.expired", _("subscription.expired")


class WebhookEndpoint(models.Model):
    """Where the events of one API key go. The signing secret is needed in clear to sign, so it is
    encrypted (Fernet, keyed from SECRET_KEY), not hashed."""

    api_key = models.OneToOneField(
        ApiKey, on_delete=models.CASCADE, related_name="webhook", verbose_name=_("api key")
    )
    url = models.CharField(max_length=2000, verbose_name=_("url"))
    # Null: every event type, including types added later.
    events = ArrayField(models.CharField(max_length=32), null=True, blank=True, verbose_name=_("events"))
    secret_encrypted = models.TextField(verbose_name=_("secret encrypted"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name_plural = _("webhook endpoints")
        db_table = "accounts_webhook_endpoint"
        verbose_name = _("webhook endpoint")

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return self.events is None or event_type in self.events


class BotEvent(models.Model):
    """The outbox: one event for one API key's webhook, recorded in the transaction of the change it
    reports, with its delivery state. Each HTTP attempt is a `WebhookDelivery`."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed (gave up)")

    public_id = models.UUIDField(unique=True, editable=False, verbose_name=_("public id"))
    api_key = models.ForeignKey(
        ApiKey, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("api key")
    )
    type = models.CharField(max_length=32, choices=BotEventType.choices, verbose_name=_("type"))
    data = models.JSONField(encoder=DjangoJSONEncoder, verbose_name=_("data"))
    created_at = models.DateTimeField(db_index=True, verbose_name=_("created at"))
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, verbose_name=_("status")
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    # While an attempt runs this is its lease's end: a worker killed mid-delivery frees the event then.
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt at"))
    last_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last attempt at"))
    last_error = models.CharField(max_length=500, blank=True, default="", verbose_name=_("last error"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))
    # Delivered or given up: retention counts from here (pending events are never deleted).
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        verbose_name_plural = _("bot events")
        db_table = "accounts_bot_event"
        verbose_name = _("bot event")
        permissions = [("redeliver_botevent", "Can send bot events to the webhook again")]
        constraints = [
            models.CheckConstraint(
                name="bot_event_pending_is_due_sometime",
                condition=~Q(status="pending") | Q(next_attempt_at__isnull=False),
            ),
            models.CheckConstraint(
                name="bot_event_finished_has_time",
                condition=Q(status="pending") | Q(finished_at__isnull=False),
            ),
        ]
        indexes = [
            # The sweep reads only what is still to deliver, soonest first.
            models.Index(fields=["next_attempt_at"], name="bot_event_due_idx", condition=Q(status="pending")),
            models.Index(fields=["api_key", "-id"], name="bot_event_api_key_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"


class WebhookDelivery(models.Model):
    """One HTTP attempt to deliver an event: what the bot's server answered, or why it could not."""

    event = models.ForeignKey(
        BotEvent, on_delete=models.CASCADE, related_name="deliveries", db_index=False, verbose_name=_("event")
    )
    attempt = models.PositiveIntegerField(verbose_name=_("attempt"))
    url = models.CharField(max_length=2000, verbose_name=_("url"))
    started_at = models.DateTimeField(verbose_name=_("started at"))
    duration_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("duration ms"))
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("status code"))
    ok = models.BooleanField(default=False, verbose_name=_("ok"))
    error = models.CharField(max_length=500, blank=True, default="", verbose_name=_("error"))

    class Meta:
        db_table = "accounts_webhook_delivery"
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [models.Index(fields=["event", "-id"], name="webhook_delivery_event_idx")]

    def __str__(self) -> str:
        return f"attempt {self.attempt} of {self.event_id}"
