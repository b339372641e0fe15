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
from django.db import models
from django.db.models import F, Q

MONEY = {"max_digits": 14, "decimal_places": 2}


class Account(models.Model):
    class Kind(models.TextChoices):
        USER = "user", "user"
        PAYMENTS = "payments", "payments received"
        REVENUE = "revenue", "revenue"
        BONUSES = "bonuses", "welcome bonuses"
        REFERRAL_REWARDS = "referral_rewards", "referral rewards"
        PROMO = "promo", "promo codes"
        ADJUSTMENTS = "adjustments", "manual adjustments"
        MERGE_CLEARING = "merge_clearing", "merge clearing"

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.USER)
    owner = models.ForeignKey(
        "accounts.EndUser", null=True, blank=True, on_delete=models.PROTECT, related_name="billing_accounts"
    )
    currency = models.CharField(max_length=8)
    balance = models.DecimalField(**MONEY, default=Decimal("0.00"))
    held = models.DecimalField(**MONEY, default=Decimal("0.00"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
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
    TOPUP = 1, "topup"
    CHARGE = 2, "charge"
    REFUND = 3, "refund"
    BONUS = 4, "bonus"
    REFERRAL_REWARD = 5, "referral_reward"
    PROMO = 6, "promo"
    ADJUSTMENT = 7, "adjustment"
    SUBSCRIPTION = 8, "subscription"
    MERGE = 9, "merge"


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

    type = models.PositiveSmallIntegerField(choices=EntryType.choices)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    counter_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="counter_entries")
    currency = models.CharField(max_length=8)
    amount = models.DecimalField(**MONEY)
    balance_after = models.DecimalField(**MONEY)
    reference = models.CharField(max_length=64, blank=True, default="")
    description = models.CharField(max_length=255, blank=True, default="")
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "billing_ledger_entry"
        permissions = [
            ("export_ledgerentry", "Can export ledger entries"),
            ("view_revenue", "Can see revenue and top spenders"),
        ]
        verbose_name = "ledger entry"
        verbose_name_plural = "ledger entries"
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
            models.Index(fields=["created_at"], name="ledger_entry_created_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_type_display()} {self.amount} {self.currency}"


class Hold(models.Model):
    """Money reserved on a user's account for a paid job; resolved exactly once."""

    class Status(models.TextChoices):
        OPEN = "open"
        CAPTURED = "captured"
        RELEASED = "released"
        EXPIRED = "expired"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holds")
    amount = models.DecimalField(**MONEY)
    captured_amount = models.DecimalField(**MONEY, null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    reference = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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

    api_key = models.ForeignKey("accounts.ApiKey", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    # The exact bytes sent the first time (jsonb would reorder keys), so replays are byte-identical.
    response_body = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "billing_idempotency_record"
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_once_per_client")
        ]

    def __str__(self) -> str:
        return f"{self.key} -> {self.status_code}"


class Plan(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    price = models.DecimalField(**MONEY, default=Decimal("0.00"))
    currency = models.CharField(max_length=8, default="RUB")
    period_days = models.PositiveIntegerField(default=30)
    # {"per_minute": int|null, "concurrent": int|null, "per_day": int|null}; null means unlimited.
    limits = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        db_table = "billing_plan"
        ordering = ["sort_order", "code"]
        constraints = [models.CheckConstraint(name="plan_price_not_negative", condition=Q(price__gte=0))]

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    """A user's current plan; a user without a row (or with an expired one) is on `free`."""

    user = models.OneToOneField("accounts.EndUser", on_delete=models.PROTECT, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    auto_renew = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
    # The key that bought the current plan: its webhook hears of renewals and expiry (bot-api.md, events).
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
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
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        CANCELED = "canceled"

    user = models.ForeignKey("accounts.EndUser", on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=20, choices=Provider.choices)
    # NULL while the provider has not answered yet (the intent is committed before the provider is
    # called); NULLs never collide in the unique (provider, provider_payment_id) constraint, '' would.
    provider_payment_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    # The Idempotence-Key sent to the provider; a retried request finds its intent by it.
    provider_idempotence_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=8)
    confirmation_url = models.URLField(max_length=500, blank=True, default="")
    # What the provider knows beyond our columns (Stars: total_amount, invoice_payload).
    details = models.JSONField(default=dict, blank=True)
    # What pending and succeeded refunds have taken of it; a conditional UPDATE keeps it within `amount`.
    refunded_amount = models.DecimalField(**MONEY, default=Decimal("0.00"))
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The key that created the payment: its webhook hears of success or cancelation (bot-api.md, events).
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
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
            models.Index(fields=["created_at"], name="payment_created_idx"),
        ]

    def __str__(self) -> str:
        return f"payment #{self.pk} {self.amount} {self.currency} {self.status}"

    @property
    def ledger_reference(self) -> str:
        return f"payment:{self.pk}"


class ProviderEvent(models.Model):
    """Inbox of every provider notification received, stored before it is processed (audit)."""

    class Outcome(models.TextChoices):
        RECEIVED = "received", "received, not processed yet"
        CREDITED = "credited"
        CANCELED = "canceled"
        REFUNDED = "refunded"
        DUPLICATE = "duplicate", "duplicate (already applied)"
        IGNORED = "ignored"
        MISMATCH = "mismatch", "amount or currency mismatch"
        UNKNOWN_PAYMENT = "unknown_payment", "unknown payment"
        MALFORMED = "malformed"

    provider = models.CharField(max_length=20, choices=Payment.Provider.choices)
    event_type = models.CharField(max_length=64, blank=True, default="")
    provider_payment_id = models.CharField(max_length=128, blank=True, default="")
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="provider_events"
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.RECEIVED)
    detail = models.CharField(max_length=255, blank=True, default="")
    body = models.TextField()
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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

    referrer = models.ForeignKey("accounts.EndUser", on_delete=models.PROTECT, related_name="+")
    referred = models.ForeignKey("accounts.EndUser", on_delete=models.PROTECT, related_name="+")
    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="referral_reward")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "billing_referral_reward"
        constraints = [models.CheckConstraint(name="referral_reward_positive", condition=Q(amount__gt=0))]
        indexes = [models.Index(fields=["referrer", "referred"], name="referral_reward_pair_idx")]

    def __str__(self) -> str:
        return f"{self.referrer_id} <- {self.referred_id}: {self.amount} {self.currency}"


class PromoCode(models.Model):
    code = models.CharField(
        max_length=32, unique=True, help_text="Stored upper-case; redeemed case-insensitively."
    )
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=8, default="RUB")
    expires_at = models.DateTimeField(null=True, blank=True)
    max_uses = models.PositiveIntegerField(null=True, blank=True, help_text="Empty means unlimited.")
    used_count = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    batch = models.CharField(max_length=64, blank=True, default="", help_text="Label of a generated batch.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
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

    promo = models.ForeignKey(PromoCode, on_delete=models.PROTECT, related_name="redemptions")
    user = models.ForeignKey("accounts.EndUser", on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**MONEY)
    # Both identities of one person had redeemed the code before they were merged: the credit stays
    # (it was granted in good faith and may be spent), and operators see it flagged.
    merged_duplicate = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
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
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    provider = models.CharField(max_length=20, choices=Payment.Provider.choices)
    # YooKassa's refund id; NULL for Telegram Stars and while YooKassa has not answered yet.
    provider_refund_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    provider_idempotence_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=8)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=255, blank=True, default="")
    error_message = models.CharField(max_length=500, blank=True, default="")
    hold = models.OneToOneField(Hold, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # The API key that asked for it: where its `refund.succeeded` event goes.
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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

    billing knows nothing of jobs: it refunds the hold named `generation:<id>` by its id.
    """

    hold = models.OneToOneField(Hold, on_delete=models.PROTECT, related_name="charge_refund")
    user = models.ForeignKey("accounts.EndUser", on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=8)
    reason = models.CharField(max_length=255, blank=True, default="")
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "billing_charge_refund"
        constraints = [models.CheckConstraint(name="charge_refund_positive", condition=Q(amount__gt=0))]
        indexes = [models.Index(fields=["created_at"], name="charge_refund_created_idx")]

    def __str__(self) -> str:
        return f"charge refund #{self.pk} {self.amount} {self.currency}"

    @property
    def ledger_reference(self) -> str:
        return f"charge-refund:{self.hold_id}"
