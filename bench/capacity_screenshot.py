"""The operator dashboard on the capacity database, seen in headless Chromium (Debian's chromium).

    .venv/bin/python bench/capacity_screenshot.py [--out /tmp/shots] [--port 8765]

Starts `manage.py runserver` on botdesk_capacity (override with DATABASE_URL), logs in as an operator it
creates (capacity-shot, a fresh random password each run), opens the admin index and saves the whole
page as PNG files under --out (not in git): the dashboard cold (first render of the server process) and
warm, and each panel alone. Prints the browser's navigation timings and the server's render time.
"""

import argparse
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
URL = os.environ.get("DATABASE_URL", "postgres://botdesk:botdesk@127.0.0.1:5432/botdesk_capacity")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def operator_password(env: dict) -> str:
    password = secrets.token_urlsafe(12)
    code = (
        "from accounts.models import Operator\n"
        "op, _ = Operator.objects.get_or_create(username='capacity-shot')\n"
        "op.is_staff = op.is_superuser = True\n"
        f"op.set_password({password!r}); op.save()\n"
    )
    subprocess.run(
        [str(ROOT / ".venv/bin/python"), "manage.py", "shell", "-c", code], check=True, cwd=ROOT, env=env
    )
    return password


def wait_up(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/admin/login/", timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("runserver did not come up")


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-extensions",
        "--no-first-run",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(120)
    return driver


def timings(driver) -> str:
    nav = driver.execute_script(
        "const n = performance.getEntriesByType('navigation')[0];"
        "return [n.responseStart - n.requestStart, n.responseEnd - n.requestStart, n.loadEventEnd - n.startTime];"
    )
    return f"server answer {nav[0]:.0f} ms, page received {nav[1]:.0f} ms, loaded {nav[2]:.0f} ms"


def shoot(driver, path: Path, *, panels=()) -> None:
    """The whole page (the window stretched to its height), then each of `panels` alone."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(height + 40, 1000), 6000))
    driver.save_screenshot(str(path))
    for panel in panels:
        panel.screenshot(str(path.parent / f"capacity-{panel.get_attribute('id')}.png"))
    driver.set_window_size(1400, 1000)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="/tmp/shots")
    parser.add_argument("--port", type=int, default=8765)
    options = parser.parse_args()
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DATABASE_URL": URL, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    password = operator_password(env)
    base = f"http://127.0.0.1:{options.port}"
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/python"), "manage.py", "runserver", f"127.0.0.1:{options.port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    driver = None
    try:
        wait_up(base)
        from selenium.webdriver.common.by import By

        driver = browser()
        driver.get(f"{base}/admin/login/?next=/admin/")
        driver.find_element(By.NAME, "username").send_keys("capacity-shot")
        driver.find_element(By.NAME, "password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        deadline = time.monotonic() + 120
        while not driver.find_elements(By.ID, "ops-dashboard"):
            if time.monotonic() > deadline:
                raise SystemExit(f"no dashboard at {driver.current_url}")
            time.sleep(0.2)
        print(f"dashboard, cold (login redirect): {timings(driver)}")
        shoot(driver, out / "capacity-dashboard-cold.png")
        driver.get(f"{base}/admin/")
        print(f"dashboard, warm: {timings(driver)}")
        panels = driver.find_elements(By.CSS_SELECTOR, "#ops-dashboard .ops-panel")
        print(f"panels: {', '.join(p.get_attribute('id') for p in panels)}")
        shoot(driver, out / "capacity-dashboard.png", panels=panels)
        print(f"screenshots: {out / 'capacity-dashboard-cold.png'}, {out / 'capacity-dashboard.png'}")
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    sys.exit(main())
