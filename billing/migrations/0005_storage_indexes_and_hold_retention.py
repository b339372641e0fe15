"""Storage (issue 14): indexes nothing needs go, date indexes become BRIN, charge refunds outlive holds.

Safe on a live database: no statement here rewrites or scans a big table under a lock that blocks writes.
Indexes of the big tables are built and dropped CONCURRENTLY, so the migration is not atomic; each new
index is built before the one it replaces is dropped, so no query is ever left without one. Django's own
AlterField(db_index=False) would drop and re-add the foreign key (a validating scan of the ledger under a
lock that blocks writes): the state changes here, the database only loses the index.

The one catalog-only ALTER TABLE (the charge refund's foreign key to its hold) takes a short ACCESS
EXCLUSIVE lock on billing_hold too, so it waits at most lock_timeout instead of queueing every job behind
it; run the migration again if it times out (nothing before it has changed).
"""

import django.db.models.deletion
from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


def drop_fk_index(model_name: str, field_name: str, field: models.Field, index: str, table: str, column: str):
    """The state forgets the field's index; the database drops it without touching the constraint."""
    return migrations.SeparateDatabaseAndState(
        state_operations=[migrations.AlterField(model_name=model_name, name=field_name, field=field)],
        database_operations=[
            migrations.RunSQL(
                f'DROP INDEX CONCURRENTLY IF EXISTS "{index}"',
                reverse_sql=f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{index}" ON "{table}" ("{column}")',
            )
        ],
    )


CHARGE_REFUND_HOLD_FK = "billing_charge_refund_hold_id_b92df57b_fk_billing_hold_id"


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0003_operator_console"),
        ("billing", "0004_operator_console"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # --- Charge refunds: keep the refunded charge's reference, and no foreign key to the hold ------
        migrations.RunSQL("SET lock_timeout = '5s'", reverse_sql="RESET lock_timeout"),
        migrations.AddField(
            model_name="chargerefund",
            name="reference",
            field=models.CharField(blank=True, default="", max_length=64, verbose_name="reference"),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="chargerefund",
                    name="hold",
                    field=models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="charge_refund",
                        to="billing.hold",
                        verbose_name="hold",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'ALTER TABLE "billing_charge_refund" DROP CONSTRAINT IF EXISTS "{CHARGE_REFUND_HOLD_FK}"',
                    # NOT VALID: refunds of holds deleted meanwhile stay; new rows are checked again.
                    reverse_sql=(
                        f'ALTER TABLE "billing_charge_refund" ADD CONSTRAINT "{CHARGE_REFUND_HOLD_FK}" '
                        'FOREIGN KEY ("hold_id") REFERENCES "billing_hold" ("id") DEFERRABLE INITIALLY DEFERRED '
                        "NOT VALID"
                    ),
                ),
            ],
        ),
        migrations.RunSQL(
            "UPDATE billing_charge_refund c SET reference = h.reference "
            "FROM billing_hold h WHERE h.id = c.hold_id AND c.reference = ''",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.RunSQL("RESET lock_timeout", reverse_sql="SET lock_timeout = '5s'"),
        migrations.AlterField(  # related name (the retention's filter) and on_delete only; no SQL
            model_name="refund",
            name="hold",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="payment_refund",
                to="billing.hold",
                verbose_name="hold",
            ),
        ),
        AddIndexConcurrently(
            model_name="chargerefund",
            index=models.Index(fields=["reference"], name="charge_refund_reference_idx"),
        ),
        # --- Ledger: BRIN on created_at, partial operator index, no FK-only indexes --------------------
        AddIndexConcurrently(
            model_name="ledgerentry",
            index=BrinIndex(fields=["created_at"], name="ledger_entry_created_brin", pages_per_range=32),
        ),
        RemoveIndexConcurrently(model_name="ledgerentry", name="ledger_entry_created_idx"),
        AddIndexConcurrently(
            model_name="ledgerentry",
            index=models.Index(
                condition=models.Q(("operator__isnull", False)),
                fields=["operator"],
                name="ledger_entry_operator_idx",
            ),
        ),
        drop_fk_index(
            "ledgerentry",
            "operator",
            models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="operator",
            ),
            "billing_ledger_entry_operator_id_44978955",
            "billing_ledger_entry",
            "operator_id",
        ),
        drop_fk_index(
            "ledgerentry",
            "account",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="entries",
                to="billing.account",
                verbose_name="account",
            ),
            "billing_ledger_entry_account_id_7a3ce12d",
            "billing_ledger_entry",
            "account_id",
        ),
        drop_fk_index(
            "ledgerentry",
            "counter_account",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="counter_entries",
                to="billing.account",
                verbose_name="counter account",
            ),
            "billing_ledger_entry_counter_account_id_ff22ef1e",
            "billing_ledger_entry",
            "counter_account_id",
        ),
        # --- Holds: open holds are read by account through hold_open_account_idx ---------------------
        drop_fk_index(
            "hold",
            "account",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="holds",
                to="billing.account",
                verbose_name="account",
            ),
            "billing_hold_account_id_56c002f9",
            "billing_hold",
            "account_id",
        ),
        # --- Payments: BRIN on created_at, no FK-only user index --------------------------------------
        AddIndexConcurrently(
            model_name="payment",
            index=BrinIndex(
                fields=["created_at"],
                name="payment_created_brin",
                opclasses=["timestamptz_minmax_multi_ops"],
                pages_per_range=32,
            ),
        ),
        RemoveIndexConcurrently(model_name="payment", name="payment_created_idx"),
        drop_fk_index(
            "payment",
            "user",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="payments",
                to="accounts.enduser",
                verbose_name="user",
            ),
            "billing_payment_user_id_a21ad6ba",
            "billing_payment",
            "user_id",
        ),
    ]
