"""A Support operator's day in Russian, in headless Chromium: find a user by Telegram id, read the card.

Screenshots go to /tmp/shots (not in git): login, user list, user card, API keys refused.
"""

from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group

from accounts.models import Operator
from billing import services as billing_services
from ops.roles import roles_sync
from tests.support.browser import search_user, shot, wait_for
from tests.support.users import user_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "e2e-support-pass-1"
SHOTS = Path("/tmp/shots")


def test_support_operator_in_russian_finds_a_user_and_reads_the_card(browser_ru, live_server):
    from selenium.webdriver.common.by import By

    # given the roles, a Support operator and a user with some history
    roles_sync(django_apps)
    support = Operator.objects.create_user("support-ru", password=PASSWORD, is_staff=True)
    support.groups.add(Group.objects.get(name="Support"))
    admin = Operator.objects.create_superuser("lead-ru", "lead@example.com", "x")
    user = user_create()
    billing_services.telegram_stars_credit(user=user, charge_id="ru-1", total_amount=150, invoice_payload="")
    billing_services.balance_adjust(
        user=user, amount=Decimal("7.25"), currency="RUB", reason="Компенсация за сбой", operator=admin
    )
    browser, url = browser_ru, live_server.url

    # when the operator logs in from a Russian browser
    browser.get(f"{url}/admin/login/?next=/admin/")
    assert "Имя пользователя" in browser.find_element(By.TAG_NAME, "body").text
    shot(browser, "ru-01-login", directory=SHOTS)
    browser.find_element(By.NAME, "username").send_keys("support-ru")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(lambda: browser.find_elements(By.ID, "ops-dashboard"), what="the dashboard")
    assert "Botdesk" in browser.find_element(By.ID, "site-name").text
    # Support sees the users and generations panels, not revenue or the database size
    assert browser.find_elements(By.ID, "panel-users")
    assert not browser.find_elements(By.ID, "panel-revenue")
    assert not browser.find_elements(By.ID, "panel-database")

    # and searches the users for the Telegram id
    search_user(browser, url, user)
    header = browser.find_element(By.CSS_SELECTOR, "#result_list thead").text
    assert "доступно" in header.lower(), header
    shot(browser, "ru-02-user-list", directory=SHOTS)

    # then the card is in Russian, with the balance and the newest entries
    browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr th a").click()
    wait_for(lambda: browser.find_elements(By.ID, "user-card"), what="the user card")
    card = browser.find_element(By.ID, "user-card").text.lower()  # section titles are upper-cased by CSS
    assert "баланс и подписка" in card, card
    assert "последние операции по счёту" in card, card
    assert "доступно" in card and "тариф" in card, card
    balances = browser.find_element(By.ID, "card-balances").text
    assert "167,25" in balances, balances  # welcome 10.00 + 150 stars + 7.25, with a Russian decimal comma
    ledger = browser.find_element(By.ID, "card-ledger").text
    assert "7,25" in ledger and "Компенсация за сбой" in ledger and "корректировка" in ledger, ledger
    assert browser.find_elements(By.ID, "action-block")  # Support blocks and unblocks
    shot(browser, "ru-03-user-card", directory=SHOTS)

    # and the revoke-keys action is offered nowhere: API keys are not Support's
    browser.get(f"{url}/admin/")
    assert not browser.find_elements(By.CSS_SELECTOR, "a[href$='/admin/accounts/apikey/']")
    browser.get(f"{url}/admin/accounts/apikey/")
    assert "403" in browser.title or "Forbidden" in browser.page_source
    assert not browser.find_elements(By.CSS_SELECTOR, "option[value='revoke_keys']")
    shot(browser, "ru-04-api-keys-refused", directory=SHOTS)

    # and the header switches the language to English and back (the page's <html lang> says which)
    browser.get(f"{url}/admin/accounts/enduser/{user.pk}/change/")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ru"
    browser.find_element(By.CSS_SELECTOR, "#language-switch button.language-en").click()
    wait_for(
        lambda: browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en", timeout=60, what="en"
    )
    assert "balance and subscription" in browser.find_element(By.ID, "user-card").text.lower()
    shot(browser, "ru-05-user-card-english", directory=SHOTS)
    browser.find_element(By.CSS_SELECTOR, "#language-switch button.language-ru").click()
    wait_for(
        lambda: browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ru", timeout=60, what="ru"
    )
    assert "баланс и подписка" in browser.find_element(By.ID, "user-card").text.lower()
