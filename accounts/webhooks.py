"""Events sent to the bots' webhooks (bot-api.md, "Events sent to the bot"): endpoints and the outbox.

An event is recorded by the service that makes the change, inside that change's transaction
(`bot_event_record`), so none is lost and none exists for a change that rolled back. It goes to the
webhook of the API key that made the request the event is about: billing and generations keep that key
on their rows (`api_key`) and pass its id here. A key without a webhook, or whose webhook does not take
this type, gets no row at all: nobody would receive it, and a webhook set later starts from then.
Delivery (accounts/webhook_delivery.py) runs in Celery after the commit, with a beat sweep behind it.

Not to be confused with accounts/events.py, the in-process domain events between apps.
"""

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from accounts.errors import AccountsError
from accounts.models import ApiKey, BotEvent, BotEventType, WebhookEndpoint
from accounts.selectors import webhook_takers

logger = logging.getLogger(__name__)

EVENT_TYPES: tuple[str, ...] = tuple(BotEventType.values)
SECRET_PREFIX = "whsec_"
URL_MAX_LENGTH = 2000
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# --- Addresses (SSRF) ------------------------------------------------------------------------


def address_allowed(address: IpAddress) -> bool:
    """Only public unicast addresses: no private, loopback, link-local, shared, reserved or multicast."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _ip_literal(host: str) -> IpAddress | None:
    """The address a host names by itself, legacy IPv4 forms included ("127.1", "2130706433")."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def webhook_url_check(url: str) -> None:
    """http(s) with a host; private, loopback and link-local hosts refused unless allowed by settings.

    Host names are not resolved here (a DNS lookup has no bound in a web request): the delivery
    resolves them and checks every address before it connects (webhook_delivery._connect_target).
    """

    def refuse(reason: str) -> AccountsError:
        return AccountsError(f"The webhook URL is not allowed: {reason}.", code="validation_error",
                             details={"url": reason})  # fmt: skip

    if len(url) > URL_MAX_LENGTH:
        raise refuse(f"at most {URL_MAX_LENGTH} characters")
    if any(ord(char) <= 32 or ord(char) == 127 for char in url):
        raise refuse("no spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "http://[::1" and the like
        raise refuse("not a valid URL") from exc
    if parts.scheme not in ("http", "https"):
        raise refuse("must be an http or https URL")
    try:
        host, _port = parts.hostname, parts.port
    except ValueError as exc:
        raise refuse("the port is not valid") from exc
    if not host:
        raise refuse("must name a host")
    if parts.username is not None or parts.password is not None:
        raise refuse("credentials in the URL are not supported")
    if settings.WEBHOOKS_ALLOW_PRIVATE_URLS:
        return
    host = host.rstrip(".")  # "localhost." is localhost
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise refuse("private, loopback and link-local addresses are not allowed")
    address = _ip_literal(host)
    if address is not None and not address_allowed(address):
        raise refuse("private, loopback and link-local addresses are not allowed")


# --- Endpoints -------------------------------------------------------------------------------


def _fernet() -> Fernet:
    material = f"webhook-signing-secret:{settings.SECRET_KEY}"
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest()))


def webhook_secret_reveal(*, endpoint: WebhookEndpoint) -> str:
    try:
        return _fernet().decrypt(endpoint.secret_encrypted.encode()).decode()
    except InvalidToken as exc:
        raise AccountsError(
            "The webhook's signing secret cannot be decrypted (SECRET_KEY changed?); set the webhook again.",
            code="conflict",
        ) from exc


