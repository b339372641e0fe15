"""The billing admin: query counts constant in rows, read-only audit tables, adjustments, CSV exports."""

import csv
import io
from decimal import Decimal
from itertools import count

import pytest

from accounts.models import EndUser
from billing import services
from billing.models import (
    Account,
    ChargeRefund,
    EntryType,
    Hold,
    LedgerEntry,
    Payment,
    PromoCode,
    ProviderEvent,
    ReferralReward,
)
from tests.support.ledger import assert_ledger_clean, balance_of
from tests.support.users import user_create, user_funded

pytestmark = pytest.mark.django_db

_ids = count(1)


def _stars(user: EndUser, amount: int = 10) -> Payment:
    payment, _ = services.telegram_stars_credit(
        user=user, charge_id=f"adm-{next(_ids)}", total_amount=amount, invoice_payload=""
    )
    return payment


def make_entries(rows: int) -> None:
    for _ in range(rows):
        user_create()  # one welcome-bonus entry and one account each


def make_payments(rows: int) -> None:
    user = user_create()
    for _ in range(rows):
        _stars(user)


def make_events(rows: int) -> None:
    ProviderEvent.objects.bulk_create(
        [ProviderEvent(provider="yookassa", body="{}", outcome="malformed") for _ in range(rows)]
    )


def make_holds(rows: int) -> None:
    user = user_funded("1000.00")
    for _ in range(rows):
        services.hold_create(user=user, amount=Decimal("1.00"), currency="RUB", reference=f"adm:{next(_ids)}")


def make_rewards(rows: int) -> None:
    referrer = user_create()
    for _ in range(rows):
        referred = user_create(referrer=referrer)
        _stars(referred, 100)


def make_promo_codes(rows: int) -> None:
    services.promo_codes_create_batch(
        count=rows, amount=Decimal("1.00"), currency="RUB", expires_at=None, max_uses=5,
        batch=f"b{next(_ids)}", created_by=None,
    )  # fmt: skip


def make_redemptions(rows: int) -> None:
    promo = PromoCode.objects.create(code=f"R{next(_ids)}", amount=Decimal("1.00"))
    for _ in range(rows):
        services.promo_code_redeem(user=user_create(), code=promo.code)


def make_subscriptions(rows: int) -> None:
    for _ in range(rows):
        services.subscription_purchase(user=user_funded("490.00"), plan_code="pro", auto_renew=True)


def make_refunds(rows: int) -> None:
    user = user_create()
    for _ in range(rows):
        services.refund_open(
            payment_id=_stars(user, 1).pk, amount=None, provider_idempotence_key=f"adm-r{next(_ids)}"
        )


def make_charge_refunds(rows: int) -> None:
    user = user_funded("1000.00")
    for row in range(rows):
        hold = services.hold_create(
            user=user, amount=Decimal("1.00"), currency="RUB", reference=f"adm:{next(_ids)}"
        )
        services.hold_capture(hold_id=hold.pk)
        services.charge_refund(hold_id=hold.pk, reason="bad")
        if row % 2:  # every other one after retention deleted its resolved hold
            Hold.objects.filter(pk=hold.pk).delete()


def make_plans(rows: int) -> None:
    from billing.models import Plan

    Plan.objects.bulk_create([Plan(code=f"p{next(_ids)}", name="P") for _ in range(rows)])


# session + operator + capped count + one page with its joins; the ledger and payments add their totals
# line (one aggregate); the subscription changelist adds the plan filter's choices, and the (small) plan
# table is counted exactly, filtered and in full.
CHANGELISTS = [
    ("account", make_entries, 4),
    ("ledgerentry", make_entries, 5),
    ("hold", make_holds, 4),
    ("payment", make_payments, 5),
    ("providerevent", make_events, 4),
    ("referralreward", make_rewards, 4),
    ("promocode", make_promo_codes, 4),
    ("promoredemption", make_redemptions, 4),
    ("subscription", make_subscriptions, 5),
    ("plan", make_plans, 5),
    ("refund", make_refunds, 4),
    ("chargerefund", make_charge_refunds, 4),
]


@pytest.mark.parametrize(("model", "make_rows", "queries"), CHANGELISTS, ids=[row[0] for row in CHANGELISTS])
def test_changelist_query_count_does_not_grow_with_rows(
    admin_client, django_assert_num_queries, model, make_rows, queries
):
    for rows in (1, 50):
        make_rows(rows)
        with django_assert_num_queries(queries):
            response = admin_client.get(f"/admin/billing/{model}/")
        assert response.status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "?type__exact=1",
        "?currency=RUB",
        "?created_at__gte=2020-01-01T00:00:00%2B00:00",
        "?q=welcome:1",
        "?account=1",
    ],
)
def test_ledger_filters_and_search_keep_constant_queries(admin_client, query):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for rows in (1, 50):
        make_entries(rows)
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(f"/admin/billing/ledgerentry/{query}").status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1], counts


