"""The user card (the end user's admin page) and the user list: what support sees, in constant queries."""

from decimal import Decimal
from itertools import count

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts import services
from accounts.errors import AccountsError
from accounts.models import EndUser, Operator
from assistants import services as assistant_services
from assistants.models import Message
from billing import services as billing_services
from billing.models import EntryType, LedgerEntry, PromoCode
from generations import services as generation_services
from generations.models import Generation
from tests.generations.helpers import model_create
from tests.support.admin import client_logged_in
from tests.support.ledger import assert_ledger_clean
from tests.support.users import user_create, user_funded

pytestmark = pytest.mark.django_db

_ids = count(1)


@pytest.fixture
def operator() -> Operator:
    return Operator.objects.create_superuser("lead", "lead@example.com", "x")


@pytest.fixture
def client(operator) -> Client:
    return client_logged_in(operator)


def add_history(user: EndUser, rows: int, operator: Operator) -> None:
    """`rows` more of each section: ledger entries, payments, generations, promo redemptions, dialogs."""
    model = model_create()
    assistant = assistant_services.assistant_create(owner=user, name=f"A{next(_ids)}", instructions="")
    for _ in range(rows):
        n = next(_ids)
        billing_services.telegram_stars_credit(
            user=user, charge_id=f"card-{n}", total_amount=10, invoice_payload=""
        )
        job = generation_services.generation_create(
            user=user, model_code=model.code, prompt="p", parameters={}
        )
        # A charge's description is derived from its job: the card describes its entries in one query.
        generation_services.generation_status_set(generation_id=job.pk, status="succeeded")
        promo = PromoCode.objects.create(code=f"CARD{n}", amount=Decimal("1.00"))
        billing_services.promo_code_redeem(user=user, code=promo.code)
        dialog, _ = assistant_services.dialog_open(assistant=assistant, user=user, chat_id=f"c{n}")
        assistant_services.message_create(dialog_id=dialog.pk, role="user", content="hello")
    billing_services.balance_adjust(
        user=user, amount=Decimal("1.00"), currency="RUB", reason="t", operator=operator
    )


def test_card_shows_everything_in_the_same_number_of_queries_at_1_and_50_rows(client, operator, settings):
    settings.RATE_LIMITS_ENABLED = False
    referrer = user_create()
    user, _ = services.end_user_upsert(
        ref=str(9_100_000), profile={"first_name": "Ivan"}, referrer_ref=referrer.display_ref
    )
    client.get(f"/admin/accounts/enduser/{user.pk}/change/")  # warm: content types are cached per process
    counts = []
    for rows in (1, 49):  # 1, then 50 of each section
        add_history(user, rows, operator)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(f"/admin/accounts/enduser/{user.pk}/change/")
        assert response.status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1], f"queries grew with rows: {counts}"
    content = response.content.decode()
    for section in (
        "card-identity",
        "card-balances",
        "card-ledger",
        "card-payments",
        "card-generations",
        "card-dialogs",
        "card-promo",
    ):
        assert f'id="{section}"' in content, section
    sections = {section.key: section.data for section in response.context["card_sections"]}
    assert len(sections["ledger"]["entries"]) == 20
    assert (
        sections["ledger"]["entries"][0].pk == LedgerEntry.objects.filter(account__owner=user).latest("pk").pk
    )
    assert len(sections["generations"]["generations"]) == 20
    assert (
        sections["generations"]["generations"][0].pk == Generation.objects.filter(user=user).latest("pk").pk
    )
    assert len(sections["payments"]["payments"]) == 20
    assert len(sections["dialogs"]["dialogs"]) == 20
    assert len(sections["promo"]["redemptions"]) == 20
    assert response.context["referred_count"] == 0
    balances = sections["balances"]["accounts"][0]
    assert balances["account"].balance - balances["account"].held == balances["available"]


def test_each_all_link_lists_this_users_rows_only(client, operator, settings):
    settings.RATE_LIMITS_ENABLED = False
    user, other = user_create(), user_create()
    add_history(user, 2, operator)
    add_history(other, 1, operator)
    response = client.get(f"/admin/accounts/enduser/{user.pk}/change/")
    for section in response.context["card_sections"]:
        if "all_url" not in section.data:
            continue
        listed = client.get(section.data["all_url"])
        assert listed.status_code == 200, section.key
        for row in listed.context["cl"].result_list:
            owner = getattr(row, "user_id", None) or row.account.owner_id
            assert owner == user.pk, section.key


def test_a_support_operator_sees_only_the_sections_of_their_role(settings):
    from django.apps import apps as django_apps
    from django.contrib.auth.models import Group

    from ops.roles import roles_sync

    roles_sync(django_apps)
    content_operator = Operator.objects.create_user("writer", password="x", is_staff=True)
    content_operator.groups.add(Group.objects.get(name="Content"))
    client = client_logged_in(content_operator)
    user = user_create()
    response = client.get(f"/admin/accounts/enduser/{user.pk}/change/")
    assert response.status_code == 200
    assert [section.key for section in response.context["card_sections"]] == []
    assert 'id="action-block"' not in response.content.decode()


