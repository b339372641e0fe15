"""Admin searches resolve a user reference to ids through the unique identity indexes."""

import pytest

from accounts.selectors import end_user_ids_for_ref
from accounts.services import end_user_upsert
from tests.support.users import user_create

pytestmark = pytest.mark.django_db


def test_a_user_reference_resolves_to_the_users_ids():
    by_telegram = user_create(telegram_id=7_000_001)
    by_device, _ = end_user_upsert(ref="device:dev-1", profile={})
    by_external, _ = end_user_upsert(ref="ext:crm-1", profile={})

    assert end_user_ids_for_ref(ref="7000001") == [by_telegram.pk]
    assert end_user_ids_for_ref(ref="device:dev-1") == [by_device.pk]
    assert end_user_ids_for_ref(ref="ext:crm-1") == [by_external.pk]


def test_a_well_formed_reference_to_nobody_is_an_empty_list_and_free_text_is_none():
    # [] means "a user reference, no such user" (the search finds nothing); None means "not a reference"
    # (the admin falls back to its text search).
    assert end_user_ids_for_ref(ref="7000002") == []
    assert end_user_ids_for_ref(ref="device:nobody") == []
    assert end_user_ids_for_ref(ref="some prompt text") is None
    assert end_user_ids_for_ref(ref="") is None
