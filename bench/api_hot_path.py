"""Benchmark: the two calls bots make most, Botdesk against a bare Django app, with Debian's wrk.

  GET  /api/v1/users/{user}/balance                   (random user of --users)
  POST /api/v1/generations  (a new Idempotency-Key each time, paid model, random user)

What it does:
  1. Installs Debian's `wrk` if it is missing (apt-get, as root or through sudo).
  2. Drops and recreates its own database (default botdesk_bench_hot), migrates it with the production
     settings, creates an API key and --users users with 1,000,000.00 RUB each, and lifts the free
     plan's limits out of reach (the limit check itself, lock and counts, still runs on every create).
  3. Starts Botdesk under gunicorn (`config.wsgi`, `config.settings.production`: production settings
     and middleware, DEBUG off; requests carry `X-Forwarded-Proto: https` as from the TLS proxy) and the
     bare app (`bench/api_bare.py`: no middleware, one raw statement per call) with the same --workers.
  4. Counts the database round trips of one call of each kind in-process (statements Django sends,
     BEGIN/COMMIT/SAVEPOINT included, plus the CONN_HEALTH_CHECKS ping, reported apart).
  5. For each call, --rounds rounds of wrk (--connections, --threads, --seconds) on Botdesk and on the
     bare app back to back (order alternating); prints req/s, p50, p99 per run, the per-round ratios and
     their median. The machine is shared and noisy: the ratio within a round is what counts.

Run from the repository root (about 3 minutes):
    .venv/bin/python bench/api_hot_path.py
    .venv/bin/python bench/api_hot_path.py --rounds 5 --seconds 10 --app-port 18150 --bare-port 18151
    .venv/bin/python bench/api_hot_path.py --middleware-cost      # + in-process cost of each middleware
"""

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from generations_http import database_url, prepare_database, run_python

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
MODEL = "flux-2-pro"
TELEGRAM_ID_BASE = 9_200_000_000
CALLS = ("balance", "create")


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing Debian's wrk ...", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    apt = [*sudo, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    lock_wait = ["-o", "DPkg::Lock::Timeout=300"]
    if subprocess.run([*apt, *lock_wait, "install", "-y", "-qq", "wrk"], check=False).returncode != 0:
        subprocess.run([*apt, "update", "-qq"], check=True)
        subprocess.run([*apt, *lock_wait, "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or sys.exit("wrk is not installed")


def app_env(db_name: str) -> dict[str, str]:
    """Botdesk's production settings; only the secrets they require are given bench values."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": database_url(db_name),
        "SECRET_KEY": "bench-" + "x" * 60,
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        # Nothing on these two paths publishes a task; a database index of its own all the same.
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/13",
        "YOOKASSA_WEBHOOK_SECRET": "bench-webhook-secret",
        "YOOKASSA_MODE": "fake",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "ERROR",
    }


# After generations_http.py's setup (an API key, funded users, the free plan's limits out of reach),
# statistics: production's autovacuum analyzes long before a table is this big; this server runs
# without it, and without statistics the planner picks scans no production database would.
ANALYZE_SCRIPT = """
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("ANALYZE")
print("{}")
"""

# One warm call of each kind, then one counted call: every statement Django sends (BEGIN, COMMIT and
# savepoints included, as Django logs them) and the CONN_HEALTH_CHECKS ping (is_usable), which Django
# sends on the first query of every request on a reused connection and does not log.
ROUND_TRIPS_SCRIPT = """
import django, json, sys, uuid
django.setup()
from django.db import close_old_connections, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

key, user = sys.argv[1], sys.argv[2]
pings = []
original = connection.is_usable
def counted():
    pings.append(1)
    return original()
connection.is_usable = counted
client = Client(HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_X_FORWARDED_PROTO="https")
body = json.dumps({"user": user, "model": sys.argv[3], "prompt": "a red fox in the snow", "parameters": {}})
calls = {
    "balance": lambda: client.get(f"/api/v1/users/{user}/balance"),
    "create": lambda: client.post("/api/v1/generations", body, content_type="application/json",
                                  HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex),
}
out = {}
for name, call in calls.items():
    call()
    pings.clear()
    close_old_connections()  # what request_started does under gunicorn (the test Client skips it)
    with CaptureQueriesContext(connection) as ctx:
        response = call()
    out[name] = {"status": response.status_code, "statements": [q["sql"][:90] for q in ctx.captured_queries],
                 "pings": len(pings)}
print(json.dumps(out))
"""


LUA = """
local base = tonumber(os.getenv("HOT_USER_BASE"))
local users = tonumber(os.getenv("HOT_USERS"))
local call = os.getenv("HOT_CALL")
local run = os.getenv("HOT_RUN")
local headers = {
  ["Authorization"] = "Bearer " .. os.getenv("HOT_API_KEY"),
  ["X-Forwarded-Proto"] = "https",
  ["Content-Type"] = "application/json",
}
local threads_made = 0
local counter = 0
thread_id = 0

function setup(thread)
  threads_made = threads_made + 1
  thread:set("thread_id", threads_made)
end

function init(args)
  math.randomseed(os.time() + thread_id * 7919)
end

function request()
  local user = base + math.random(0, users - 1)
  if call == "balance" then
    return wrk.format("GET", "/api/v1/users/" .. user .. "/balance", headers)
  end
  counter = counter + 1
  headers["Idempotency-Key"] = run .. "-" .. thread_id .. "-" .. counter
  local body = '{"user": "' .. user .. '", "model": "' .. os.getenv("HOT_MODEL") ..
    '", "prompt": "a red fox in the snow", "parameters": {}}'
  return wrk.format("POST", "/api/v1/generations", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'HOTJSON {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def run_wrk(wrk: str, lua: str, port: int, call: str, options, raw_key: str, seconds: float) -> dict:
    env = {
        **os.environ,
        "HOT_USER_BASE": str(TELEGRAM_ID_BASE),
        "HOT_USERS": str(options.users),
        "HOT_CALL": call,
        "HOT_RUN": uuid.uuid4().hex[:12],
        "HOT_API_KEY": raw_key,
        "HOT_MODEL": MODEL,
    }
    command = [
        wrk,
        "-t",
        str(options.threads),
        "-c",
        str(options.connections),
        "-d",
        f"{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        lua,
        f"http://127.0.0.1:{port}",
    ]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("HOTJSON "))
    result = json.loads(line.removeprefix("HOTJSON "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def start_gunicorn(target: str, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen:
    command = [
        str(VENV_BIN / "gunicorn"),
        target,
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--timeout",
        "120",
    ]
    return subprocess.Popen(command, env=env, cwd=ROOT)


def check_call(port: int, call: str, raw_key: str) -> int:
    """One request by hand: the answer must be the real one (200/201), not a redirect or an error."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {raw_key}", "X-Forwarded-Proto": "https"}
    if call == "balance":
        conn.request("GET", f"/api/v1/users/{TELEGRAM_ID_BASE}/balance", headers=headers)
    else:
        body = json.dumps(
            {"user": str(TELEGRAM_ID_BASE), "model": MODEL, "prompt": "check", "parameters": {}}
        )
        headers |= {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
        conn.request("POST", "/api/v1/generations", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


def wait_until_up(port: int, server: subprocess.Popen, call_ok, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn on {port} exited: is the port taken?")
        try:
            if call_ok():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"gunicorn on {port} did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers, both apps")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--seconds", type=float, default=10, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per call; each runs both apps")
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--app-port", type=int, default=18150)
    parser.add_argument("--bare-port", type=int, default=18151)
    parser.add_argument("--database", default="botdesk_bench_hot")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the database at the end")
    parser.add_argument(
        "--middleware-cost",
        action="store_true",
        help="then time each middleware and profile both calls in-process (bench/api_middleware_cost.py)",
    )
    options = parser.parse_args()

    wrk = ensure_wrk()
    env = app_env(options.database)
    print(f"recreating database {options.database}, migrating, {options.users} users ...", flush=True)
    raw_key = prepare_database(options.database, env, options.users, TELEGRAM_ID_BASE)
    run_python(ANALYZE_SCRIPT, env)
    round_trips = run_python(ROUND_TRIPS_SCRIPT, env, raw_key, str(TELEGRAM_ID_BASE + 1), MODEL)
    bare_env = {**os.environ, "BARE_DATABASE_NAME": options.database, "PYTHONPATH": str(ROOT)}

    servers = {
        "botdesk": (
            start_gunicorn("config.wsgi:application", options.app_port, options.workers, env),
            options.app_port,
        ),
        "bare": (
            start_gunicorn("bench.api_bare_wsgi:application", options.bare_port, options.workers, bare_env),
            options.bare_port,
        ),
    }
    results: dict[str, dict[str, list[dict]]] = {call: {"botdesk": [], "bare": []} for call in CALLS}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(LUA)
        lua = handle.name
    try:
        for name, (server, port) in servers.items():
            for call in CALLS:
                wait_until_up(
                    port, server, lambda port=port, call=call: check_call(port, call, raw_key) in (200, 201)
                )
                status = check_call(port, call, raw_key)
                if status not in (200, 201):
                    raise RuntimeError(f"{name} {call}: status {status}")
        for call in CALLS:
            for _, port in servers.values():  # warm-up: every worker's connection, imports, caches
                run_wrk(wrk, lua, port, call, options, raw_key, 3)
            for round_index in range(options.rounds):
                order = ["botdesk", "bare"] if round_index % 2 == 0 else ["bare", "botdesk"]
                for name in order:
                    outcome = run_wrk(wrk, lua, servers[name][1], call, options, raw_key, options.seconds)
                    results[call][name].append(outcome)
                    print(
                        f"{call} round {round_index + 1} {name}: {outcome['rps']:.0f} req/s, "
                        f"p50 {outcome['p50_us'] / 1000:.1f} ms, p99 {outcome['p99_us'] / 1000:.1f} ms, "
                        f"non-2xx {outcome['non2xx']}, socket errors {outcome['socket_errors']}",
                        flush=True,
                    )
    finally:
        for server, _ in servers.values():
            server.terminate()
        for server, _ in servers.values():
            server.wait(timeout=30)
        os.unlink(lua)

    print()
    print(
        f"workers={options.workers} wrk -t{options.threads} -c{options.connections} "
        f"{options.rounds}x{options.seconds:g}s per app and call, users={options.users}"
    )
    print("| call | round | Botdesk req/s | bare req/s | ratio | Botdesk p99 ms | bare p99 ms | p99 / bare |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    failed = False
    for call in CALLS:
        ratios, p99_ratios = [], []
        for index, (app, bare) in enumerate(
            zip(results[call]["botdesk"], results[call]["bare"], strict=True)
        ):
            ratio, p99_ratio = app["rps"] / bare["rps"], app["p99_us"] / bare["p99_us"]
            ratios.append(ratio)
            p99_ratios.append(p99_ratio)
            print(
                f"| {call} | {index + 1} | {app['rps']:.0f} | {bare['rps']:.0f} | {ratio:.2f} "
                f"| {app['p99_us'] / 1000:.1f} | {bare['p99_us'] / 1000:.1f} | {p99_ratio:.2f} |"
            )
            failed |= bool(app["non2xx"] or app["socket_errors"] or bare["non2xx"] or bare["socket_errors"])
        print(
            f"| {call} | **median** | {statistics.median(r['rps'] for r in results[call]['botdesk']):.0f} "
            f"| {statistics.median(r['rps'] for r in results[call]['bare']):.0f} | **{statistics.median(ratios):.2f}** "
            f"| {statistics.median(r['p99_us'] for r in results[call]['botdesk']) / 1000:.1f} "
            f"| {statistics.median(r['p99_us'] for r in results[call]['bare']) / 1000:.1f} "
            f"| **{statistics.median(p99_ratios):.2f}** |"
        )
    print()
    for call, counted in round_trips.items():
        print(
            f"round trips, {call} (status {counted['status']}): {len(counted['statements'])} statements"
            f" + {counted['pings']} health-check ping"
        )
        for sql in counted["statements"]:
            print(f"    {sql}")
    if failed:
        print("some requests failed (non-2xx or socket errors): see the rounds above")
    if options.middleware_cost:
        subprocess.run(
            [
                str(VENV_BIN / "python"),
                "bench/api_middleware_cost.py",
                "--profile",
                "--key",
                raw_key,
                "--user",
                str(TELEGRAM_ID_BASE),
            ],
            env=env,
            cwd=ROOT,
            check=True,
        )
    if not options.keep_database:
        import psycopg

        with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{options.database}" WITH (FORCE)')
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
