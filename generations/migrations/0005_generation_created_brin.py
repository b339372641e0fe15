# Storage (issue 14): generation_created_idx, a btree of 42.9 MB at 2M jobs (21 bytes per job), becomes
# generation_created_brin, a minmax-multi BRIN of 472 kB (generations/models.py says why it holds though
# finished jobs and emptied prompts move rows). Safe on a live database: both are CONCURRENTLY (no lock
# that blocks reads or writes), which cannot run inside a transaction, hence atomic = False; the BRIN is
# built before the btree is dropped, so date queries are never left without an index.

from django.contrib.postgres.indexes import BrinIndex
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("generations", "0004_generation_storage_indexes"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="generation",
            index=BrinIndex(
                fields=["created_at"],
                name="generation_created_brin",
                pages_per_range=32,
                opclasses=["timestamptz_minmax_multi_ops"],
            ),
        ),
        RemoveIndexConcurrently(model_name="generation", name="generation_created_idx"),
    ]
