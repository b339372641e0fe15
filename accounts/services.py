"""Writes of the accounts app: end users, their identities, API keys."""

import hashlib
import secrets
import time
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import events
from accounts.errors import AccountsError
from accounts.models import ApiKey, EndUser, Operator, UserBlockAudit
from accounts.selectors import end_user_find, user_ref_parse

# Events for the bots' webhooks: the apps above record them through these (accounts/webhooks.py).
from accounts.webhooks import bot_event_record, bot_events_record  # noqa: F401

PROFILE_FIELDS = ("username", "first_name", "last_name", "language_code")
IDENTITY_FIELDS = ("telegram_id", "device_id", "external_id")
API_KEY_PREFIX = "bd_"
# last_used_at is advisory: writing it on every request would turn each read into a write.
API_KEY_TOUCH_INTERVAL = timedelta(seconds=60)


def end_user_upsert(
    *, ref: str, profile: dict[str, Any], referrer_ref: str | None = None
) -> tuple[EndUser, bool]:
    """Creates the user named by `ref`, or updates its profile; returns (user, created).

    Safe under concurrent first requests: the unique identity index lets exactly one INSERT win,
    the losers fall back to the winner's row. The welcome bonus (billing) rides the same transaction
    through the EndUserCreated event, so a user never exists without it.
    """
    field, value = user_ref_parse(ref)
    unknown = set(profile) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    with transaction.atomic():
        user = EndUser.objects.select_for_update().filter(**{field: value}).first()
        if user is None:
            referrer = _referrer_for_new_user(referrer_ref=referrer_ref, own_ref=ref)
            try:
                with transaction.atomic():
                    user = EndUser.objects.create(**{field: value}, **profile, referrer=referrer)
            except IntegrityError:
                user = EndUser.objects.select_for_update().filter(**{field: value}).first()
                if user is None:
                    raise
            else:
                events.publish(events.EndUserCreated(user=user))
                return user, True
        changed = [name for name, new in profile.items() if getattr(user, name) != new]
        if changed:
            for name in changed:
                setattr(user, name, profile[name])
            user.save(update_fields=[*changed, "updated_at"])
        return user, False


def _referrer_for_new_user(*, referrer_ref: str | None, own_ref: str) -> EndUser | None:
    """A referrer is recorded only at creation, never oneself; a new user has no referrals, so no cycle."""
    if not referrer_ref or referrer_ref == own_ref:
        return None
    if user_ref_parse(referrer_ref) == user_ref_parse(own_ref):
        return None
    # An unknown referrer (a stale invite link) must not stop the user from being created.
    return end_user_find(ref=referrer_ref)


def end_user_attach_identity(*, ref: str, identity: str, value: int | str) -> EndUser:
    """Attaches an identity to the user named by `ref`.

    When an anonymous (device-only) user holds that identity, it is merged into this user: the
    merge event lets billing move its balance through the ledger and the other apps re-point its
    history, all in this one transaction. An identity held by another registered user is a conflict.
    """
    if identity not in IDENTITY_FIELDS:
        raise ValueError(f"unknown identity {identity!r}")
    field, ref_value = user_ref_parse(ref)
    with transaction.atomic():
        target = EndUser.objects.filter(**{field: ref_value}).first()
        if target is None:
            raise AccountsError(f"No user {ref}.", code="not_found", details={"user": ref})
        holder = EndUser.objects.filter(**{identity: value}).first()
        # Lock both rows in primary-key order so two crossing merges cannot deadlock.
        ids = sorted({target.pk, *([holder.pk] if holder else [])})
        locked = {
            user.pk: user for user in EndUser.objects.select_for_update().filter(pk__in=ids).order_by("pk")
        }
        target = locked[target.pk]
        holder = locked.get(holder.pk) if holder else None
        if holder is not None and getattr(holder, identity) != value:
            raise AccountsError("The identity changed hands meanwhile; retry.", code="conflict")
        if holder is not None and holder.pk == target.pk:
            return target
        current = getattr(target, identity)
        if current is not None and current != value:
            raise AccountsError(
                f"User {ref} already has another {identity}.",
                code="conflict",
                details={identity: "already set to a different value"},
            )
        if holder is None:
            setattr(target, identity, value)
            target.save(update_fields=[identity, "updated_at"])
            return target
        if not holder.is_anonymous_user:
            raise AccountsError(
                f"This {identity} belongs to another registered user.",
                code="conflict",
                details={identity: "belongs to another user"},
            )
        _merge_anonymous_into(source=holder, target=target, identity=identity, value=value)
        return target


