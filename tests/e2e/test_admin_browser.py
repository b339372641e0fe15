"""The operator's day in a real browser: log in, dashboard, find a user, adjust, ledger, CSV, schedules."""

import csv
import time
from decimal import Decimal

import pytest
from django_celery_beat.models import PeriodicTask

from accounts.models import Operator
from billing.models import Account, EntryType, LedgerEntry
from ops.services import schedules_sync
from tests.support.browser import search_user, shot, wait_for
from tests.support.users import user_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "e2e-operator-pass-1"


def test_operator_flow_in_headless_chromium(browser, live_server, download_dir):
    from selenium.webdriver.common.by import By

    # given an operator, a bot user with the welcome bonus, and the beat schedules
    Operator.objects.create_superuser("e2e-op", "op@example.com", PASSWORD)
    user = user_create()
    account = Account.objects.get(kind=Account.Kind.USER, owner=user, currency="RUB")
    schedules_sync()
    url = live_server.url

    # when the operator logs in
    browser.get(f"{url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys("e2e-op")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    # then the dashboard (the admin index) is shown, with its stylesheet served
    wait_for(lambda: browser.find_elements(By.ID, "ops-dashboard"), what="the dashboard")
    assert browser.find_elements(By.CSS_SELECTOR, "#ops-dashboard .ops-panel")
    assert browser.execute_script(
        "return getComputedStyle(document.getElementById('header')).backgroundColor"
    ) not in ("", "rgba(0, 0, 0, 0)"), "admin CSS did not load"
    shot(browser, "01-dashboard")

    # when the operator searches the users for the Telegram id
    search_user(browser, url, user)
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1
    shot(browser, "02-user-found")

    # and opens the user's account and adjusts the balance with a reason
    browser.get(f"{url}/admin/billing/account/?q={user.telegram_id}")
    browser.find_element(By.LINK_TEXT, "adjust").click()
    wait_for(lambda: browser.find_elements(By.NAME, "amount"), what="the adjustment form")
    browser.find_element(By.NAME, "amount").send_keys("42.50")
    browser.find_element(By.NAME, "reason").send_keys("Goodwill for a failed render (ticket 7)")
    shot(browser, "03-adjust-form")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    # then the user card shows the adjustment among the newest entries, and the money moved once
    wait_for(
        lambda: f"/admin/accounts/enduser/{user.pk}/change/" in browser.current_url, what="the user card"
    )
    assert "Adjusted" in browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text
    assert "42.50" in browser.find_element(By.ID, "card-ledger").text
    entry = LedgerEntry.objects.get(account=account, type=EntryType.ADJUSTMENT)
    assert entry.amount == Decimal("42.50")
    account.refresh_from_db()
    assert account.balance == Decimal("52.50")
    shot(browser, "04-user-card")

    # when the operator opens all of the user's entries and exports them
    browser.find_element(By.CSS_SELECTOR, "#card-ledger p.more a").click()
    wait_for(lambda: "/admin/billing/ledgerentry/" in browser.current_url, what="the ledger page")
    assert "52.50" in browser.find_element(By.ID, "changelist-totals").text
    browser.find_element(By.CSS_SELECTOR, "a[href*='export/']").click()
    exported = wait_for(
        lambda: [p for p in download_dir.glob("*.csv") if p.stat().st_size > 0],
        timeout=30,
        what="the CSV download",
    )
    time.sleep(0.5)  # the download is renamed from .crdownload once complete
    # then it opens in Russian Excel: UTF-8 with a BOM, columns split on ";"
    assert exported[0].read_bytes().startswith(b"\xef\xbb\xbf")
    with exported[0].open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    # and it holds this user's entries: the welcome bonus and the adjustment
    assert len(rows) == 3, rows
    assert any("42.50" in row for row in rows[1:]), rows

    # when the operator disables a beat schedule
    task = PeriodicTask.objects.get(name="holds-expire")
    assert task.enabled
    browser.get(f"{url}/admin/django_celery_beat/periodictask/{task.pk}/change/")
    checkbox = browser.find_element(By.NAME, "enabled")
    assert checkbox.is_selected()
    checkbox.click()
    shot(browser, "05-schedule-form")
    browser.find_element(By.NAME, "_save").click()

    # then it is saved disabled
    wait_for(
        lambda: "/periodictask/" in browser.current_url and "change" not in browser.current_url, what="save"
    )
    assert "was changed successfully" in browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text
    task.refresh_from_db()
    assert not task.enabled
    shot(browser, "06-schedule-disabled")
