"""A real HTTP server on a thread, standing in for a bot's webhook endpoint in tests.

It answers from a script of statuses (the last one repeats), can stall before answering, and keeps every
request it got (path, headers, raw body), so tests check exactly what went over the wire.
"""

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    statuses: list[int] = field(default_factory=lambda: [200])
    stall_seconds: float = 0.0
    requests: list[Received] = field(default_factory=list)
    # Decides (status, stall seconds) from the request instead of the script; the fault tests use it.
    decide: Callable[[Received], tuple[int, float]] | None = None
    port: int = 0

    def __post_init__(self) -> None:
        receiver = self
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received = Received(self.path, dict(self.headers.items()), body)
                with receiver._lock:
                    receiver.requests.append(received)
                    if receiver.decide is not None:
                        status, stall = receiver.decide(received)
                    else:
                        status = (
                            receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                        )
                        stall = receiver.stall_seconds
                if stall:
                    time.sleep(stall)
                payload = b'{"ok": true}' if 200 <= status < 300 else b"receiver says no"
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up (timed out, or its worker was killed) before the answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/botdesk-events"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def signature_valid(*, secret: str, header: str, body: bytes) -> bool:
    """The contract's check, written independently of Botdesk's code: v1 = HMAC-SHA256("<t>.<body>")."""
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])
