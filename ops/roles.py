"""The operators' roles: Django groups whose permissions are declared here and synced by migrations.

A role is what a back-office job needs (design.md section 6, issue 10). Changing a role = editing this
file and adding a data migration that calls `roles_sync` (ops/migrations/0002_roles.py shows how), so
every environment gets the same groups on `migrate`. Administrator holds every permission that exists
when it is synced, django-celery-beat's and the operators' included.
"""

from django.contrib.auth.management import create_permissions

VIEW = "view"


def _model(app_model: str, *actions: str) -> list[str]:
    app_label, model = app_model.split(".")
    return [f"{app_label}.{action}_{model}" for action in actions]


SUPPORT = [
    *_model("accounts.enduser", "view", "change", "block"),
    *_model("accounts.userblockaudit", "view"),
    *_model("billing.account", "view", "change"),  # adjustments up to SUPPORT_ADJUSTMENT_LIMIT
    *_model("billing.ledgerentry", "view"),
    *_model("billing.payment", "view"),
    *_model("billing.hold", "view"),
    *_model("billing.subscription", "view"),
    *_model("billing.plan", "view"),
    *_model("billing.promocode", "view"),
    *_model("billing.promoredemption", "view", "add"),  # grant a promo code from the user card
    *_model("billing.referralreward", "view"),
    *_model("billing.refund", "view"),
    *_model("billing.chargerefund", "view"),
    *_model("generations.generation", "view", "change"),  # cancel a job in flight
    *_model("generations.aimodel", "view"),
    *_model("generations.project", "view"),
    *_model("generations.projectitem", "view"),
    *_model("generations.providerlog", "view"),
    *_model("assistants.assistant", "view"),
    *_model("assistants.dialog", "view", "change"),
    *_model("assistants.message", "view"),
    *_model("assistants.handoffaudit", "view"),
]

FINANCE = [
    *_model("accounts.enduser", "view"),
    *_model("billing.account", "view", "change"),
    "billing.adjust_above_limit",
    *_model("billing.ledgerentry", "view", "export"),
    "billing.view_revenue",  # the revenue and top spenders panels
    *_model("billing.payment", "view", "export"),
    *_model("billing.hold", "view"),
    *_model("billing.providerevent", "view"),
    *_model("billing.referralreward", "view"),
    *_model("billing.promocode", "view", "add", "change", "export"),
    *_model("billing.promoredemption", "view", "add"),
    *_model("billing.plan", "view", "add", "change"),
    *_model("billing.subscription", "view"),
    *_model("billing.refund", "view", "issue"),  # refunds of payments and of generations' charges
    *_model("billing.chargerefund", "view"),
    *_model("generations.generation", "view", "export"),
    *_model("generations.aimodel", "view", "change"),  # prices
    *_model("generations.usagedaily", "view"),
]

CONTENT = [
    *_model("accounts.enduser", "view"),
    *_model("assistants.assistant", "view", "add", "change", "delete"),
    *_model("assistants.document", "view", "change", "delete"),
    *_model("assistants.knowledgechunk", "view"),
    *_model("assistants.botinstance", "view"),
    *_model("generations.aimodel", "view", "add", "change"),
]

ROLES: dict[str, list[str] | None] = {
    "Support": SUPPORT,
    "Finance": FINANCE,
    "Content": CONTENT,
    "Administrator": None,  # every permission
}


def roles_sync(apps, schema_editor=None) -> None:
    """Creates the groups and sets each one's permissions to exactly its list (extra ones are removed).

    Usable from a migration (historical `apps`) and from code (`django.apps.apps`). Permissions are
    created first: on a fresh database they would otherwise only appear after the last migration.
    """
    for app_config in apps.get_app_configs():
        app_config.models_module = getattr(app_config, "models_module", None) or True
        create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    by_name = {
        f"{app_label}.{codename}": pk
        for pk, app_label, codename in Permission.objects.values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    for name, wanted in ROLES.items():
        group, _created = Group.objects.get_or_create(name=name)
        if wanted is None:
            ids = list(by_name.values())
        else:
            missing = sorted(set(wanted) - set(by_name))
            if missing:
                raise LookupError(f"role {name}: unknown permissions {missing}")
            ids = [by_name[permission] for permission in wanted]
        group.permissions.set(ids)