def _merge_anonymous_into(*, source: EndUser, target: EndUser, identity: str, value: int | str) -> None:
    # Free the identity first: the unique index would refuse it on two rows even inside a transaction.
    setattr(source, identity, None)
    source.merged_into = target
    source.save(update_fields=[identity, "merged_into", "updated_at"])
    setattr(target, identity, value)
    update_fields = [identity, "updated_at"]
    if target.referrer_id == source.pk:
        # The target was referred by the identity it now absorbs: that would be self-referral.
        target.referrer = None
        update_fields.append("referrer")
    target.save(update_fields=update_fields)
    _referrals_repoint(source=source, target=target)
    events.publish(events.EndUsersMerged(source=source, target=target))


def _reason_required(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise AccountsError(_("Give a reason."), code="validation_error", details={"reason": "required"})
    return reason[:255]


def end_user_block(*, user_id: int, reason: str, operator: Operator) -> EndUser:
    """Blocks a user: spending and starting anything is refused from now on (bot-api.md v1.1), audited.

    One conditional UPDATE decides, so of two operators blocking at once one wins and the other is told.
    """
    reason = _reason_required(reason)
    now = timezone.now()
    with transaction.atomic():
        blocked = EndUser.objects.filter(pk=user_id, is_blocked=False).update(
            is_blocked=True, blocked_reason=reason, blocked_at=now, blocked_by=operator, updated_at=now
        )
        if not blocked:
            _refuse_missing_or(user_id, _("The user is already blocked."))
        UserBlockAudit.objects.create(
            user_id=user_id, action=UserBlockAudit.Action.BLOCK, reason=reason, operator=operator
        )
    return EndUser.objects.get(pk=user_id)


def end_user_unblock(*, user_id: int, reason: str, operator: Operator) -> EndUser:
    reason = _reason_required(reason)
    now = timezone.now()
    with transaction.atomic():
        unblocked = EndUser.objects.filter(pk=user_id, is_blocked=True).update(
            is_blocked=False, blocked_reason="", blocked_at=None, blocked_by=None, updated_at=now
        )
        if not unblocked:
            _refuse_missing_or(user_id, _("The user is not blocked."))
        UserBlockAudit.objects.create(
            user_id=user_id, action=UserBlockAudit.Action.UNBLOCK, reason=reason, operator=operator
        )
    return EndUser.objects.get(pk=user_id)


def _refuse_missing_or(user_id: int, message: str) -> None:
    if not EndUser.objects.filter(pk=user_id).exists():
        raise AccountsError(_("No such user."), code="not_found", details={"user": user_id})
    raise AccountsError(message, code="conflict")


def end_user_anonymize(*, user_id: int, operator: Operator) -> EndUser:
    """Forgets a person (152-FZ, GDPR) and keeps the money history, which the law requires us to keep.

    Names, username, language and the block reason are cleared; the Telegram, device and external ids
    are replaced by one random external id that names nobody, so the row still satisfies "has an
    identity" and the ledger, payments and jobs stay whole. The apps above clear their own personal
    text (prompts, messages) through the EndUserAnonymized event, in this transaction.

    A person who comes back later is a new user and gets the welcome bonus again: recognising them
    would need a hash of their identity, which would keep them identifiable against their request.
    """
    with transaction.atomic():
        user = EndUser.objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            raise AccountsError(_("No such user."), code="not_found", details={"user": user_id})
        if user.anonymized_at is not None:
            raise AccountsError(_("The user is already anonymized."), code="conflict")
        if user.merged_into_id is not None:
            raise AccountsError(
                _("This user was merged into another one: anonymize that user."), code="conflict"
            )
        user.telegram_id = None
        user.device_id = None
        user.external_id = f"anonymized-{uuid.uuid4().hex}"
        for field in PROFILE_FIELDS:
            setattr(user, field, "")
        user.blocked_reason = ""
        user.anonymized_at = timezone.now()
        user.save(
            update_fields=[
                *IDENTITY_FIELDS,
                *PROFILE_FIELDS,
                "blocked_reason",
                "anonymized_at",
                "updated_at",
            ]
        )
        UserBlockAudit.objects.filter(user_id=user_id).update(reason="")
        events.publish(events.EndUserAnonymized(user=user, operator=operator))
    return user


# The target's chain of referrers, itself included (bounded: the chain is acyclic, the bound is a fuse).
REFERRER_CHAIN_SQL = """
WITH RECURSIVE chain(id, referrer_id, depth) AS (
    SELECT id, referrer_id, 0 FROM accounts_end_user WHERE id = %(target)s
    UNION ALL
    SELECT u.id, u.referrer_id, chain.depth + 1
    FROM accounts_end_user u JOIN chain ON u.id = chain.referrer_id
    WHERE chain.depth < 10000
)
SELECT id FROM chain
"""


def _referrals_repoint(*, source: EndUser, target: EndUser) -> None:
    """The users the source referred are now the target's referrals, except where that closes a cycle.

    A user X referred by the source that is the target itself or one of the target's referrers would,
    referred by the target, make the target refer itself through X: that referral is dropped.
    """
    with connection.cursor() as cursor:
        cursor.execute(REFERRER_CHAIN_SQL, {"target": target.pk})
        chain = [row[0] for row in cursor.fetchall()]
    referred = EndUser.objects.filter(referrer=source)
    referred.filter(pk__in=chain).update(referrer=None)
    referred.exclude(pk__in=chain).update(referrer=target)


MAX_MERGE_HOPS = 5
# FOR KEY SHARE conflicts with the FOR UPDATE a merge takes on both users, and with nothing else, so
# concurrent credits and jobs of one user do not wait for each other, only for a merge in flight.
USER_CURRENT_SQL = "SELECT merged_into_id FROM accounts_end_user WHERE id = %s FOR KEY SHARE"


def end_user_current(*, user: EndUser) -> EndUser:
    """The user `user` is now, following `merged_into`: the one place every credit and creation resolves it.

    Must run inside the caller's transaction: the row lock makes a merge in flight finish first (the
    money or the job then goes to the user it was merged into), and keeps a merge from starting until
    the caller commits (the merge then moves what the caller wrote). One query for a user never merged.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("end_user_current must run inside a transaction")
    current = user
    for _hop in range(MAX_MERGE_HOPS):
        with connection.cursor() as cursor:
            cursor.execute(USER_CURRENT_SQL, [current.pk])
            row = cursor.fetchone()
        if row is None:
            raise AccountsError(f"No user {current.pk}.", code="not_found", details={"user": current.pk})
        if row[0] is None:
            return current
        current = EndUser.objects.get(pk=row[0])
    return current


def end_user_current_id(*, user_id: int) -> int:
    """`end_user_current` by id, for paths that hold only the id (a payment's payer, a referrer)."""
    return end_user_current(user=EndUser(pk=user_id)).pk


def _hash_key(raw_key: str) -> str:
    # Keys are 256-bit random tokens, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_create(*, name: str, created_by: Operator | None = None) -> tuple[ApiKey, str]:
    """Returns the key row and the raw key, which is shown once and never stored."""
    raw_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        name=name, prefix=raw_key[:10], key_hash=_hash_key(raw_key), created_by=created_by
    )
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey) -> None:
    """Revokes the key: at once in this process, within API_KEY_CACHE_SECONDS in every other one."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    _api_key_cache.pop(api_key.key_hash, None)


API_KEY_LOOKUP_SQL = "SELECT * FROM accounts_api_key WHERE key_hash = %s AND revoked_at IS NULL"
# Valid keys only (a wrong key never enters, so guessing cannot fill it); bots use a handful of keys.
API_KEY_CACHE_MAX_ENTRIES = 1000
# key hash -> (the key's row, the _clock() reading until which it is trusted without a lookup)
_api_key_cache: dict[str, tuple[ApiKey, float]] = {}
_clock = time.monotonic


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active key `raw_key` names, or None.

    A valid key is remembered in this process for API_KEY_CACHE_SECONDS, so most requests authenticate
    without a query. The bound that buys: a key revoked in another process (the admin, another gunicorn
    worker or host) keeps working for at most API_KEY_CACHE_SECONDS in a process that had it; the process
    that revokes forgets it at once. 0 turns the cache off.
    """
    if not raw_key or len(raw_key) > 200:
        return None
    key_hash = _hash_key(raw_key)
    ttl = settings.API_KEY_CACHE_SECONDS
    if ttl > 0:
        cached = _api_key_cache.get(key_hash)
        if cached is not None and _clock() < cached[1]:
            return cached[0]
    # Raw: every API request without a cached key runs this lookup; the ORM compile cost more than the probe.
    api_key = next(iter(ApiKey.objects.raw(API_KEY_LOOKUP_SQL, [key_hash])), None)
    if api_key is None:
        _api_key_cache.pop(key_hash, None)
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > API_KEY_TOUCH_INTERVAL:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    if ttl > 0:
        if len(_api_key_cache) >= API_KEY_CACHE_MAX_ENTRIES:
            _api_key_cache.clear()
        _api_key_cache[key_hash] = (api_key, _clock() + ttl)
    return api_key


def api_key_cache_clear() -> None:
    _api_key_cache.clear()
