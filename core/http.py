"""Every outgoing HTTP call goes through `outgoing_client`: explicit timeouts, and no retries.

Each call has a connect, read, write and pool timeout (no call may hang a web request or a worker), and
no layer retries a request by itself: a POST that timed out may have been applied by the other side,
so whether to try again is the caller's decision (with the provider's idempotence key, or a Celery
retry of an idempotent task), never a transport's. httpx retries nothing unless told to; the transport
is still built with `retries=0` so that a later default cannot change it silently.
"""

import httpx

MAX_CONNECT_SECONDS = 5.0


def outgoing_timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(seconds, MAX_CONNECT_SECONDS))


def outgoing_client(
    *, timeout: float, transport: httpx.BaseTransport | None = None, **kwargs
) -> httpx.Client:
    return httpx.Client(
        timeout=outgoing_timeout(timeout),
        transport=transport or httpx.HTTPTransport(retries=0),
        follow_redirects=False,
        **kwargs,
    )
