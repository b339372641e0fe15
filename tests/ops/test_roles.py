"""The role matrix: every role × every registered admin action, custom admin view and changelist.

Built from the admin site itself, so a new action without `allowed_permissions`, a new custom URL not
declared in `custom_views`, or a new permission name the matrix does not know fails here. Allowed means
offered (actions) or answered (views); refused means not offered, and a crafted POST is a 403 that
changes nothing.
"""

import re
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.test import RequestFactory

from accounts.models import EndUser, Operator
from accounts.services import api_key_create
from billing import services as billing_services
from billing.models import Account, LedgerEntry, PromoCode
from core.admin_toolkit import STANDARD_URL_SUFFIXES, GuardedAdmin
from generations import services as generation_services
from ops.dashboard import PANELS
from ops.roles import ROLES, roles_sync
from tests.generations.helpers import model_create
from tests.support.admin import client_logged_in
from tests.support.users import user_funded

pytestmark = pytest.mark.django_db

ROLE_NAMES = [*ROLES, None]  # None: a staff user with no role at all
# Custom action permission names (allowed_permissions) and the permission each one stands for.
CUSTOM_ACTION_PERMISSIONS = {
    "block": "accounts.block_enduser",
    "anonymize": "accounts.anonymize_enduser",
    "refund": "billing.issue_refund",
    "redeliver": "accounts.redeliver_botevent",
}


@pytest.fixture
def world(settings):
    """One row of what the actions and views work on: a user with money, a job in flight, a code, a key."""
    settings.RATE_LIMITS_ENABLED = False
    roles_sync(django_apps)  # a transactional test elsewhere may have flushed the migration's groups
    user = user_funded("100.00")
    model = model_create()
    generation = generation_services.generation_create(
        user=user, model_code=model.code, prompt="p", parameters={}
    )
    promo = PromoCode.objects.create(code="MATRIX", amount=Decimal("1.00"))
    api_key, _raw = api_key_create(name="matrix-bot")
    account = Account.objects.get(owner=user, currency="RUB")
    payment, _created = billing_services.telegram_stars_credit(
        user=user, charge_id="matrix-1", total_amount=5, invoice_payload=""
    )
    return {
        "user": user,
        "account": account,
        "generation": generation,
        "promo": promo,
        "api_key": api_key,
        "payment": payment,
    }


def operator_for(role: str | None) -> Operator:
    operator = Operator.objects.create_user(username=f"op-{role or 'none'}", password="x", is_staff=True)
    if role:
        operator.groups.add(Group.objects.get(name=role))
    return Operator.objects.get(pk=operator.pk)  # fresh permission cache


def required_permissions(model_admin, action) -> list[str]:
    opts = model_admin.model._meta
    names = getattr(action, "allowed_permissions", None)
    assert names, f"{opts.label}: action {action.__name__} declares no allowed_permissions"
    required = []
    for name in names:
        if name in ("add", "change", "delete", "view"):
            required.append(f"{opts.app_label}.{name}_{opts.model_name}")
        else:
            assert name in CUSTOM_ACTION_PERMISSIONS, f"{opts.label}: unknown action permission {name!r}"
            required.append(CUSTOM_ACTION_PERMISSIONS[name])
    return required


def registered_actions():
    for model, model_admin in admin.site._registry.items():
        if model_admin.actions is None:  # no actions at all (a report page)
            continue
        for action, name, _description in model_admin._get_base_actions():
            yield model, model_admin, action, name


def custom_views():
    for model, model_admin in admin.site._registry.items():
        for view in getattr(model_admin, "custom_views", ()):
            yield model, model_admin, view


def snapshot(model, pk) -> tuple:
    """What a refused request must not change: the selected row, and the money and audit tables."""
    return (
        list(model._default_manager.filter(pk=pk).values()),
        model._default_manager.count(),
        LedgerEntry.objects.count(),
        list(Account.objects.order_by("pk").values_list("balance", "held")),
        list(EndUser.objects.order_by("pk").values_list("is_blocked", "anonymized_at", "telegram_id")),
    )


