"""Money: accounts, the append-only ledger, holds, idempotency records, plans and subscriptions.

The ledger is double-entry in journal form: each `LedgerEntry` row is one transfer of `amount` between
a user's account (`account`) and a system account (`counter_account`), in one currency. A positive
amount moves money into the user's account, a negative one out of it; the counter account takes the
opposite. One row per movement (not two) keeps a 4-million-operation history inside the storage budget;
a movement between two users (a merge) is two rows through a clearing account.

User accounts keep a stored `balance` and `held`; system accounts are hot, so their balance is derived
from the ledger (sum of -amount over the rows that name them), never updated per charge.
"""

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.id_bounds import id_bounded

MONEY = {"max_digits": 14, "decimal_places": 2}


class Account(models.Model):
    class Kind(models.TextChoices):
        USER = "user", _("user")
        PAYMENTS = "payments", _("payments received")
        REVENUE = "revenue", _("revenue")
        BONUSES = "bonuses", _("welcome bonuses")
        REFERRAL_REWARDS = "referral_rewards", _("referral rewards")
        PROMO = "promo", _("promo codes")
        ADJUSTMENTS = "adjustments", _("manual adjustments")
        MERGE_CLEARING = "merge_clearing", _("merge clearing")

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.USER, verbose_name=_("kind"))
    owner = models.ForeignKey(
        "accounts.EndUser",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="billing_accounts",
        verbose_name=_("owner"),
    )
    currency = models.CharField(max_length=8, verbose_name=_("currency"))
    balance = models.DecimalField(**MONEY, default=Decimal("0.00"), verbose_name=_("balance"))
    held = models.DecimalField(**MONEY, default=Decimal("0.00"), verbose_name=_("held"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("accounts")
        verbose_name = _("account")
        db_table = "billing_account"
        permissions = [
            ("adjust_above_limit", "Can adjust a balance by more than SUPPORT_ADJUSTMENT_LIMIT"),
        ]
        constraints = [
            # Invariant 3: available = balance - held is never negative, enforced by the database.
            models.CheckConstraint(
                name="account_available_not_negative",
                condition=Q(kind="user", balance__gte=F("held")) | ~Q(kind="user"),
            ),
            models.CheckConstraint(name="account_held_not_negative", condition=Q(held__gte=0)),
            models.CheckConstraint(
                name="account_user_has_owner",
                condition=Q(kind="user", owner__isnull=False) | Q(~Q(kind="user"), owner__isnull=True),
            ),
            models.UniqueConstraint(
                fields=["owner", "currency"], condition=Q(kind="user"), name="account_one_per_user_currency"
            ),
            models.UniqueConstraint(
                fields=["kind", "currency"],
                condition=~Q(kind="user"),
                name="account_one_system_per_kind_currency",
            ),
        ]

    def __str__(self) -> str:
        who = f"user {self.owner_id}" if self.owner_id else self.get_kind_display()
        return f"{who} {self.currency}"

    @property
    def available(self) -> Decimal:
        return self.balance - self.held


class EntryType(models.IntegerChoices):
    TOPUP = 1, _("topup")
    CHARGE = 2, _("charge")
    REFUND = 3, _("refund")
    BONUS = 4, _("bonus")
    REFERRAL_REWARD = 5, _("referral_reward")
    PROMO = 6, _("promo")
    ADJUSTMENT = 7, _("adjustment")
    SUBSCRIPTION = 8, _("subscription")
    MERGE = 9, _("merge")


# Movements that must happen at most once per reference (invariant 4 and the one-time grants).
# Charges are left out on purpose: a hold is captured once by its own status update, and charges are
# half of all rows, so an index on them would cost storage for no extra guarantee.
ONCE_PER_REFERENCE_TYPES = [
    EntryType.TOPUP,
    EntryType.REFUND,
    EntryType.BONUS,
    EntryType.REFERRAL_REWARD,
    EntryType.PROMO,
    EntryType.SUBSCRIPTION,
]


class LedgerEntry(models.Model):
    """Append-only: a database trigger refuses UPDATE and DELETE (invariant 7)."""

    type = models.PositiveSmallIntegerField(choices=EntryType.choices, verbose_name=_("type"))
    # No single-column index: (account, -id) below serves every lookup by account.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="entries", db_index=False, verbose_name=_("account")
    )
    # Not indexed: system accounts are never deleted and nothing reads entries by their counter account
    # alone (a system account's balance is shown as "derived", never summed per request).
    counter_account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="counter_entries",
        db_index=False,
        verbose_name=_("counter account"),
    )
    currency = models.CharField(max_length=8, verbose_name=_("currency"))
    amount = models.DecimalField(**MONEY, verbose_name=_("amount"))
    balance_after = models.DecimalField(**MONEY, verbose_name=_("balance after"))
    reference = models.CharField(max_length=64, blank=True, default="", verbose_name=_("reference"))
    description = models.CharField(max_length=255, blank=True, default="", verbose_name=_("description"))
    # Indexed only where set (manual adjustments, refunds by operators): see ledger_entry_operator_idx.
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("operator"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        db_table = "billing_ledger_entry"
        permissions = [
            ("export_ledgerentry", "Can export ledger entries"),
            ("view_revenue", "Can see revenue and top spenders"),
        ]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [
            models.CheckConstraint(name="ledger_entry_amount_not_zero", condition=~Q(amount=0)),
            models.CheckConstraint(
                name="ledger_entry_two_accounts", condition=~Q(account=F("counter_account"))
            ),
            models.UniqueConstraint(
                fields=["type", "reference"],
                condition=Q(type__in=ONCE_PER_REFERENCE_TYPES) & ~Q(reference=""),
                name="ledger_entry_once_per_reference",
            ),
        ]
        indexes = [
            # A user's history, newest first, by keyset: an index range scan whatever its length.
            models.Index(fields=["account", "-id"], name="ledger_entry_account_id_idx"),
            # Rows are only ever appended, stamped with the insert time, so the heap is in created_at
            # order: a BRIN of block ranges answers date ranges (dashboard, admin filters, exports) at a
            # tiny fraction of a btree's size.
            BrinIndex(fields=["created_at"], name="ledger_entry_created_brin", pages_per_range=32),
            # Most entries have no operator; the index serves the operator's delete check (PROTECT).
            models.Index(
                fields=["operator"], name="ledger_entry_operator_idx", condition=Q(operator__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_type_display()} {self.amount} {self.currency}"


class Hold(models.Model):
    """Money reserved on a user's account for a paid job; resolved exactly once.

    A resolved hold is deleted HOLD_RETENTION_DAYS after it was resolved (ops.retention): the job and the
    ledger's charge carry every fact it had, and a charge whose hold is gone is refunded from the ledger
    (billing.services.refunds.charge_refund). Open holds and the holds of payment refunds are kept.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        CAPTURED = "captured", _("captured")
        RELEASED = "released", _("released")
        EXPIRED = "expired", _("expired")

    # Only open holds are read by account (hold_open_account_idx); accounts are never deleted.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="holds", db_index=False, verbose_name=_("account")
    )
    amount = models.DecimalField(**MONEY, verbose_name=_("amount"))
    captured_amount = models.DecimalField(**MONEY, null=True, blank=True, verbose_name=_("captured amount"))
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN, verbose_name=_("status")
    )
    reference = models.CharField(max_length=64, verbose_name=_("reference"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resolved at"))

    class Meta:
        verbose_name_plural = _("holds")
        verbose_name = _("hold")
        db_table = "billing_hold"
        constraints = [
            models.CheckConstraint(name="hold_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="hold_captured_within_amount",
                condition=Q(captured_amount__isnull=True)
                | Q(captured_amount__gte=0, captured_amount__lte=F("amount")),
            ),
            models.CheckConstraint(
                name="hold_resolved_has_time", condition=Q(status="open") | Q(resolved_at__isnull=False)
            ),
            models.UniqueConstraint(fields=["reference"], name="hold_one_per_reference"),
        ]
        indexes = [
            models.Index(fields=["expires_at"], name="hold_open_expiry_idx", condition=Q(status="open")),
            models.Index(fields=["account"], name="hold_open_account_idx", condition=Q(status="open")),
        ]

    def __str__(self) -> str:
        return f"hold #{self.pk} {self.amount} {self.status}"


class IdempotencyRecord(models.Model):
    """The first decided response to a request with an Idempotency-Key, replayed for repeats."""

    api_key = models.ForeignKey(
        "accounts.ApiKey", on_delete=models.CASCADE, related_name="+", verbose_name=_("api key")
    )
    key = models.CharField(max_length=255, verbose_name=_("key"))
    request_fingerprint = models.CharField(max_length=64, verbose_name=_("request fingerprint"))
    status_code = models.PositiveSmallIntegerField(null=True, verbose_name=_("status code"))
    # The exact bytes sent the first time (jsonb would reorder keys), so replays are byte-identical.
    response_body = models.TextField(blank=True, default="", verbose_name=_("response body"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("idempotency records")
        verbose_name = _("idempotency record")
        db_table = "billing_idempotency_record"
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_once_per_client")
        ]

    def __str__(self) -> str:
        return f"{self.key} -> {self.status_code}"


class Plan(models.Model):
    code = models.SlugField(max_length=32, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=100, verbose_name=_("name"))
    price = models.DecimalField(**MONEY, default=Decimal("0.00"), verbose_name=_("price"))
    currency = models.CharField(max_length=8, default="RUB", verbose_name=_("currency"))
    period_days = models.PositiveIntegerField(default=30, verbose_name=_("period days"))
    # {"per_minute": int|null, "concurrent": int|null, "per_day": int|null}; null means unlimited.
    limits = models.JSONField(default=dict, blank=True, verbose_name=_("limits"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    sort_order = models.PositiveSmallIntegerField(default=0, verbose_name=_("sort order"))

    class Meta:
        verbose_name_plural = _("plans")
        verbose_name = _("plan")
        db_table = "billing_plan"
        ordering = ["sort_order", "code"]
        constraints = [models.CheckConstraint(name="plan_price_not_negative", condition=Q(price__gte=0))]

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    """A user's current plan; a user without a row (or with an expired one) is on `free`."""

    user = models.OneToOneField(
        "accounts.EndUser", on_delete=models.PROTECT, related_name="subscription", verbose_name=_("user")
    )
    plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, related_name="subscriptions", verbose_name=_("plan")
    )
    started_at = models.DateTimeField(verbose_name=_("started at"))
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires at"))
    auto_renew = models.BooleanField(default=False, verbose_name=_("auto renew"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    # The key that bought the current plan: its webhook hears of renewals and expiry (bot-api.md, events).
    api_key = models.ForeignKey(
        "accounts.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("api key"),
    )

    class Meta:
        verbose_name_plural = _("subscriptions")
        verbose_name = _("subscription")
        db_table = "billing_subscription"
        indexes = [
            models.Index(
                fields=["expires_at"], name="subscription_renewal_idx", condition=Q(auto_renew=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.plan_id}"


# --- Payments, provider events, referral rewards, promo codes ---------------------------------


class Payment(models.Model):
    """A top-up through a provider; credited by one `topup` entry with reference `payment:<id>`."""

    class Provider(models.TextChoices):
        YOOKASSA = "yookassa", "YooKassa"
        TELEGRAM_STARS = "telegram_stars", "Telegram Stars"

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SUCCEEDED = "succeeded", _("succeeded")
        CANCELED = "canceled", _("canceled")

    # No single-column index: payment_user_id_idx (user, -id) starts with it.
    user = models.ForeignKey(
        "accounts.EndUser",
        on_delete=models.PROTECT,
        related_name="payments",
        db_index=False,
        verbose_name=_("user"),
    )
    provider = models.CharField(max_length=20, choices=Provider.choices, verbose_name=_("provider"))
    # NULL while the provider has not answered yet (the intent is committed before the provider is
    # called); NULLs never collide in the unique (provider, provider_payment_id) constraint, '' would.
    provider_payment_id = models.CharField(  # noqa: DJ001
        max_length=128, null=True, blank=True, verbose_name=_("provider payment id")
    )
    # The Idempotence-Key sent to the provider; a retried request finds its intent by it.
    provider_idempotence_key = models.CharField(
        max_length=64, null=True, blank=True, unique=True, verbose_name=_("provider idempotence key")
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, verbose_name=_("status")
    )
    amount = models.DecimalField(**MONEY, verbose_name=_("amount"))
    currency = models.CharField(max_length=8, verbose_name=_("currency"))
    # Where the payer pays; it matters only while the payment is pending, so the UPDATE that resolves
    # the payment clears it (about 100 bytes of every payment row).
    confirmation_url = models.URLField(
        max_length=500, blank=True, default="", verbose_name=_("confirmation url")
    )
    # What the provider knows beyond our columns (Stars: total_amount, invoice_payload).
    details = models.JSONField(default=dict, blank=True, verbose_name=_("details"))
    # What pending and succeeded refunds have taken of it; a conditional UPDATE keeps it within `amount`.
    refunded_amount = models.DecimalField(**MONEY, default=Decimal("0.00"), verbose_name=_("refunded amount"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resolved at"))
    # The key that created the payment: its webhook hears of success or cancelation (bot-api.md, events).
    # Not indexed, like a job's: nothing lists payments by key, and keys are revoked, not deleted (deleting
    # one scans the payments once).
    api_key = models.ForeignKey(
        "accounts.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        verbose_name=_("api key"),
    )

    class Meta:
        verbose_name_plural = _("payments")
        verbose_name = _("payment")
        db_table = "billing_payment"
        permissions = [
            ("export_payment", "Can export payments"),
        ]
        constraints = [
            # Invariant 8: the refunds of a payment never add up to more than it credited.
            models.CheckConstraint(
                name="payment_refunds_within_amount",
                condition=Q(refunded_amount__gte=0, refunded_amount__lte=F("amount")),
            ),
            # Invariant 4: one payment (hence one credit) per external payment and per Telegram charge id.
            models.UniqueConstraint(
                fields=["provider", "provider_payment_id"], name="payment_once_per_provider_id"
            ),
            models.CheckConstraint(name="payment_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="payment_resolved_has_time", condition=Q(status="pending") | Q(resolved_at__isnull=False)
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-id"], name="payment_user_id_idx"),
            # Rows are inserted in created_at order and settled within minutes, so the heap stays in
            # that order; minmax-multi keeps a block range tight even when a rare late update (a refund
            # weeks later) moves an old row or lets a new one fill the space it left.
            BrinIndex(
                fields=["created_at"],
                name="payment_created_brin",
                pages_per_range=32,
                opclasses=["timestamptz_minmax_multi_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"payment #{self.pk} {self.amount} {self.currency} {self.status}"

    @property
    def ledger_reference(self) -> str:
        return f"payment:{self.pk}"


# Ids follow created_at in both: created_at is the insert time (auto_now_add, or now() in the capture SQL)
# and the id is drawn at the same insert, so the admin's date filters bound them by id (core.id_bounds).
id_bounded(LedgerEntry, Payment)


class ProviderEvent(models.Model):
    """Inbox of every provider notification received, stored before it is processed (audit)."""

    class Outcome(models.TextChoices):
        RECEIVED = "received", _("received, not processed yet")
        CREDITED = "credited", _("credited")
        CANCELED = "canceled", _("canceled")
        REFUNDED = "refunded", _("refunded")
        DUPLICATE = "duplicate", _("duplicate (already applied)")
        IGNORED = "ignored", _("ignored")
        MISMATCH = "mismatch", _("amount or currency mismatch")
        UNKNOWN_PAYMENT = "unknown_payment", _("unknown payment")
        MALFORMED = "malformed", _("malformed")

    provider = models.CharField(max_length=20, choices=Payment.Provider.choices, verbose_name=_("provider"))
    event_type = models.CharField(max_length=64, blank=True, default="", verbose_name=_("event type"))
    provider_payment_id = models.CharField(
        max_length=128, blank=True, default="", verbose_name=_("provider payment id")
    )
    payment = models.ForeignKey(
        Payment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="provider_events",
        verbose_name=_("payment"),
    )
    outcome = models.CharField(
        max_length=20, choices=Outcome.choices, default=Outcome.RECEIVED, verbose_name=_("outcome")
    )
    detail = models.CharField(max_length=255, blank=True, default="", verbose_name=_("detail"))
    body = models.TextField(verbose_name=_("body"))
    remote_addr = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("remote addr"))
    received_at = models.DateTimeField(auto_now_add=True, verbose_name=_("received at"))
    processed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("processed at"))

    class Meta:
        verbose_name_plural = _("provider events")
        verbose_name = _("provider event")
        db_table = "billing_provider_event"
        indexes = [
            models.Index(fields=["received_at"], name="provider_event_received_idx"),
            models.Index(
                fields=["provider_payment_id"],
                name="provider_event_payment_idx",
                condition=~Q(provider_payment_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type or '?'} #{self.pk} {self.outcome}"


class ReferralReward(models.Model):
    """The referrer's share of one succeeded top-up of a referred user; at most one per payment."""

    referrer = models.ForeignKey(
        "accounts.EndUser", on_delete=models.PROTECT, related_name="+", verbose_name=_("referrer")
    )
    referred = models.ForeignKey(
        "accounts.EndUser", on_delete=models.PROTECT, related_name="+", verbose_name=_("referred")
    )
    payment = models.OneToOneField(
        Payment, on_delete=models.PROTECT, related_name="referral_reward", verbose_name=_("payment")
    )
    amount = models.DecimalField(**MONEY, verbose_name=_("amount"))
    currency = models.CharField(max_length=8, verbose_name=_("currency"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("referral rewards")
        verbose_name = _("referral reward")
        db_table = "billing_referral_reward"
        constraints = [models.CheckConstraint(name="referral_reward_positive", condition=Q(amount__gt=0))]
        indexes = [models.Index(fields=["referrer", "referred"], name="referral_reward_pair_idx")]

    def __str__(self) -> str:
        return f"{self.referrer_id} <- {self.referred_id}: {self.amount} {self.currency}"


class PromoCode(models.Model):
    code = models.CharField(
        max_length=32,
        unique=True,
        help_text=_("Stored upper-case; redeemed case-insensitively."),
        verbose_name=_("code"),
    )
    amount = models.DecimalField(**MONEY, verbose_name=_("amount"))
    currency = models.CharField(max_length=8, default="RUB", verbose_name=_("currency"))
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires at"))
    max_uses = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Empty means unlimited."), verbose_name=_("max uses")
    )
    used_count = models.PositiveIntegerField(default=0, verbose_name=_("used count"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    batch = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text=_("Label of a generated batch."),
        verbose_name=_("batch"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name_plural = _("promo codes")
        verbose_name = _("promo code")
        db_table = "billing_promo_code"
        permissions = [
            ("export_promocode", "Can export promo codes"),
        ]
        constraints = [
            models.CheckConstraint(name="promo_code_amount_positive", condition=Q(amount__gt=0)),
            # The usage cap holds in the database too, whatever path increments the counter.
            models.CheckConstraint(
                name="promo_code_within_cap",
                condition=Q(max_uses__isnull=True) | Q(used_count__lte=F("max_uses")),
            ),
            models.CheckConstraint(
                name="promo_code_upper_case", condition=Q(code=models.functions.Upper("code"))
            ),
        ]
        indexes = [models.Index(fields=["batch"], name="promo_code_batch_idx", condition=~Q(batch=""))]

    def __str__(self) -> str:
        return self.code


class PromoRedemption(models.Model):
    """One user's use of a promo code. Rows stay on the user who redeemed (the ledger names them); after a
    merge, the code counts as redeemed for the person through `merged_into`."""

    promo = models.ForeignKey(
        PromoCode, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("promo")
    )
    user = models.ForeignKey(
        "accounts.EndUser", on_delete=models.PROTECT, related_name="+", verbose_name=_("user")
    )
    amount = models.DecimalField(**MONEY, verbose_name=_("amount"))
    # Both identities of one person had redeemed the code before they were merged: the credit stays
    # (it was granted in good faith and may be spent), and operators see it flagged.
    merged_duplicate = models.BooleanField(default=False, verbose_name=_("merged duplicate"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("promo redemptions")
        verbose_name = _("promo redemption")
        db_table = "billing_promo_redemption"
        constraints = [models.UniqueConstraint(fields=["promo", "user"], name="promo_once_per_user")]

    def __str__(self) -> str:
        return f"{self.promo_id} by {self.user_id}"


# --- Refunds ------------------------------------------------------------------------------------


class Refund(models.Model):
    """Money of a succeeded payment given back through its provider; debited by one `refund` entry.

    While pending, the amount is held on the payer's balance (hold reference `refund:<id>`), so the
    money cannot be spent meanwhile; success turns the hold into the `refund` debit, failure releases it.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment")
    )
    provider = models.CharField(max_length=20, choices=Payment.Provider.choices, verbose_name=_("provider"))
    # YooKassa's refund id; NULL for Telegram Stars and while YooKassa has not answered yet.
    provider_refund_id = models.CharField(  # noqa: DJ001
        max_length=128, null=True, blank=True, verbose_name=_("provider refund id")
    )
    provider_idempotence_key = models.CharField(
        max_length=64, null=True, blank=True, unique=True, verbose_name=_("provider idempotence key")
    )
    amount = models.DecimalField(**MONEY, verbose_name=_("amount"))
    currency = models.CharField(max_length=8, verbose_name=_("currency"))
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, verbose_name=_("status")
    )
    reason = models.CharField(max_length=255, blank=True, default="", verbose_name=_("reason"))
    error_message = models.CharField(max_length=500, blank=True, default="", verbose_name=_("error message"))
    # Its hold is kept whatever its age: a refund may still be settled after its hold expired, and then
    # reads the hold's account. ops.retention never selects a hold a refund names, and the database's
    # foreign key would refuse the delete; DO_NOTHING lets retention delete other holds in one statement.
    hold = models.OneToOneField(
        Hold,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="payment_refund",
        verbose_name=_("hold"),
    )
    # The API key that asked for it: where its `refund.succeeded` event goes.
    api_key = models.ForeignKey(
        "accounts.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("api key"),
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("operator"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resolved at"))

    class Meta:
        verbose_name_plural = _("refunds")
        verbose_name = _("refund")
        db_table = "billing_refund"
        permissions = [("issue_refund", "Can refund payments and generations")]
        constraints = [
            models.CheckConstraint(name="refund_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="refund_resolved_has_time", condition=Q(status="pending") | Q(resolved_at__isnull=False)
            ),
            models.UniqueConstraint(
                fields=["provider", "provider_refund_id"], name="refund_once_per_provider_id"
            ),
        ]
        indexes = [
            models.Index(fields=["payment", "-id"], name="refund_payment_idx"),
            models.Index(fields=["created_at"], name="refund_created_idx"),
        ]

    def __str__(self) -> str:
        return f"refund #{self.pk} {self.amount} {self.currency} {self.status}"

    @property
    def ledger_reference(self) -> str:
        return f"refund:{self.pk}"


class ChargeRefund(models.Model):
    """A captured charge given back (a bad generation): at most once per hold (invariant 8).

    billing knows nothing of jobs: it refunds the hold named `generation:<id>` by its id, or, once that
    resolved hold was deleted (HOLD_RETENTION_DAYS), the ledger's charge with the hold's reference.
    """

    # The hold's id, unique (one refund per charge), but no foreign key: the hold may have been deleted
    # by retention before or after the refund, so never join it; `reference` names the charge.
    hold = models.OneToOneField(
        Hold,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="charge_refund",
        verbose_name=_("hold"),
    )
    # The refunded charge's reference (the hold's, e.g. generation:42): what operators search for.
    reference = models.CharField(max_length=64, blank=True, default="", verbose_name=_("reference"))
    user = models.ForeignKey(
        "accounts.EndUser", on_delete=models.PROTECT, related_name="+", verbose_name=_("user")
    )
    amount = models.DecimalField(**MONEY, verbose_name=_("amount"))
    currency = models.CharField(max_length=8, verbose_name=_("currency"))
    reason = models.CharField(max_length=255, blank=True, default="", verbose_name=_("reason"))
    api_key = models.ForeignKey(
        "accounts.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("api key"),
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("operator"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("charge refunds")
        verbose_name = _("charge refund")
        db_table = "billing_charge_refund"
        constraints = [models.CheckConstraint(name="charge_refund_positive", condition=Q(amount__gt=0))]
        indexes = [
            models.Index(fields=["created_at"], name="charge_refund_created_idx"),
            models.Index(fields=["reference"], name="charge_refund_reference_idx"),
        ]

    def __str__(self) -> str:
        return f"charge refund #{self.pk} {self.amount} {self.currency}"

    @property
    def ledger_reference(self) -> str:
        return f"charge-refund:{self.hold_id}"