def webhook_set(*, api_key: ApiKey, url: str, events: Iterable[str] | None) -> tuple[WebhookEndpoint, str]:
    """Points the key's events at `url`; returns the endpoint and its new signing secret (shown once).

    `events` None means every type, including types added later. Every call makes a new secret.
    """
    webhook_url_check(url)
    chosen = None if events is None else set(events)
    if chosen is not None and (not chosen or not chosen <= set(EVENT_TYPES)):
        raise AccountsError(
            "Unknown or missing event types.",
            code="validation_error",
            details={"events": f"one or more of {', '.join(EVENT_TYPES)}"},
        )
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    endpoint, _ = WebhookEndpoint.objects.update_or_create(
        api_key=api_key,
        defaults={
            "url": url,
            "events": None if chosen is None else sorted(chosen, key=EVENT_TYPES.index),
            "secret_encrypted": _fernet().encrypt(secret.encode()).decode(),
        },
    )
    return endpoint, secret


def webhook_get(*, api_key: ApiKey) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(api_key=api_key).first()
    if endpoint is None:
        raise AccountsError(
            "No webhook is set for this API key.", code="not_found", details={"webhook": "not set"}
        )
    return endpoint


def webhook_delete(*, api_key: ApiKey) -> None:
    """Removes the key's webhook; events not delivered yet are given up at their next attempt."""
    WebhookEndpoint.objects.filter(api_key=api_key).delete()


def webhook_events_of(endpoint: WebhookEndpoint) -> list[str]:
    return list(EVENT_TYPES) if endpoint.events is None else list(endpoint.events)


# --- Recording (the outbox) ------------------------------------------------------------------


EventData = dict[str, Any] | Callable[[], dict[str, Any]]


def bot_event_record(*, api_key_id: int | None, event_type: str, data: EventData) -> BotEvent | None:
    """Records one event for the webhook of `api_key_id`; call it inside the change's transaction.

    `data` is the object as the API shows it (a presenter's dict), or a callable that builds it: it is
    called only when a webhook takes the event, so a change nobody listens to costs one query at most.
    Returns None when nobody takes it: no key (a row made outside the API), or no webhook for this type.
    """
    recorded = bot_events_record(event_type=event_type, items=[(api_key_id, data)])
    return recorded[0] if recorded else None


def bot_events_record(*, event_type: str, items: Iterable[tuple[int | None, EventData]]) -> list[BotEvent]:
    """Many events of one type (a sweep's batch) in two queries: the webhooks that take them, one INSERT."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    items = [(api_key_id, data) for api_key_id, data in items if api_key_id is not None]
    if not items:
        return []
    takers = webhook_takers(api_key_ids={api_key_id for api_key_id, _ in items}, event_type=event_type)
    now = timezone.now()
    events = [
        BotEvent(
            public_id=uuid.uuid4(),
            api_key_id=api_key_id,
            type=event_type,
            data=data() if callable(data) else data,
            created_at=now,
            next_attempt_at=now,
        )  # fmt: skip
        for api_key_id, data in items
        if api_key_id in takers
    ]
    if not events:
        return []
    BotEvent.objects.bulk_create(events)
    if settings.WEBHOOK_DELIVER_ON_COMMIT:
        event_ids = [event.pk for event in events]
        transaction.on_commit(lambda: bot_events_enqueue(event_ids=event_ids))
    return events


def bot_events_enqueue(*, event_ids: Iterable[int], countdown: float | None = None) -> None:
    """Queues delivery tasks. A broker outage loses nothing: the beat sweep finds every due event."""
    from accounts.tasks import bot_event_deliver

    for event_id in event_ids:
        try:
            bot_event_deliver.apply_async(args=[event_id], countdown=countdown)
        except Exception:
            logger.warning(
                "could not queue webhook delivery of event %s; the sweep will", event_id, exc_info=True
            )
            return


# --- What is sent ----------------------------------------------------------------------------


def bot_event_body(event: BotEvent) -> bytes:
    payload = {
        "id": str(event.public_id),
        "type": event.type,
        "created_at": event.created_at,
        "data": event.data,
    }
    return json.dumps(payload, cls=DjangoJSONEncoder, ensure_ascii=False).encode()


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """`Botdesk-Signature`: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the secret>."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
