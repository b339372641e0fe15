"""Helpers of the headless Chromium tests (tests/e2e): screenshots, waits, the admin's user search."""

import tempfile
import time
from pathlib import Path

SCREENSHOTS = Path(tempfile.gettempdir()) / "botdesk-e2e"


def shot(browser, name: str, *, directory: Path = SCREENSHOTS) -> str:
    """Saves a screenshot of the page as `directory`/`name`.png (the directory is made) and returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    browser.save_screenshot(str(path))
    return str(path)


def wait_for(predicate, *, timeout: float = 15, what: str = "condition"):
    """Polls `predicate` until it returns something truthy and returns it; fails after `timeout` seconds.

    A page being replaced while it is read (no such element, stale element) counts as not yet.
    """
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (NoSuchElementException, StaleElementReferenceException):
            value = None  # the page is being replaced: look again
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def search_user(browser, url: str, user) -> None:
    """Types the user's Telegram id into the user list's search box and waits for the row."""
    from selenium.webdriver.common.by import By

    browser.get(f"{url}/admin/accounts/enduser/")
    search = browser.find_element(By.ID, "searchbar")
    search.send_keys(str(user.telegram_id))
    search.submit()
    wait_for(
        lambda: str(user.telegram_id) in browser.find_element(By.ID, "result_list").text, what="the user"
    )
