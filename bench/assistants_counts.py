"""Cost of GET /users/{user}/assistants (counts per assistant) and of a messages page at scale. Not a test.

    DATABASE_URL=postgres://botdesk:botdesk@127.0.0.1:5432/botdesk_assist \\
        .venv/bin/python bench/assistants_counts.py [--dialogs 1000] [--messages 10]

Fills the migrated database named by DATABASE_URL (use your own, not a shared one) with one user
owning 100 assistants x --dialogs dialogs x --messages messages (by default 1,000 x 10: 1,000,000
messages; `--dialogs 10000` gives the 10,000,000-message table) through INSERT ... SELECT
generate_series, then times the selector's own SQL (assistants_of_user) and a dialog's newest
messages page, each run 20 times, and prints the median and the plan's shape.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from django.db import connection  # noqa: E402

from accounts.models import EndUser  # noqa: E402
from assistants import selectors  # noqa: E402
from assistants.models import Assistant, Dialog, Message  # noqa: E402

ASSISTANTS = 100
_parser = argparse.ArgumentParser()
_parser.add_argument("--dialogs", type=int, default=1_000, help="dialogs per assistant")
_parser.add_argument("--messages", type=int, default=10, help="messages per dialog")
_options = _parser.parse_args()
DIALOGS, MESSAGES = _options.dialogs, _options.messages
TELEGRAM_ID = 777_000_000_001


def fill() -> EndUser:
    user, _ = EndUser.objects.get_or_create(telegram_id=TELEGRAM_ID)
    if Assistant.objects.filter(owner=user).count() >= ASSISTANTS:
        return user
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")  # the app's request timeout is not meant for bulk loads
        started = time.perf_counter()
        cursor.execute(
            "INSERT INTO assistants_assistant (owner_id, name, instructions, is_active, chunks_count,"
            " documents_count, dialogs_count, messages_count, created_at, updated_at)"
            " SELECT %s, 'bench ' || g, '', true, 0, 0, %s, %s, now(), now() FROM generate_series(1, %s) g",
            [user.pk, DIALOGS, DIALOGS * MESSAGES, ASSISTANTS],
        )
        cursor.execute(
            "INSERT INTO assistants_dialog (assistant_id, user_id, chat_id, mode, operator, messages_count,"
            " created_at) SELECT a.id, %s, g::text, 'bot', '', %s, now()"
            " FROM assistants_assistant a, generate_series(1, %s) g WHERE a.owner_id = %s",
            [user.pk, MESSAGES, DIALOGS, user.pk],
        )
        cursor.execute(
            "INSERT INTO assistants_message (dialog_id, role, content, created_at)"
            " SELECT d.id, 'user', 'message ' || g, now() FROM assistants_dialog d"
            " JOIN assistants_assistant a ON a.id = d.assistant_id, generate_series(1, %s) g"
            " WHERE a.owner_id = %s",
            [MESSAGES, user.pk],
        )
        cursor.execute("VACUUM ANALYZE assistants_assistant")
        cursor.execute("VACUUM ANALYZE assistants_dialog")
        cursor.execute("VACUUM ANALYZE assistants_message")
        print(f"filled in {time.perf_counter() - started:.0f}s")
    return user


def timed(sql: str, params, runs: int = 20) -> float:
    with connection.cursor() as cursor:
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            cursor.execute(sql, params)
            cursor.fetchall()
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    user = fill()
    listing = selectors.assistants_of_user(user=user).order_by("-pk")[:200]
    sql, params = listing.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'assistants_message'")
        (table_messages,) = cursor.fetchone()
    print(
        f"assistants list ({ASSISTANTS} assistants, {ASSISTANTS * DIALOGS:,} dialogs, "
        f"{ASSISTANTS * DIALOGS * MESSAGES:,} messages; table ~{table_messages:,} rows): "
        f"{timed(sql, params):.1f} ms median"
    )
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    print("\n".join(line for line in plan.splitlines() if "Scan" in line or "Execution" in line))
    dialog = Dialog.objects.filter(user=user).order_by("-pk").first()
    page = Message.objects.filter(dialog=dialog).order_by("-pk")[:51]
    sql, params = page.query.sql_with_params()
    print(f"messages page (newest 50 of a dialog): {timed(sql, params):.2f} ms median")
    cursor_page = Message.objects.filter(dialog=dialog, pk__lt=dialog.messages.order_by("pk")[5].pk)
    sql, params = cursor_page.order_by("-pk")[:51].query.sql_with_params()
    print(f"messages page after a cursor: {timed(sql, params):.2f} ms median")
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        print("\n".join(row[0] for row in cursor.fetchall()))


if __name__ == "__main__":
    main()
