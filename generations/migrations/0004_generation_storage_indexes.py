# Storage near the floor (issue 14): three indexes of generations_generation go.
#   - generation_prompt_trgm (the biggest): the admin searches prompts only among one user's jobs;
#   - generation_user_created_idx: the admission's rate-limit windows read (user_id, id DESC) instead;
#   - the model_id FK index: models are never deleted and nothing reads one model's jobs without a date.
# Safe on a live database: every drop is DROP INDEX CONCURRENTLY (no lock that blocks reads or writes),
# which cannot run inside a transaction, hence atomic = False. Reversing rebuilds each index
# CONCURRENTLY too; the drops use IF EXISTS so a half-applied run can be applied again.

import django.db.models.deletion
from django.contrib.postgres.operations import RemoveIndexConcurrently
from django.db import migrations, models

MODEL_FK_INDEX = "generations_generation_model_id_fdc80568"


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("generations", "0003_operator_console"),
    ]

    operations = [
        RemoveIndexConcurrently(model_name="generation", name="generation_prompt_trgm"),
        RemoveIndexConcurrently(model_name="generation", name="generation_user_created_idx"),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="generation",
                    name="model",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="generations",
                        to="generations.aimodel",
                        verbose_name="model",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX CONCURRENTLY IF EXISTS "{MODEL_FK_INDEX}"',
                    reverse_sql=(
                        f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{MODEL_FK_INDEX}" '
                        'ON "generations_generation" ("model_id")'
                    ),
                ),
            ],
        ),
    ]