def test_every_project_admin_is_guarded_and_declares_its_custom_urls():
    for model, model_admin in admin.site._registry.items():
        assert isinstance(model_admin, GuardedAdmin), f"{model._meta.label}: admin is not a GuardedAdmin"
        declared = {
            f"{model._meta.app_label}_{model._meta.model_name}_{view.name}"
            for view in model_admin.custom_views
        }
        for pattern in model_admin.get_urls():
            name = getattr(pattern, "name", None)
            if name and not name.endswith(STANDARD_URL_SUFFIXES):
                assert name in declared, f"{name}: a custom admin URL not declared in custom_views"


@pytest.mark.parametrize("role", ROLE_NAMES, ids=lambda role: role or "no-role")
def test_actions_are_offered_by_permission_and_refused_with_403(world, role):
    operator = operator_for(role)
    client = client_logged_in(operator)
    request = RequestFactory().get("/admin/")
    request.user = operator
    checked = 0
    for model, model_admin, action, name in registered_actions():
        required = required_permissions(model_admin, action)
        # The role's permissions, and the admin's own policy (e.g. users and money rows are never deleted).
        policy = [
            getattr(model_admin, f"has_{name}_permission")(request) for name in action.allowed_permissions
        ]
        allowed = operator.has_perms(required) and all(policy)
        offered = name in model_admin.get_actions(request)
        assert offered == allowed, f"{role}: {model._meta.label}.{name} offered={offered}, allowed={allowed}"
        if not allowed:
            row = model._default_manager.order_by("pk").first()
            pk = row.pk if row else 0
            before = snapshot(model, pk)
            url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
            response = client.post(url, {"action": name, "_selected_action": [pk], "index": 0, "apply": 1})
            assert response.status_code == 403, (
                f"{role}: {model._meta.label}.{name} -> {response.status_code}"
            )
            assert snapshot(model, pk) == before, f"{role}: {model._meta.label}.{name} changed something"
        checked += 1
    assert checked >= 15


def view_url(model, view, world) -> str:
    args = {"account_id": world["account"].pk, "user_id": world["user"].pk, "payment_id": world["payment"].pk}
    route = view.route
    for param in re.findall(r"<int:(\w+)>", route):
        assert param in args, f"{model._meta.label}: the matrix has no object for <{param}>"
        route = route.replace(f"<int:{param}>", str(args[param]))
    return f"/admin/{model._meta.app_label}/{model._meta.model_name}/{route}"


@pytest.mark.parametrize("role", ROLE_NAMES, ids=lambda role: role or "no-role")
def test_custom_views_answer_by_permission_and_refuse_with_403(world, role):
    operator = operator_for(role)
    client = client_logged_in(operator)
    checked = 0
    for model, _model_admin, view in custom_views():
        url = view_url(model, view, world)
        allowed = operator.has_perms(view.permissions)
        response = client.get(url)
        if allowed:
            assert response.status_code in (200, 302), f"{role}: {url} -> {response.status_code}"
        else:
            assert response.status_code == 403, f"{role}: {url} -> {response.status_code}"
            before = snapshot(EndUser, world["user"].pk)
            posted = client.post(url, {"amount": "5.00", "reason": "x", "code": "MATRIX", "count": 1})
            assert posted.status_code == 403
            assert snapshot(EndUser, world["user"].pk) == before
        checked += 1
    assert checked >= 8


@pytest.mark.parametrize("role", ROLE_NAMES, ids=lambda role: role or "no-role")
def test_changelists_answer_by_view_permission(world, role):
    operator = operator_for(role)
    client = client_logged_in(operator)
    for model in admin.site._registry:
        opts = model._meta
        allowed = operator.has_perm(f"{opts.app_label}.view_{opts.model_name}") or operator.has_perm(
            f"{opts.app_label}.change_{opts.model_name}"
        )
        response = client.get(f"/admin/{opts.app_label}/{opts.model_name}/")
        assert response.status_code == (200 if allowed else 403), (
            f"{role}: {opts.label} -> {response.status_code}"
        )


