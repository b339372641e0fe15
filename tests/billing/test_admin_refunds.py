"""Refunds in the admin: actions that call the services and need billing.issue_refund; the promo form."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import Operator
from billing import services
from billing.models import ChargeRefund, Payment, PromoCode, Refund
from generations.models import AIModel
from tests.billing.money_helpers import notification, webhook_post
from tests.support.admin import client_logged_in
from tests.support.ledger import balance_of
from tests.support.users import user_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledger_clean_after")]


def staff_client(*permissions: str) -> Client:
    operator = Operator.objects.create_user(username=f"staff-{len(permissions)}", password="x", is_staff=True)
    for codename in permissions:
        operator.user_permissions.add(Permission.objects.get(codename=codename))
    return client_logged_in(operator)


def yookassa_paid(api, user) -> Payment:
    response = api.post(
        f"/api/v1/users/{user.display_ref}/payments", {"amount": "80.00"}, idempotency_key="adm"
    )
    payment = Payment.objects.get(pk=response.json()["id"])
    webhook_post(notification(payment))
    return payment


def test_refund_action_refunds_what_is_left_through_the_service(api, admin_client, admin_user):
    user = user_create()
    yookassa = yookassa_paid(api, user)
    stars, _ = services.telegram_stars_credit(
        user=user, charge_id="adm-stars", total_amount=30, invoice_payload=""
    )

    response = admin_client.post(
        "/admin/billing/payment/",
        {"action": "refund_remaining", "_selected_action": [yookassa.pk, stars.pk]},
        follow=True,
    )

    assert response.status_code == 200
    refunds = {refund.payment_id: refund for refund in Refund.objects.all()}
    assert refunds[yookassa.pk].amount == Decimal("80.00")
    assert refunds[yookassa.pk].provider_refund_id.startswith("fake-refund-")
    assert refunds[stars.pk].amount == Decimal("30.00")
    assert {refund.operator_id for refund in refunds.values()} == {admin_user.pk}
    assert all(refund.status == "pending" for refund in refunds.values())
    # a second click finds nothing left to refund
    admin_client.post(
        "/admin/billing/payment/", {"action": "refund_remaining", "_selected_action": [yookassa.pk]}
    )
    assert Refund.objects.count() == 2


def test_refund_actions_need_the_refund_permission():
    user = user_create()
    payment, _ = services.telegram_stars_credit(
        user=user, charge_id="perm", total_amount=30, invoice_payload=""
    )
    support = staff_client("view_payment")
    finance = staff_client("view_payment", "issue_refund")

    refused = support.post(
        "/admin/billing/payment/", {"action": "refund_remaining", "_selected_action": [payment.pk]}
    )
    assert Refund.objects.count() == 0
    assert "refund_remaining" not in support.get("/admin/billing/payment/").content.decode()
    assert refused.status_code in (200, 302)

    finance.post("/admin/billing/payment/", {"action": "refund_remaining", "_selected_action": [payment.pk]})
    assert Refund.objects.count() == 1


def test_generation_refund_action_credits_the_charge_once(api, admin_client, settings):
    settings.RATE_LIMITS_ENABLED = False
    AIModel.objects.create(
        code="adm-img", name="i", category=AIModel.Category.IMAGE, provider="t", price=Decimal("3.00")
    )
    user = user_create()
    generation_id = api.post(
        "/api/v1/generations",
        {"user": user.display_ref, "model": "adm-img", "prompt": "p"},
        idempotency_key="g",
    ).json()["id"]
    api.post(f"/api/v1/generations/{generation_id}/status", {"status": "succeeded"})

    for _ in range(2):
        response = admin_client.post(
            "/admin/generations/generation/",
            {"action": "refund_charge", "_selected_action": [generation_id]},
            follow=True,
        )
        assert response.status_code == 200

    assert ChargeRefund.objects.count() == 1
    assert balance_of(user) == Decimal("10.00")
    assert api.post(f"/api/v1/generations/{generation_id}/refund", {}).status_code == 200


def test_promo_form_refuses_max_uses_below_used_count(admin_client):
    promo = PromoCode.objects.create(code="CAPPED", amount=Decimal("5.00"), max_uses=10)
    for _ in range(3):
        services.promo_code_redeem(user=user_create(), code="CAPPED")

    response = admin_client.post(
        f"/admin/billing/promocode/{promo.pk}/change/",
        {
            "code": "CAPPED",
            "amount": "5.00",
            "currency": "RUB",
            "max_uses": "2",
            "is_active": "on",
            "batch": "",
        },
    )

    assert response.status_code == 200
    assert "max_uses" in response.context["adminform"].form.errors
    promo.refresh_from_db()
    assert (promo.max_uses, promo.used_count) == (10, 3)
    ok = admin_client.post(
        f"/admin/billing/promocode/{promo.pk}/change/",
        {
            "code": "CAPPED",
            "amount": "5.00",
            "currency": "RUB",
            "max_uses": "3",
            "is_active": "on",
            "batch": "",
        },
    )
    assert ok.status_code == 302
    promo.refresh_from_db()
    assert promo.max_uses == 3


def test_promo_redemptions_show_a_duplicate_through_a_merge(api, admin_client):
    PromoCode.objects.create(code="BOTH", amount=Decimal("5.00"))
    api.put("/api/v1/users/device:adm-both", {})
    api.put("/api/v1/users/8123", {})
    for ref in ("device:adm-both", "8123"):
        api.post(f"/api/v1/users/{ref}/promo-codes/redeem", {"code": "BOTH"})
    api.post("/api/v1/users/8123/identities", {"device_id": "adm-both"})

    page = admin_client.get("/admin/billing/promoredemption/?merged_duplicate__exact=1")

    assert page.status_code == 200
    assert len(page.context["cl"].result_list) == 1
    assert "8123" in page.content.decode()
