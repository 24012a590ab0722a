"""The report in a real headless Chromium (Debian's `chromium` and `chromium-driver` packages).

It must load with no console error (a blocked load or a script error would log one) and
the transcript of a chosen task must open when its row is clicked. Without Chromium the
test fails and says how to install it: a browser check that silently skips checks nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from scores_files import HOSTILE_USER, benchmark_scores, hostile_rescored_scores

from taugepa.cli import main

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1300,1000",
)
INSTALL_HINT = "install it with: apt-get install -y chromium chromium-driver (see README, Development)"


def find_executable(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(f"{' / '.join(names)} not found: the report's browser test needs Chromium; {INSTALL_HINT}")


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium comes with pip install -e '.[test]'"
    )
    chromium = find_executable("chromium", "chromium-browser")
    chromedriver = find_executable("chromedriver")
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never download anything
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=chromedriver))
    try:
        yield driver
    finally:
        driver.quit()


def severe_console_entries(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_report_loads_cleanly_and_a_transcript_opens_on_click(browser, tmp_path, v1_tasks_file):
    from selenium.webdriver.common.by import By

    mixed = benchmark_scores(tmp_path / "mixed.json", v1_tasks_file, {0: "oracle", 1: "null", 2: "null"})
    hostile = hostile_rescored_scores(tmp_path / "hostile.json", v1_tasks_file)
    report = tmp_path / "report.html"
    assert main(["report", f"mixed={mixed}", f"hostile={hostile}", "--out", str(report)]) == 0

    browser.get(report.as_uri())
    assert browser.title == "taugepa report"
    assert severe_console_entries(browser) == []
    images = browser.find_elements(By.CSS_SELECTOR, ".tg-charts img")
    assert len(images) == 3
    assert all(browser.execute_script("return arguments[0].naturalWidth", img) > 100 for img in images)

    # the hostile transcript: closed at first, opens on click, shows the markup as text
    details = browser.find_element(By.CSS_SELECTOR, '#tasks-1 details[data-task="test-16"]')
    episode = details.find_element(By.CSS_SELECTOR, ".tg-episode")
    assert details.get_attribute("open") is None and not episode.is_displayed()
    details.find_element(By.TAG_NAME, "summary").click()
    assert details.get_attribute("open") is not None and episode.is_displayed()
    assert HOSTILE_USER in episode.text
    assert browser.execute_script("return document.querySelectorAll('script').length") == 1

    # the filter hides the rows that do not match
    search = browser.find_element(By.CSS_SELECTOR, '.tg-filter[data-table="tasks-0"] input')
    search.send_keys("test-03")
    shown = [row for row in browser.find_elements(By.CSS_SELECTOR, "#tasks-0 tbody tr") if row.is_displayed()]
    assert [row.find_element(By.TAG_NAME, "td").text for row in shown] == ["test-03"]

    browser.save_screenshot(str(tmp_path / "report.png"))
    assert severe_console_entries(browser) == []
