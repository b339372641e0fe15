"""Delivery of recorded bot events: one HTTP attempt at a time, at least once, after any crash.

An attempt first claims its event with one conditional UPDATE (pending, due, attempts + 1, and
`next_attempt_at` pushed to the end of a lease), so two workers, or a task and the sweep, never send the
same attempt twice; then it POSTs with no transaction open; then it records the outcome. A worker killed
mid-attempt leaves the event pending with its lease, and the sweep takes it again once the lease ends.
A 2xx acknowledges; any other answer, a timeout or a connection error is retried after
WEBHOOK_RETRY_DELAYS_SECONDS (growing; more than 24 h in all), then the event is given up.

SSRF: the host is resolved here, every address it resolves to must be allowed (unless
WEBHOOKS_ALLOW_PRIVATE_URLS), and the connection goes to that checked address (Host header and TLS
SNI keep the name), so a name that changes its answer between check and connect cannot slip through.
Redirects are not followed and proxies from the environment are not used.
"""

import ipaddress
import logging
import random
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.errors import AccountsError
from accounts.models import BotEvent, WebhookDelivery, WebhookEndpoint
from accounts.webhooks import (
    address_allowed,
    bot_event_body,
    bot_events_enqueue,
    webhook_secret_reveal,
    webhook_signature,
)
from core.http import outgoing_client

logger = logging.getLogger(__name__)

ERROR_MAX_LENGTH = 500
# Retries this soon are queued as countdown tasks; later ones are left to the minutely sweep.
COUNTDOWN_MAX_SECONDS = 300
SWEEP_BATCH = 1000
USER_AGENT = "Botdesk-Webhooks/1.1"


@dataclass(frozen=True)
class AttemptResult:
    ok: bool
    status_code: int | None
    error: str
    duration_ms: int


def retry_delay(*, attempt: int) -> float | None:
    """Seconds to wait after failed attempt number `attempt` (1-based); None when it was the last."""
    delays = settings.WEBHOOK_RETRY_DELAYS_SECONDS
    if attempt > len(delays):
        return None
    # Up to 10% later, so that a receiver coming back is not hit by every retry in the same second.
    return delays[attempt - 1] * (1 + random.random() / 10)


