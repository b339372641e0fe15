from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper


class Operator(AbstractUser):
    """A person who logs in to the admin. End users of the bots are `EndUser` and never log in."""

    class Meta:
        db_table = "accounts_operator"
        verbose_name = "operator"


def _trigram_upper(field: str, name: str) -> GinIndex:
    # The admin searches names with icontains, which PostgreSQL runs as UPPER(col) LIKE UPPER('%q%');
    # a trigram index on the same expression keeps that fast on a million users.
    return GinIndex(OpClass(Upper(field), name="gin_trgm_ops"), name=name)


class EndUser(models.Model):
    """A user of a bot: identified by a Telegram id, an anonymous device id and/or an external auth id."""

    telegram_id = models.BigIntegerField(unique=True, null=True, blank=True)
    device_id = models.CharField(max_length=128, unique=True, null=True, blank=True)
    external_id = models.CharField(max_length=128, unique=True, null=True, blank=True)
    username = models.CharField(max_length=64, blank=True, default="")
    first_name = models.CharField(max_length=128, blank=True, default="")
    last_name = models.CharField(max_length=128, blank=True, default="")
    language_code = models.CharField(max_length=16, blank=True, default="")
    referrer = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="referrals"
    )
    # Set when an anonymous user was merged into a registered one; the row stays because the
    # append-only ledger still points at its accounts.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_users"
    )
    # Blocked by an operator: spending and starting anything answers 403 (bot-api.md, v1.1); money
    # already paid is still recorded and refunds stay possible. Each change is in UserBlockAudit.
    # Database defaults too: bulk loads (seed_demo) insert raw rows.
    is_blocked = models.BooleanField(default=False, db_default=False)
    blocked_reason = models.CharField(max_length=255, blank=True, default="", db_default="")
    blocked_at = models.DateTimeField(null=True, blank=True)
    blocked_by = models.ForeignKey(
        "accounts.Operator", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set when the person asked to be forgotten (152-FZ, GDPR): identities replaced, personal fields cleared.
    anonymized_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "accounts_end_user"
        verbose_name = "end user"
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
        BLOCK = "block", "block"
        UNBLOCK = "unblock", "unblock"

    user = models.ForeignKey(EndUser, on_delete=models.PROTECT, related_name="block_audits")
    action = models.CharField(max_length=8, choices=Action.choices)
    reason = models.CharField(max_length=255)
    operator = models.ForeignKey(
        "accounts.Operator", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "accounts_user_block_audit"
        verbose_name = "block audit record"
        indexes = [models.Index(fields=["user", "-id"], name="user_block_audit_user_idx")]

    def __str__(self) -> str:
        return f"{self.action} #{self.user_id}"


class ApiKey(models.Model):
    """A bot's credential. Only a SHA-256 of the key is stored; the key itself is shown once."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="First characters of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        "accounts.Operator", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "accounts_api_key"
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
