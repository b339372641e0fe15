"""A charge stores no description: "<model code> generation #<id>" is derived from its job wherever it is shown.

The API's transactions, the admin ledger (list, detail, CSV export) and the user card show the same text
the ledger used to store, one describer query per page whatever its number of charges; entries that
stored a description (every other type, and charges written before) show the stored one.
"""

import csv
import io
from decimal import Decimal

import pytest

from billing import services as billing_services
from billing.models import EntryType, LedgerEntry
from billing.references import ledger_entries_describe
from generations import services
from generations.models import Generation
from tests.generations.helpers import charges_for, create_body, model_create
from tests.support.admin import changelist_queries_pinned
from tests.support.users import user_funded

pytestmark = pytest.mark.django_db

AUTH = 1  # the API key lookup (test settings look every key up)
LEDGER = "/admin/billing/ledgerentry/"


def job_succeeded(user, model) -> Generation:
    """A paid job through the services, captured: its charge is written as production writes it."""
    job = services.generation_create(user=user, model=model, prompt="a cat", parameters={})
    return services.generation_status_set(generation_id=job.pk, status="succeeded")


def csv_rows(response) -> list[list[str]]:
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(content), delimiter=";"))


def test_a_charge_stores_no_text_and_shows_its_jobs_everywhere(api, admin_client):
    # given a job created and finished through the API
    user, model = user_funded("20.00"), model_create("flux-dev", price="6.00")
    created = api.post("/api/v1/generations", create_body(user, model), idempotency_key="d-1").json()
    done = api.post(f"/api/v1/generations/{created['id']}/status", {"status": "succeeded"})
    assert done.status_code == 200
    expected = f"flux-dev generation #{created['id']}"

    # then the table keeps no text for the charge
    (charge,) = charges_for(Generation.objects.get(pk=created["id"]))
    assert charge.description == ""
    # and every place that shows it shows the text it used to store
    items = api.get(f"/api/v1/users/{user.telegram_id}/transactions").json()["items"]
    assert [(item["type"], item["description"]) for item in items] == [
        ("charge", expected),
        ("topup", ""),
        ("bonus", "Welcome bonus"),
    ]
    listed = admin_client.get(LEDGER, {"user": user.pk})
    assert [entry.description_shown for entry in listed.context["cl"].result_list][0] == expected
    assert f'<td class="field-description_text">{expected}</td>' in listed.content.decode()
    exported = csv_rows(admin_client.get(f"{LEDGER}export/", {"user": user.pk}))
    assert exported[0][9] == "description"
    assert [(row[2], row[9]) for row in exported[1:]] == [
        ("bonus", "Welcome bonus"),
        ("topup", ""),
        ("charge", expected),
    ]
    detail = admin_client.get(f"{LEDGER}{charge.pk}/change/")
    assert detail.status_code == 200
    assert expected in detail.content.decode()
    card = admin_client.get(f"/admin/accounts/enduser/{user.pk}/change/")
    sections = {section.key: section.data for section in card.context["card_sections"]}
    assert sections["ledger"]["entries"][0].description_shown == expected
    assert expected in card.content.decode()


def test_a_stored_description_is_shown_as_stored(api, admin_client):
    # given a charge written before charges stopped storing their text, and one of an unknown job
    user, model = user_funded("20.00"), model_create("flux-dev", price="6.00")
    job = services.generation_create(user=user, model=model, prompt="a cat", parameters={})
    billing_services.hold_capture(hold_id=job.hold_id, description="flux-dev generation (older text)")
    stray = billing_services.hold_create(
        user=user, amount=Decimal("1.00"), currency="RUB", reference="generation:999999999"
    )
    billing_services.hold_capture(hold_id=stray.pk)

    items = api.get(f"/api/v1/users/{user.telegram_id}/transactions").json()["items"]
    assert [(item["reference"], item["description"]) for item in items[:2]] == [
        ("generation:999999999", ""),
        (f"generation:{job.pk}", "flux-dev generation (older text)"),
    ]
    listed = admin_client.get(LEDGER, {"user": user.pk})
    assert [entry.description_shown for entry in listed.context["cl"].result_list][:2] == [
        "",
        "flux-dev generation (older text)",
    ]


def test_one_describer_query_for_a_batch_of_charges(django_assert_num_queries):
    user, model = user_funded("100.00"), model_create("flux-dev", price="1.00")
    jobs = [job_succeeded(user, model) for _ in range(3)]
    entries = list(LedgerEntry.objects.filter(account__owner=user).order_by("pk"))
    with django_assert_num_queries(1):
        texts = ledger_entries_describe(entries)
    assert texts == ["Welcome bonus", "", *(f"flux-dev generation #{job.pk}" for job in jobs)]
    with django_assert_num_queries(0):  # nothing to derive, nothing asked
        assert ledger_entries_describe(entries[:2]) == ["Welcome bonus", ""]


def test_transactions_with_charges_cost_one_describer_query_at_1_and_50(api, django_assert_num_queries):
    model = model_create("flux-dev", price="1.00")
    for rows in (1, 50):
        user = user_funded("100.00")
        for _ in range(rows):
            job_succeeded(user, model)
        # auth, user, the user's accounts, the page, the describer (one query for the page's charges)
        with django_assert_num_queries(AUTH + 4):
            response = api.get(f"/api/v1/users/{user.telegram_id}/transactions?limit=200")
        assert response.status_code == 200
        charges = [item for item in response.json()["items"] if item["type"] == "charge"]
        assert len(charges) == rows
        assert all(item["description"].startswith("flux-dev generation #") for item in charges)


def test_ledger_changelist_with_charges_costs_one_describer_query(admin_client, django_assert_num_queries):
    model = model_create("flux-dev", price="1.00")

    def make_charges(rows: int) -> None:
        user = user_funded("100.00")
        for _ in range(rows):
            job_succeeded(user, model)

    # the changelist's 5 queries (session, operator, capped count, page, totals) and the describer
    changelist_queries_pinned(
        admin_client, django_assert_num_queries, f"{LEDGER}?type__exact={EntryType.CHARGE}", make_charges, 6
    )


def test_the_ledger_search_finds_a_charge_by_its_reference(admin_client):
    user, model = user_funded("20.00"), model_create("flux-dev", price="6.00")
    job = job_succeeded(user, model)
    found = admin_client.get(LEDGER, {"q": f"generation:{job.pk}"}).context["cl"].result_list
    assert [(entry.type, entry.description_shown) for entry in found] == [
        (EntryType.CHARGE, f"flux-dev generation #{job.pk}")
    ]
