"""Benchmark: how gunicorn workers should hold database connections, measured in one run.

    .venv/bin/python bench/db_connections.py [--seconds 8] [--clients 16] [--workers 4]

Starts gunicorn (sync workers) three times against the project database (`DATABASE_URL` or the default
botdesk database, migrated), each time with one connection policy:
  per-request   CONN_MAX_AGE=0 (a new connection for every request)
  persistent    CONN_MAX_AGE=300 with health checks (the default)
  pool          DATABASE_POOL=true (Django's psycopg pool, min 2 / max 20 per process)
and drives GET /api/v1/users/{user}/balance from --clients threads for --seconds. Prints requests per
second, p50 and p99 latency and each policy's ratio to `persistent`.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PORT = 8077


def manage(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return result.stdout.strip()


def start_gunicorn(env: dict[str, str], workers: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{PORT}",
         "--workers", str(workers), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 90  # a loaded 2-core machine boots workers slowly
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/api/v1/health", timeout=2).status_code in (200, 503):
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def drive(url: str, headers: dict[str, str], clients: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.time() + seconds

    def client() -> None:
        mine = []
        with httpx.Client(headers=headers, timeout=10) as session:
            while time.time() < deadline:
                started = time.perf_counter()
                response = session.get(url)
                mine.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    options = parser.parse_args()

    base_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DEBUG": "False"}
    base_env.pop("DATABASE_POOL", None)
    manage("migrate", "-v", "0", env=base_env)
    api_key = manage("create_api_key", "bench-db-connections", env=base_env).splitlines()[-1]
    manage("shell", "-c", "from accounts.services import end_user_upsert; end_user_upsert(ref='777777777', profile={})",
           env=base_env)  # fmt: skip
    headers = {"Authorization": f"Bearer {api_key}"}
    url = f"http://127.0.0.1:{PORT}/api/v1/users/777777777/balance"

    policies = {
        "per-request": {"CONN_MAX_AGE": "0"},
        "persistent": {"CONN_MAX_AGE": "300"},
        "pool": {"DATABASE_POOL": "true"},
    }
    results = {}
    for name, extra in policies.items():
        server = start_gunicorn({**base_env, **extra}, options.workers)
        try:
            drive(url, headers, options.clients, 1)  # warm-up
            latencies = sorted(drive(url, headers, options.clients, options.seconds))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(10)
        results[name] = (
            len(latencies) / options.seconds,
            statistics.median(latencies) * 1000,
            latencies[int(len(latencies) * 0.99)] * 1000,
        )
    print(f"gunicorn {options.workers} sync workers, {options.clients} clients, {options.seconds:.0f} s each")
    for name, (rps, p50, p99) in results.items():
        ratio = rps / results["persistent"][0]
        print(f"{name:>12}: {rps:7.0f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
