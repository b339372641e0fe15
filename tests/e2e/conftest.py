"""Headless Chromium (Debian's chromium and chromium-driver) driven by Selenium; no browser downloads."""

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support.browser import SCREENSHOTS

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def browser_missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            return f"{path} is missing: scripts/setup.sh installs Debian's chromium and chromium-driver"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (requirements.txt)"
    return None


@pytest.fixture
def download_dir():
    path = Path(tempfile.mkdtemp(prefix="botdesk-e2e-downloads-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _driver(download_dir, *, languages: str | None = None):
    missing = browser_missing()
    if missing:
        pytest.fail(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="botdesk-e2e-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    prefs = {"download.default_directory": str(download_dir), "download.prompt_for_download": False}
    if languages:
        # What a Russian operator's browser sends as Accept-Language.
        prefs["intl.accept_languages"] = languages
        options.add_argument(f"--lang={languages.split(',')[0]}")
    options.add_experimental_option("prefs", prefs)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(download_dir)}
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return driver, profile


@pytest.fixture
def browser(download_dir):
    driver, profile = _driver(download_dir)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser_ru(download_dir):
    driver, profile = _driver(download_dir, languages="ru-RU,ru")
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