def _connect_target(url: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The URL to connect to (the checked address), the Host header and the TLS SNI extension."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ConnectionError(f"cannot resolve {host}: {exc}") from exc
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
    if not addresses:
        raise ConnectionError(f"{host} has no address")
    if not settings.WEBHOOKS_ALLOW_PRIVATE_URLS:
        refused = [str(address) for address in addresses if not address_allowed(address)]
        if refused:
            raise PermissionError(
                f"{host} resolves to a private, loopback or link-local address ({refused[0]})"
            )
    address = addresses[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    target = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return target, {"Host": host_header}, extensions


def webhook_post(*, url: str, body: bytes, event_id: str, event_type: str, secret: str) -> AttemptResult:
    """One signed POST to the checked address; never raises for what the network or the receiver does."""
    started = time.monotonic()

    def result(ok: bool, status_code: int | None, error: str) -> AttemptResult:
        duration = int((time.monotonic() - started) * 1000)
        return AttemptResult(ok, status_code, error[:ERROR_MAX_LENGTH], duration)

    try:
        target, host_header, extensions = _connect_target(url)
    except (ConnectionError, PermissionError) as exc:
        return result(False, None, str(exc))
    headers = {
        **host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Botdesk-Event-Id": event_id,
        "Botdesk-Event-Type": event_type,
        "Botdesk-Signature": webhook_signature(secret=secret, timestamp=int(time.time()), body=body),
    }
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    try:
        with (
            outgoing_client(timeout=timeout, trust_env=False) as client,
            client.stream("POST", target, content=body, headers=headers, extensions=extensions) as response,
        ):
            if 200 <= response.status_code < 300:
                return result(True, response.status_code, "")
            snippet = b""
            for chunk in response.iter_bytes(chunk_size=400):
                snippet = chunk[:400]
                break
            text = snippet.decode("utf-8", "replace").strip()
            return result(
                False, response.status_code, f"HTTP {response.status_code}" + (f": {text}" if text else "")
            )
    except httpx.TimeoutException as exc:
        return result(False, None, f"timed out after {timeout:g} s ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return result(False, None, f"{type(exc).__name__}: {exc}")


def bot_event_deliver(*, event_id: int) -> str:
    """One attempt for a due event: "delivered", "retry", "failed" (given up) or "skipped" (not due).

    Idempotent: a task run twice, or beside the sweep, finds the event claimed or done and skips.
    """
    now = timezone.now()
    lease_end = now + timedelta(seconds=settings.WEBHOOK_DELIVERY_LEASE_SECONDS)
    claimed = BotEvent.objects.filter(
        pk=event_id, status=BotEvent.Status.PENDING, next_attempt_at__lte=now
    ).update(attempts=F("attempts") + 1, next_attempt_at=lease_end, last_attempt_at=now)
    if not claimed:
        return "skipped"
    event = BotEvent.objects.get(pk=event_id)
    endpoint = (
        WebhookEndpoint.objects.filter(api_key_id=event.api_key_id).first() if event.api_key_id else None
    )
    if endpoint is None or not endpoint.wants(event.type):
        return _attempt_finish(event=event, url="", started_at=now,
                               result=AttemptResult(False, None, "the API key has no webhook for this event any more", 0),
                               give_up=True)  # fmt: skip
    try:
        secret = webhook_secret_reveal(endpoint=endpoint)
    except AccountsError as exc:
        return _attempt_finish(event=event, url=endpoint.url, started_at=now,
                               result=AttemptResult(False, None, exc.message, 0))  # fmt: skip
    result = webhook_post(
        url=endpoint.url,
        body=bot_event_body(event),
        event_id=str(event.public_id),
        event_type=event.type,
        secret=secret,
    )
    return _attempt_finish(event=event, url=endpoint.url, started_at=now, result=result)


def _attempt_finish(
    *, event: BotEvent, url: str, started_at: datetime, result: AttemptResult, give_up: bool = False
) -> str:
    now = timezone.now()
    changes: dict = {"last_error": result.error[:ERROR_MAX_LENGTH]}
    delay = None if result.ok or give_up else retry_delay(attempt=event.attempts)
    if result.ok:
        outcome = "delivered"
        changes.update(
            status=BotEvent.Status.DELIVERED, delivered_at=now, finished_at=now, next_attempt_at=None
        )
    elif delay is None:
        outcome = "failed"
        changes.update(status=BotEvent.Status.FAILED, finished_at=now, next_attempt_at=None)
    else:
        outcome = "retry"
        changes.update(next_attempt_at=now + timedelta(seconds=delay))
    with transaction.atomic():
        WebhookDelivery.objects.create(
            event=event,
            attempt=event.attempts,
            url=url[:2000],
            started_at=started_at,
            duration_ms=result.duration_ms,
            status_code=result.status_code,
            ok=result.ok,
            error=result.error[:ERROR_MAX_LENGTH],
        )
        # Only while the attempt is still ours: past its lease another attempt may have taken over.
        updated = BotEvent.objects.filter(
            pk=event.pk, status=BotEvent.Status.PENDING, attempts=event.attempts
        ).update(**changes)
    if not updated:
        return "skipped"
    if outcome == "failed":
        logger.warning("webhook event %s (%s) given up after %s attempts: %s", event.public_id, event.type,
                       event.attempts, result.error)  # fmt: skip
    if outcome == "retry" and delay <= COUNTDOWN_MAX_SECONDS:
        bot_events_enqueue(event_ids=[event.pk], countdown=delay)
    return outcome


def bot_events_due_enqueue(*, limit: int = SWEEP_BATCH) -> int:
    """The beat sweep: queues every pending event whose attempt is due (lost tasks, killed workers)."""
    event_ids = list(
        BotEvent.objects.filter(status=BotEvent.Status.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    bot_events_enqueue(event_ids=event_ids)
    return len(event_ids)


def bot_events_redeliver(*, event_ids: list[int]) -> int:
    """Sends these events again now with a fresh retry schedule (the operators' action)."""
    now = timezone.now()
    with transaction.atomic():
        count = BotEvent.objects.filter(pk__in=event_ids).update(
            status=BotEvent.Status.PENDING, attempts=0, next_attempt_at=now, finished_at=None
        )
        if settings.WEBHOOK_DELIVER_ON_COMMIT:
            transaction.on_commit(lambda: bot_events_enqueue(event_ids=event_ids))
    return count
