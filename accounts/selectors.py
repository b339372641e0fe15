"""Reads of the accounts app."""

import re
from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate

from accounts.errors import AccountsError, UserBlocked
from accounts.models import ApiKey, EndUser, WebhookEndpoint

TELEGRAM_ID_RE = re.compile(r"^[0-9]{1,19}$")
OPAQUE_ID_RE = re.compile(r"^[A-Za-z0-9_.:@|+=-]{1,128}$")
MAX_TELEGRAM_ID = 2**63 - 1
USER_REF_HELP = "a Telegram id (digits), device:<id> or ext:<id>"


def user_ref_parse(ref: str) -> tuple[str, int | str]:
    """Turns a `{user}` path form into the identity field and value it names."""
    if TELEGRAM_ID_RE.match(ref) and 0 < int(ref) <= MAX_TELEGRAM_ID:
        return "telegram_id", int(ref)
    for prefix, field in (("device:", "device_id"), ("ext:", "external_id")):
        if ref.startswith(prefix):
            value = ref[len(prefix) :]
            if OPAQUE_ID_RE.match(value):
                return field, value
    raise AccountsError(
        f"{ref[:140]!r} does not name a user: expected {USER_REF_HELP}.",
        code="validation_error",
        details={"user": f"expected {USER_REF_HELP}"},
    )


IDENTITY_FIELDS = ("telegram_id", "device_id", "external_id")


def user_ref_params(ref: str) -> dict[str, int | str | None]:
    """The `{user}` form as one value per identity column, the two it does not name None.

    For hand-written lookups on the hot paths, `WHERE u.telegram_id = %(telegram_id)s OR u.device_id =
    %(device_id)s OR u.external_id = %(external_id)s`: the parameters are bound client-side, so the
    planner folds the two `= NULL` arms away and probes the one unique index (a merged tombstone holds no
    identity, so a ref never names one).
    """
    field, value = user_ref_parse(ref)
    return {name: value if name == field else None for name in IDENTITY_FIELDS}


def end_user_not_found(ref: str) -> AccountsError:
    return AccountsError(f"No user {ref}.", code="not_found", details={"user": ref})


def end_users_with_related() -> QuerySet[EndUser]:
    return EndUser.objects.select_related("referrer")


def end_user_find(*, ref: str) -> EndUser | None:
    field, value = user_ref_parse(ref)
    return end_users_with_related().filter(**{field: value}).first()


def end_user_get(*, ref: str) -> EndUser:
    user = end_user_find(ref=ref)
    if user is None:
        raise end_user_not_found(ref)
    return user


def end_user_ensure_active(user: EndUser) -> EndUser:
    """The one check every call that spends money or starts something for a user goes through.

    Reads, credits of money already paid (Telegram Stars, YooKassa notifications) and refunds do not.
    """
    if user.is_blocked:
        raise UserBlocked()
    return user


def end_user_get_active(*, ref: str) -> EndUser:
    """The user named by `ref`, refused with 403 when an operator has blocked it."""
    return end_user_ensure_active(end_user_get(ref=ref))


def end_user_get_by_id(*, user_id: int) -> EndUser:
    user = end_users_with_related().filter(pk=user_id).first()
    if user is None:
        raise AccountsError(f"No user with id {user_id}.", code="not_found", details={"user": user_id})
    return user


def end_user_ids_for_ref(*, ref: str) -> list[int] | None:
    """The users a search term names by identity (Telegram id, device:, ext:), or None if it names none.

    For admin searches: one probe of a unique index, whose ids then filter the big table by its user index.
    """
    try:
        field, value = user_ref_parse(ref)
    except AccountsError:
        return None
    return list(EndUser.objects.filter(**{field: value}).values_list("pk", flat=True))


def api_keys_active() -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(revoked_at__isnull=True)


def end_users_count() -> int:
    return EndUser.objects.count()


def end_users_new_per_day(*, since: str | datetime) -> QuerySet:
    """{day, count} of users created since `since`, by the created_at index (the dashboard's chart)."""
    return (
        EndUser.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(count=Count("id"))
        .order_by("day")
    )


def webhook_takers(*, api_key_ids: set[int], event_type: str) -> set[int]:
    """Which of these API keys have a webhook that takes `event_type` (one query)."""
    if not api_key_ids:
        return set()
    return set(
        WebhookEndpoint.objects.filter(api_key_id__in=api_key_ids)
        .filter(Q(events__isnull=True) | Q(events__contains=[event_type]))
        .values_list("api_key_id", flat=True)
    )