def test_ledger_search_by_telegram_id_and_reference(admin_client):
    user, other = user_create(), user_create()
    _stars(other)
    by_user = admin_client.get(f"/admin/billing/ledgerentry/?q={user.telegram_id}")
    assert [entry.account.owner_id for entry in by_user.context["cl"].result_list] == [user.pk]
    payment = Payment.objects.get()
    by_reference = admin_client.get(f"/admin/billing/ledgerentry/?q=payment:{payment.pk}")
    assert [entry.reference for entry in by_reference.context["cl"].result_list] == [f"payment:{payment.pk}"]
    hold = services.hold_create(user=user, amount=Decimal("2.00"), currency="RUB", reference="generation:7")
    services.hold_capture(hold_id=hold.pk)
    by_charge = admin_client.get("/admin/billing/ledgerentry/?q=generation:7")
    assert [entry.type for entry in by_charge.context["cl"].result_list] == [EntryType.CHARGE]


@pytest.mark.parametrize("model", ["ledgerentry", "payment", "providerevent", "hold", "referralreward"])
def test_audit_tables_are_read_only(admin_client, model):
    user = user_create()
    _stars(user)
    make_events(1)
    make_holds(1)
    assert admin_client.get(f"/admin/billing/{model}/add/").status_code == 403
    row_id = (
        {
            "ledgerentry": LedgerEntry,
            "payment": Payment,
            "providerevent": ProviderEvent,
            "hold": Hold,
            "referralreward": ReferralReward,
        }[model]
        .objects.values_list("pk", flat=True)
        .first()
    )
    if row_id is not None:
        assert admin_client.post(f"/admin/billing/{model}/{row_id}/delete/").status_code == 403
        assert admin_client.post(f"/admin/billing/{model}/{row_id}/change/", {}).status_code == 403
    assert_ledger_clean()


def test_manual_adjustment_writes_an_entry_with_operator_and_reason(admin_client, admin_user):
    user = user_create()
    account = Account.objects.get(owner=user)

    page = admin_client.get(f"/admin/billing/account/{account.pk}/adjust/")
    response = admin_client.post(
        f"/admin/billing/account/{account.pk}/adjust/",
        {"amount": "-4.50", "reason": "Refund of a broken job"},
    )

    assert page.status_code == 200
    assert response.status_code == 302
    entry = LedgerEntry.objects.get(type=EntryType.ADJUSTMENT)
    assert (entry.amount, entry.operator_id, entry.description) == (
        Decimal("-4.50"),
        admin_user.pk,
        "Refund of a broken job",
    )
    assert balance_of(user) == Decimal("5.50")
    assert_ledger_clean()


@pytest.mark.parametrize(
    "data",
    [
        {"amount": "-10.01", "reason": "too much"},
        {"amount": "0", "reason": "x"},
        {"amount": "1.005", "reason": "x"},
        {"amount": "5", "reason": ""},
    ],
)
def test_manual_adjustment_refusals_write_nothing(admin_client, data):
    user = user_create()
    account = Account.objects.get(owner=user)
    response = admin_client.post(f"/admin/billing/account/{account.pk}/adjust/", data)
    assert response.status_code == 200, "the form is shown again with the error"
    assert not LedgerEntry.objects.filter(type=EntryType.ADJUSTMENT).exists()
    assert balance_of(user) == Decimal("10.00")


def test_adjust_action_redirects_for_one_account(admin_client):
    account = Account.objects.get(owner=user_create())
    response = admin_client.post(
        "/admin/billing/account/", {"action": "adjust_selected", "_selected_action": [account.pk]}
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"/admin/billing/account/{account.pk}/adjust/")


def read_csv(response) -> list[list[str]]:
    """As Russian Excel reads it: UTF-8 behind a BOM, columns split on ";"."""
    assert response.streaming
    content = b"".join(response.streaming_content)
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def test_ledger_csv_export_streams_the_filtered_range(admin_client):
    user = user_create()
    _stars(user, 25)
    response = admin_client.get("/admin/billing/ledgerentry/export/?type__exact=1")
    rows = read_csv(response)
    assert rows[0][:3] == ["id", "created at", "type"]
    assert [(row[2], row[5]) for row in rows[1:]] == [("topup", "25.00")]


def test_payments_csv_export(admin_client):
    user = user_create()
    _stars(user, 5)
    _stars(user, 7)
    rows = read_csv(admin_client.get(f"/admin/billing/payment/export/?q={user.telegram_id}"))
    assert [row[7] for row in rows[1:]] == ["5.00", "7.00"]


def test_promo_batch_generation_and_export(admin_client):
    response = admin_client.post(
        "/admin/billing/promocode/generate/",
        {
            "count": 25,
            "amount": "50.00",
            "currency": "RUB",
            "max_uses": 1,
            "prefix": "NY",
            "length": 8,
            "batch": "ny",
        },
    )
    assert response.status_code == 302
    assert PromoCode.objects.filter(batch="ny").count() == 25
    listed = admin_client.get(response["Location"])
    assert len(listed.context["cl"].result_list) == 25
    rows = read_csv(admin_client.get("/admin/billing/promocode/export/?batch=ny"))
    assert len(rows) == 26
    assert all(row[0].startswith("NY") and row[1] == "50.00" for row in rows[1:])


