"""Verifying the events Botdesk POSTs to the bot's webhook (contract v1.1, "Events sent to the bot").

Header: `Botdesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the secret>`.
Verify the raw body exactly as received, before parsing it.
"""

import hashlib
import hmac
import time

from botdesk_client.errors import SignatureVerificationError
from botdesk_client.models import Event

SIGNATURE_HEADER = "Botdesk-Signature"
EVENT_ID_HEADER = "Botdesk-Event-Id"
DEFAULT_TOLERANCE_SECONDS = 300


def compute_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex `v1` value for a body and timestamp."""
    message = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_payload(payload: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """A `Botdesk-Signature` header value, as Botdesk sends it (handy to test a bot's endpoint)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={compute_signature(payload, secret, timestamp)}"


def verify_signature(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Raises `SignatureVerificationError` unless the header signs this body with this secret, within
    `tolerance` seconds of now (replayed old deliveries are refused). Comparison is constant-time; any
    of several `v1` values may match (for a secret rotated while deliveries were in flight)."""
    if not header:
        raise SignatureVerificationError("no Botdesk-Signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError as exc:
                raise SignatureVerificationError("the signature's timestamp is not an integer") from exc
        elif name == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureVerificationError("the signature header needs t= and v1=")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureVerificationError("the signature's timestamp is outside the tolerance window")
    expected = compute_signature(payload, secret, timestamp)
    # Check every candidate so the time taken does not depend on which one matched.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected.encode(), candidate.encode())
    if not matched:
        raise SignatureVerificationError("the signature does not match the body")


def parse_event(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> Event:
    """Verifies the signature, then parses the body into an `Event`."""
    verify_signature(payload, header, secret, tolerance=tolerance, now=now)
    return Event.model_validate_json(payload)
