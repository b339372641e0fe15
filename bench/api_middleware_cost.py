"""In-process cost of each middleware and a profile of the two hot calls (part of bench/api_hot_path.py).

Runs inside Django (the production settings of api_hot_path.py, against its database kept with
--keep-database) through Django's test Client, which runs the full middleware chain but no HTTP server:
  - each call's CPU time in this process timed with the whole MIDDLEWARE, with each middleware left out in turn, and with none;
    the cost of a middleware = (whole stack) - (stack without it), median of --repeats runs;
  - --profile: cProfile of --requests calls of each kind, the top functions by own time.

    DJANGO_SETTINGS_MODULE=config.settings.production ... .venv/bin/python bench/api_middleware_cost.py \
        --key <api key> --user <telegram id> [--profile]
"""

import argparse
import cProfile
import io
import json
import pstats
import statistics
import time
import uuid

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

SESSION = "django.contrib.sessions.middleware.SessionMiddleware"
SESSION_DEPENDENTS = (
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
)
BODY = {"model": "flux-2-pro", "prompt": "a red fox in the snow", "parameters": {}}


def make_call(client: Client, call: str, user: str):
    if call == "balance":
        return lambda: client.get(f"/api/v1/users/{user}/balance")
    body = json.dumps({"user": user, **BODY})
    return lambda: client.post(
        "/api/v1/generations", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
    )


def per_request_us(middleware: list[str], call: str, options) -> float:
    with override_settings(MIDDLEWARE=middleware):
        client = Client(HTTP_AUTHORIZATION=f"Bearer {options.key}", HTTP_X_FORWARDED_PROTO="https")
        request = make_call(client, call, options.user)
        for _ in range(20):
            assert request().status_code in (200, 201)
        # CPU time of this process only: waiting for the database (and the other load on a shared
        # machine) would drown the few microseconds a middleware costs.
        started = time.process_time()
        for _ in range(options.requests):
            request()
        return (time.process_time() - started) / options.requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    options = parser.parse_args()

    full = list(settings.MIDDLEWARE)
    variants = {"whole stack": full}
    for middleware in full:
        # Authentication and messages need the session: leaving sessions out takes them along.
        left_out = {middleware, *(SESSION_DEPENDENTS if middleware == SESSION else ())}
        label = " + ".join(sorted(name.rsplit(".", 1)[1] for name in left_out))
        variants[f"without {label}"] = [name for name in full if name not in left_out]
    variants["no middleware"] = []
    for call in ("balance", "create"):
        timings = {name: [] for name in variants}
        for _ in range(options.repeats):  # interleaved, so drift of the machine's load hits all alike
            for name, middleware in variants.items():
                timings[name].append(per_request_us(middleware, call, options))
        whole = statistics.median(timings["whole stack"])
        print(
            f"\n{call}: whole stack {whole:.0f} us of CPU per request (median of {options.repeats} x {options.requests})"
        )
        print("| middleware | CPU us per request |")
        print("|---|---:|")
        for name in variants:
            if name.startswith("without "):
                print(f"| {name.removeprefix('without ')} | {whole - statistics.median(timings[name]):.0f} |")
        print(
            f"| all of them (whole stack - none) | {whole - statistics.median(timings['no middleware']):.0f} |"
        )

    if options.profile:
        for call in ("balance", "create"):
            client = Client(HTTP_AUTHORIZATION=f"Bearer {options.key}", HTTP_X_FORWARDED_PROTO="https")
            request = make_call(client, call, options.user)
            for _ in range(20):
                request()
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(options.requests):
                request()
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
            print(f"\nprofile of {options.requests} {call} calls, by own time:\n{out.getvalue()}")


if __name__ == "__main__":
    main()