def test_every_panel_and_role_names_real_permissions(world):
    existing = {
        f"{app_label}.{codename}"
        for app_label, codename in Permission.objects.values_list("content_type__app_label", "codename")
    }
    for panel in PANELS:
        assert panel.permission in existing, f"panel {panel.key}: unknown permission {panel.permission}"
    for role, wanted in ROLES.items():
        assert set(wanted or ()) <= existing, role


@pytest.mark.parametrize("role", ROLE_NAMES, ids=lambda role: role or "no-role")
def test_dashboard_renders_only_the_panels_the_role_may_see(world, role):
    operator = operator_for(role)
    content = client_logged_in(operator).get("/admin/").content.decode()
    for panel in PANELS:
        shown = f'id="panel-{panel.key}"' in content
        assert shown == operator.has_perm(panel.permission), f"{role}: panel {panel.key} shown={shown}"


def test_roles_match_the_jobs():
    """Spot checks of the issue's role table, so a careless edit of ops/roles.py is noticed."""
    support, finance, content = (set(ROLES[name]) for name in ("Support", "Finance", "Content"))
    assert {"accounts.block_enduser", "billing.change_account", "generations.change_generation"} <= support
    assert "billing.adjust_above_limit" not in support and "billing.view_revenue" not in support
    assert not any(name.startswith("billing.export_") for name in support)
    assert {"billing.adjust_above_limit", "billing.export_ledgerentry", "billing.change_promocode"} <= finance
    assert {"assistants.change_assistant", "generations.change_aimodel"} <= content
    assert not any(
        "apikey" in name or "periodictask" in name or "operator" in name
        for name in support | finance | content
    )
    assert "accounts.anonymize_enduser" not in support | finance | content


def test_support_adjusts_up_to_the_limit_and_finance_above_it(world, settings):
    settings.SUPPORT_ADJUSTMENT_LIMIT = Decimal("1000.00")
    account = world["account"]
    url = f"/admin/billing/account/{account.pk}/adjust/"
    support = client_logged_in(operator_for("Support"))
    entries = LedgerEntry.objects.count()

    refused = support.post(url, {"amount": "1000.01", "reason": "goodwill"})

    assert refused.status_code == 200
    assert "1000.00" in str(refused.context["form"].errors["amount"])
    assert LedgerEntry.objects.count() == entries
    assert support.post(url, {"amount": "1000.00", "reason": "goodwill"}).status_code == 302
    finance = client_logged_in(operator_for("Finance"))
    assert finance.post(url, {"amount": "2500.00", "reason": "compensation"}).status_code == 302
    account.refresh_from_db()
    assert account.balance == Decimal("3605.00")  # 100 + 5 stars + 1000 + 2500


def test_a_view_only_operator_cannot_disable_the_holds_expiry_schedule(world):
    from django_celery_beat.models import PeriodicTask

    from ops.services import schedules_sync

    schedules_sync()
    task = PeriodicTask.objects.get(name="holds-expire")
    viewer = Operator.objects.create_user(username="viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_periodictask"))
    response = client_logged_in(viewer).post(
        "/admin/django_celery_beat/periodictask/",
        {"action": "disable_tasks", "_selected_action": [task.pk], "index": 0},
    )
    assert response.status_code == 403
    task.refresh_from_db()
    assert task.enabled


def test_billing_services_stay_usable_for_the_matrix_world(world):
    # The matrix's refusals compare snapshots; make sure an allowed change does show in one.
    before = snapshot(EndUser, world["user"].pk)
    billing_services.balance_adjust(
        user=world["user"], amount=Decimal("1.00"), currency="RUB", reason="t",
        operator=Operator.objects.create_superuser("root", "r@example.com", "x"),
    )  # fmt: skip
    assert snapshot(EndUser, world["user"].pk) != before
