"""/api/v1/health latency through gunicorn, with the broker up, refusing, and silent (a black hole).

Starts gunicorn (2 sync workers) on a free loopback port against DATABASE_URL and sends
HEALTH_REQUESTS (200) probes per case, each on a new connection as a load balancer does, and prints
p50 / p95 / max. "silent" is a socket that accepts connections and never answers, the worst case for
a broker check (the one that took 2.5 s before the status was cached and bounded).

    DATABASE_URL=postgres://botdesk:botdesk@127.0.0.1:5432/botdesk .venv/bin/python bench/health_latency.py
"""

import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = int(os.environ.get("HEALTH_REQUESTS", "200"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure(broker_url: str) -> tuple[list[float], dict[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "false",
        "DEBUG_LOG_DATABASE": "false",
        "CELERY_BROKER_URL": broker_url,
        "PYTHONPATH": str(ROOT),
    }
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api/v1/health"
    try:
        for _ in range(200):
            try:
                httpx.get(url, timeout=10)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        for _ in range(10):  # warm both workers' connections
            httpx.get(url, timeout=10)
        timings, brokers = [], {}
        for _ in range(REQUESTS):
            # http.client: a new connection per probe, and no client-side setup inside the timing
            started = time.perf_counter()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", "/api/v1/health")
            body = json.loads(connection.getresponse().read())
            connection.close()
            timings.append((time.perf_counter() - started) * 1000)
            brokers[body["broker"]] = brokers.get(body["broker"], 0) + 1
        return timings, brokers
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def main() -> None:
    with socket.socket() as silent, socket.socket() as closed:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1024)
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        cases = {
            "broker up": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"),
            "broker refusing": f"redis://127.0.0.1:{closed.getsockname()[1]}/0",
            "broker silent": f"redis://127.0.0.1:{silent.getsockname()[1]}/0",
        }
        print(f"{'case':<16} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  broker answers ({REQUESTS} probes)")
        for name, broker_url in cases.items():
            timings, brokers = measure(broker_url)
            p95 = statistics.quantiles(timings, n=20)[-1]
            print(
                f"{name:<16} {statistics.median(timings):>8.1f} {p95:>8.1f} {max(timings):>8.1f}  {brokers}"
            )
            sys.stdout.flush()


if __name__ == "__main__":
    main()
