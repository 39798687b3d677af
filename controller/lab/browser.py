"""Debian's chromium, headless, driving the dashboard: for its browser test, the demo's
screenshot and anyone who wants a picture of a running controller.

Selenium is always given Debian's chromedriver (``chromium-driver``): selenium-manager must
never try to download a driver (no internet in CI). Tests run as root, hence ``--no-sandbox``.
"""
from __future__ import annotations

import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WINDOW = (1600, 1000)


def headless_chromium(window: tuple[int, int] = WINDOW):
    """A selenium WebDriver on a headless Debian chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={window[0]},{window[1]}", "--hide-scrollbars"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def dashboard_url(rest_port: int, fragment: str = "") -> str:
    return f"http://127.0.0.1:{rest_port}/qroute/ui/" + (f"#{fragment}" if fragment else "")


def wait_for_updates(driver, updates: int, timeout: float = 30.0) -> int:
    """Wait until the page has drawn `updates` polls of the controller; returns how many it has.
    TimeoutError names the page's last error."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        seen = driver.execute_script("return window.qroute ? window.qroute.updates : 0") or 0
        if seen >= updates:
            return seen
        time.sleep(0.2)
    error = driver.execute_script("return window.qroute ? window.qroute.lastError : 'no window.qroute'")
    raise TimeoutError(f"the dashboard drew {seen} of {updates} updates in {timeout:.0f} s "
                       f"(its last error: {error or 'none'})")


def screenshot_dashboard(url: str, path: str | Path, updates: int = 3, timeout: float = 60.0) -> Path:
    """Load the dashboard at `url`, let it draw `updates` polls, save a PNG at `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    driver = headless_chromium()
    try:
        driver.get(url)
        wait_for_updates(driver, updates, timeout)
        time.sleep(0.5)  # the chart and the graph finish drawing after the poll's data
        if not driver.save_screenshot(str(path)):
            raise RuntimeError(f"chromium did not save {path}")
    finally:
        driver.quit()
    return path
