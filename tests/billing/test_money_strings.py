"""Money in request bodies is a decimal string (bot-api.md, Conventions): a JSON number is 422, never rounded."""

import pytest

from billing.models import Payment
from tests.support.users import user_create

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("amount", [150.5, 150, 150.0, 1e2, True])
def test_a_json_number_for_money_is_422_naming_the_field(api, amount):
    user = user_create()

    response = api.post(f"/api/v1/users/{user.display_ref}/payments", {"amount": amount}, idempotency_key="n")

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "amount" in error["details"]
    assert "decimal string" in str(error["details"]["amount"])
    assert Payment.objects.count() == 0


@pytest.mark.parametrize(("amount", "stored"), [("150.5", "150.50"), ("150", "150.00"), (" 7.25 ", "7.25")])
def test_a_decimal_string_is_taken_exactly(api, amount, stored):
    user = user_create()

    response = api.post(f"/api/v1/users/{user.display_ref}/payments", {"amount": amount}, idempotency_key="s")

    assert response.status_code == 201, response.content
    assert response.json()["amount"] == stored