def make_list_users(rows: int) -> None:
    for _ in range(rows):
        user = user_funded("20.00")
        model = model_create()
        job = generation_services.generation_create(
            user=user, model_code=model.code, prompt="", parameters={}
        )
        generation_services.generation_status_set(
            generation_id=job.pk, status="succeeded", result_url="https://x/1"
        )


def test_user_list_columns_without_per_row_queries(client, django_assert_num_queries, settings):
    settings.RATE_LIMITS_ENABLED = False
    for rows in (1, 49):
        make_list_users(rows)
        # session, operator, capped count, page; billing's accounts and plans, the newest job and the
        # newest dialog message of the page's users
        with django_assert_num_queries(8):
            response = client.get("/admin/accounts/enduser/")
        assert response.status_code == 200
    user = response.context["cl"].result_list[0]
    assert user.list_facts["available"] == "14.00 RUB"  # 20.00 less one 6.00 job
    assert user.list_facts["spent_30d"] == "6.00"
    assert user.list_facts["plan"] == "free"
    assert user.list_facts["last_activity"] is not None


def test_no_raw_add_or_delete_of_users_or_money_rows(client):
    user = user_create()
    assert client.get("/admin/accounts/enduser/add/").status_code == 403
    assert client.get(f"/admin/accounts/enduser/{user.pk}/delete/").status_code == 403
    entry = LedgerEntry.objects.filter(account__owner=user).first()
    assert client.get(f"/admin/billing/ledgerentry/{entry.pk}/delete/").status_code == 403
    for path in ("billing/payment", "billing/hold", "generations/generation", "billing/subscription"):
        assert client.get(f"/admin/{path}/add/").status_code == 403, path
    page = client.get("/admin/accounts/enduser/").content.decode()
    assert "delete_selected" not in page


def test_anonymize_forgets_the_person_and_keeps_the_money(client, operator, settings):
    settings.RATE_LIMITS_ENABLED = False
    user, _ = services.end_user_upsert(
        ref="9200001", profile={"username": "ivan", "first_name": "Ivan", "last_name": "Petrov"}
    )
    add_history(user, 2, operator)
    entries = LedgerEntry.objects.filter(account__owner=user).count()

    response = client.post(
        "/admin/accounts/enduser/",
        {"action": "anonymize_users", "_selected_action": [user.pk], "index": 0, "apply": 1, "confirm": "on"},
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.telegram_id, user.device_id, user.username, user.first_name, user.last_name) == (
        None,
        None,
        "",
        "",
        "",
    )
    assert user.external_id.startswith("anonymized-") and user.anonymized_at is not None
    assert LedgerEntry.objects.filter(account__owner=user).count() == entries
    assert not Generation.objects.filter(user=user).exclude(prompt="").exists()
    assert not Message.objects.filter(dialog__user=user).exclude(content="").exists()
    with pytest.raises(AccountsError):
        services.end_user_anonymize(user_id=user.pk, operator=operator)
    # A returning person is a new user, with the welcome bonus again (the documented decision).
    again, created = services.end_user_upsert(ref="9200001", profile={})
    assert created and again.pk != user.pk
    assert LedgerEntry.objects.filter(account__owner=again, type=EntryType.BONUS).count() == 1
    assert_ledger_clean()


def test_anonymize_needs_the_confirmation(client):
    user, _ = services.end_user_upsert(ref="9200002", profile={"username": "keep"})
    response = client.post(
        "/admin/accounts/enduser/",
        {"action": "anonymize_users", "_selected_action": [user.pk], "index": 0, "apply": 1},
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.username == "keep"


def test_refund_from_the_card_above_what_is_left_is_a_form_error_and_writes_nothing(client, operator):
    from billing.models import Refund

    user = user_create()
    payment, _ = billing_services.telegram_stars_credit(
        user=user, charge_id="card-refund-1", total_amount=100, invoice_payload=""
    )
    url = f"/admin/billing/payment/{payment.pk}/refund/"
    card = client.get(f"/admin/accounts/enduser/{user.pk}/change/").content.decode()
    assert url in card  # the card offers the refund of a succeeded payment

    too_much = client.post(url, {"amount": "100.01", "reason": "asked twice"})

    assert too_much.status_code == 200
    assert too_much.context["form"].errors
    assert not Refund.objects.exists()

    partly = client.post(url, {"amount": "40.00", "reason": "partly unhappy"})
    assert "refunded whole" in str(partly.context["form"].errors["amount"])  # Telegram's rule for Stars
    assert not Refund.objects.exists()

    done = client.post(url, {"amount": "", "reason": "unhappy"})  # empty: what is left
    assert done.status_code == 302, done.context["form"].errors
    refund = Refund.objects.get()
    assert (refund.amount, refund.reason, refund.operator) == (Decimal("100.00"), "unhappy", operator)
    assert_ledger_clean()
