"""The big tables' indexes are the ones the storage design names (docs/architecture.md, Database).

At capacity scale every index of these four tables costs tens of megabytes (bench/README.md, Capacity),
so one is added or dropped as a decision, in a migration that is safe on a live database, and this list
changes with it. BRIN stays BRIN where rows arrive in time order (the ledger, payments, generation jobs).
"""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

INDEXES = {
    "billing_ledger_entry": {
        "billing_ledger_entry_pkey": "btree",
        "ledger_entry_account_id_idx": "btree",  # (account, id DESC): statements, the user card
        "ledger_entry_created_brin": "brin",  # date filters, the dashboard's windows
        "ledger_entry_once_per_reference": "btree",  # invariant 4
        "ledger_entry_operator_idx": "btree",  # partial: manual adjustments only
    },
    "billing_payment": {
        "billing_payment_pkey": "btree",
        "billing_payment_provider_idempotence_key_key": "btree",
        "payment_created_brin": "brin",
        "payment_once_per_provider_id": "btree",  # invariant 4
        "payment_user_id_idx": "btree",  # (user, id DESC)
    },
    "billing_hold": {
        "billing_hold_pkey": "btree",
        "hold_one_per_reference": "btree",
        "hold_open_account_idx": "btree",  # partial: open holds
        "hold_open_expiry_idx": "btree",  # partial: open holds
    },
    "generations_generation": {
        "generations_generation_pkey": "btree",
        "generation_user_id_idx": "btree",  # (user, id DESC): history, admission windows, prompt search
        "generation_created_brin": "brin",  # minmax-multi: tight though updated rows move pages
        "generation_failures_idx": "btree",  # partial
        "generation_inflight_age_idx": "btree",  # partial
        "generation_inflight_user_idx": "btree",  # partial
        "generation_task_id_idx": "btree",  # partial
    },
}


@pytest.mark.parametrize("table", sorted(INDEXES))
def test_the_big_tables_have_exactly_their_designed_indexes(table):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.relname, a.amname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_am a ON a.oid = i.relam WHERE x.indrelid = %s::regclass",
            [table],
        )
        found = dict(cursor.fetchall())

    assert found == INDEXES[table]
