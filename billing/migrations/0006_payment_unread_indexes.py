"""Storage (issue 14): two indexes of billing_payment that nothing reads go (10 MB at capacity scale).

- api_key_id: no query lists payments by key; keys are revoked, not deleted.
- provider_idempotence_key's `_like` (varchar_pattern_ops) index, which Django adds to every unique
  CharField for LIKE 'prefix%' lookups: the key is only ever looked up by equality, which the unique
  index answers.

Both are dropped CONCURRENTLY (so the migration is not atomic), the foreign key itself stays, and the
state forgets the field's index without Django re-creating the constraint.
"""

import django.db.models.deletion
from django.db import migrations, models

API_KEY_INDEX = "billing_payment_api_key_id_a7ba11fc"
IDEMPOTENCE_KEY_LIKE_INDEX = "billing_payment_provider_idempotence_key_02b9f197_like"


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0003_operator_console"),
        ("billing", "0005_storage_indexes_and_hold_retention"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="payment",
                    name="api_key",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="accounts.apikey",
                        verbose_name="api key",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX CONCURRENTLY IF EXISTS "{API_KEY_INDEX}"',
                    reverse_sql=(
                        f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{API_KEY_INDEX}" ON "billing_payment" ("api_key_id")'
                    ),
                ),
            ],
        ),
        migrations.RunSQL(
            f'DROP INDEX CONCURRENTLY IF EXISTS "{IDEMPOTENCE_KEY_LIKE_INDEX}"',
            reverse_sql=(
                f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{IDEMPOTENCE_KEY_LIKE_INDEX}" '
                'ON "billing_payment" ("provider_idempotence_key" varchar_pattern_ops)'
            ),
        ),
    ]
