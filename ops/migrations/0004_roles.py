# The operators' roles (ops/roles.py): groups created and their permissions set on every migrate that
# reaches this migration. A later change of ROLES comes with a new migration that runs roles_sync again.

from django.db import migrations

from ops.roles import roles_sync


def sync(apps, schema_editor):
    roles_sync(apps, schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("sessions", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("accounts", "0003_operator_console"),
        ("billing", "0004_operator_console"),
        ("generations", "0003_operator_console"),
        ("assistants", "0003_operator_console"),
        ("ops", "0003_operator_console"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