def test_promo_code_added_in_admin_is_stored_upper_case(admin_client):
    response = admin_client.post(
        "/admin/billing/promocode/add/",
        {"code": "summer", "amount": "10.00", "currency": "RUB", "is_active": "on", "batch": ""},
    )
    assert response.status_code == 302
    assert PromoCode.objects.get().code == "SUMMER"


def test_plan_is_editable_in_admin_but_its_code_is_fixed(admin_client):
    from billing.models import Plan

    pro = Plan.objects.get(code="pro")
    assert admin_client.get(f"/admin/billing/plan/{pro.pk}/change/").status_code == 200
    response = admin_client.post(
        f"/admin/billing/plan/{pro.pk}/change/",
        {
            "code": "renamed",
            "name": "Pro",
            "price": "590.00",
            "currency": "RUB",
            "period_days": 30,
            "limits": '{"per_minute": 20, "concurrent": 3, "per_day": 600}',
            "is_active": "on",
            "sort_order": 1,
        },
    )
    assert response.status_code == 302
    pro.refresh_from_db()
    assert (pro.code, pro.price, pro.limits["per_day"]) == ("pro", Decimal("590.00"), 600)


def test_deactivate_action_stops_redemptions(admin_client, api):
    promo = PromoCode.objects.create(code="STOP", amount=Decimal("3.00"))
    response = admin_client.post(
        "/admin/billing/promocode/", {"action": "deactivate", "_selected_action": [promo.pk]}
    )
    assert response.status_code == 302
    user = user_create()
    assert (
        api.post(f"/api/v1/users/{user.display_ref}/promo-codes/redeem", {"code": "STOP"}).status_code == 404
    )


def test_export_with_a_bad_filter_redirects_instead_of_failing(admin_client):
    response = admin_client.get("/admin/billing/payment/export/?created_at__gte=not-a-date")
    assert response.status_code == 302


def test_csv_export_neutralises_formulas(admin_client, admin_user):
    user = user_create()
    services.balance_adjust(
        user=user, amount=Decimal("1.00"), currency="RUB", reason="=HYPERLINK(1)", operator=admin_user
    )
    rows = read_csv(admin_client.get("/admin/billing/ledgerentry/export/?type__exact=7"))
    assert rows[1][9] == "'=HYPERLINK(1)"
    assert rows[1][5] == "1.00"


def test_ledger_totals_line_sums_the_filtered_selection_per_currency(admin_client):
    user = user_create()
    _stars(user, 25)
    _stars(user, 5)
    response = admin_client.get(f"/admin/billing/ledgerentry/?user={user.pk}&type__exact=1")
    totals = response.context["totals"]
    assert totals["capped"] is False
    assert [(row["currency"], row["total"], row["rows"]) for row in totals["rows"]] == [
        ("RUB", Decimal("30.00"), 2)
    ]
    assert 'id="changelist-totals"' in response.content.decode()


def test_totals_are_withheld_above_the_cap(admin_client, monkeypatch):
    from billing.admin.payments import PaymentAdmin

    monkeypatch.setattr(PaymentAdmin, "totals_cap", 2)
    make_payments(3)
    totals = admin_client.get("/admin/billing/payment/").context["totals"]
    assert totals["capped"] is True and totals["rows"] == []


def test_date_range_filter_is_inclusive_in_the_display_time_zone(admin_client):
    from datetime import datetime, timedelta

    from django.utils import timezone

    user = user_create()
    payments = [_stars(user, amount) for amount in (1, 2, 3)]
    today = timezone.localdate()
    old = timezone.make_aware(datetime.combine(today - timedelta(days=10), datetime.min.time()))
    Payment.objects.filter(pk=payments[0].pk).update(created_at=old)

    listed = admin_client.get(
        f"/admin/billing/payment/?created_at__from={today - timedelta(days=1)}&created_at__to={today}"
    )
    assert {row.pk for row in listed.context["cl"].result_list} == {payments[1].pk, payments[2].pk}
    older = admin_client.get(f"/admin/billing/payment/?created_at__to={today - timedelta(days=10)}")
    assert {row.pk for row in older.context["cl"].result_list} == {payments[0].pk}
    assert admin_client.get("/admin/billing/payment/?created_at__from=not-a-date").status_code == 302


def test_a_charge_refund_whose_hold_was_deleted_is_listed_searched_and_shown(admin_client):
    # given a refunded charge whose resolved hold retention deleted
    make_charge_refunds(1)
    refund = ChargeRefund.objects.get()
    Hold.objects.filter(pk=refund.hold_id).delete()

    listed = admin_client.get("/admin/billing/chargerefund/")
    found = admin_client.get("/admin/billing/chargerefund/", {"q": refund.reference})
    shown = admin_client.get(f"/admin/billing/chargerefund/{refund.pk}/change/")

    assert list(listed.context["cl"].result_list) == [refund]
    assert list(found.context["cl"].result_list) == [refund]
    assert shown.status_code == 200 and refund.reference in shown.content.decode()
