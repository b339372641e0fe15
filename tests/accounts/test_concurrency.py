import pytest

from accounts.models import EndUser
from accounts.services import end_user_upsert
from tests.support.api import ApiClient
from tests.support.concurrency import run_concurrently


@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_requests_create_one_user():
    results = run_concurrently(lambda _: end_user_upsert(ref="777000", profile={"username": "racer"}), 12)

    errors = [result for result in results if isinstance(result, BaseException)]
    assert not errors
    assert EndUser.objects.filter(telegram_id=777000).count() == 1
    assert sum(1 for _, created in results if created) == 1


@pytest.mark.django_db(transaction=True)
def test_simultaneous_http_puts_answer_one_201(raw_api_key):
    def put(_: int) -> int:
        return ApiClient(raw_api_key).put("/api/v1/users/device:shared-phone", {}).status_code

    statuses = run_concurrently(put, 10)
    assert sorted(statuses) == [200] * 9 + [201]
    assert EndUser.objects.filter(device_id="shared-phone").count() == 1
