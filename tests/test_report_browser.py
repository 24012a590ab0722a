"""The report in a real headless Chromium (Debian's `chromium` and `chromium-driver` packages).

It must load with no console error (a blocked load or a script error would log one) and
the transcript of a chosen task must open when its row is clicked. Without Chromium (or
selenium) the tests skip and say how to install it, so the README's test command passes on a
machine without a browser; `TAUGEPA_REQUIRE_BROWSER=1` (which `.ci/run` sets) turns the skip
into a failure, so CI never passes without having driven the browser.
"""

from __future__ import annotations

import os
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
INSTALL_HINT = "install it with: apt-get install -y chromium chromium-driver (see docs/development.md)"
REQUIRE_BROWSER = "TAUGEPA_REQUIRE_BROWSER"


def missing(what: str) -> None:
    """Skip, or fail when the environment requires the browser tests to run."""
    message = f"{what}: the report's browser test needs it"
    if os.environ.get(REQUIRE_BROWSER) == "1":
        pytest.fail(f"{message} and {REQUIRE_BROWSER}=1 requires it; {INSTALL_HINT}")
    pytest.skip(f"{message}; {INSTALL_HINT} (set {REQUIRE_BROWSER}=1 to fail instead)")


def find_executable(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    missing(f"{' / '.join(names)} not found")
    raise AssertionError("unreachable")


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    try:
        from selenium import webdriver
    except ImportError:
        missing("selenium is not installed (it comes with pip install -e '.[test]')")
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

    # task ids stay on one line, however narrow the window ("medium-017" may break at its hyphen)
    browser.set_window_size(500, 900)
    lines_per_id = browser.execute_script(
        "return Array.from(document.querySelectorAll('#tasks-0 td.tg-id')).map(function (cell) {"
        "  var range = document.createRange(); range.selectNodeContents(cell);"
        "  return range.getClientRects().length; });"
    )
    assert lines_per_id and set(lines_per_id) == {1}
    browser.set_window_size(1300, 1000)

    # the filter hides the rows that do not match
    search = browser.find_element(By.CSS_SELECTOR, '.tg-filter[data-table="tasks-0"] input')
    search.send_keys("test-03")
    shown = [row for row in browser.find_elements(By.CSS_SELECTOR, "#tasks-0 tbody tr") if row.is_displayed()]
    assert [row.find_element(By.TAG_NAME, "td").text for row in shown] == ["test-03"]

    browser.save_screenshot(str(tmp_path / "report.png"))
    assert severe_console_entries(browser) == []


def _seconds(shown: str) -> float:
    """pytest-html's duration text ('734 ms' or 'HH:MM:SS') in seconds."""
    if shown.endswith(" ms"):
        return int(shown[:-3]) / 1000
    hours, minutes, seconds = (int(part) for part in shown.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def test_pytest_html_page_heads_with_the_verdict_and_shows_each_episode_once(browser, tmp_path):
    """A gated LLM run (scripted models, episodes run ahead on threads) with --self-contained-html."""
    import json
    import os
    import subprocess
    import sys

    from selenium.webdriver.common.by import By

    from taugepa.tasks.loading import load_tasks
    from taugepa.testing.scripted_models import USER_MODEL
    from taugepa.testing.scripted_optimizer import EXTRA_MODELS, WIKI_AGENT_MODEL
    from taugepa.testing.scripted_server import ScriptedServer

    repo = Path(__file__).resolve().parent.parent
    cases = ["tau2-0", "tau2-2", "tau2-3", "tau2-4", "tau2-8", "tau2-19"]  # no-write tasks pass, others fail
    page = tmp_path / "page.html"
    with ScriptedServer(load_tasks(["tau2-airline"]).tasks, latency=0.1, extra_models=EXTRA_MODELS) as server:
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--tasks", "tau2-airline"]
        command += [f"{repo / 'benchmarks' / 'test_airline.py'}::test_task[{case}]" for case in cases]
        command += ["--agent-model", WIKI_AGENT_MODEL, "--user-model", USER_MODEL]
        command += ["--base-url", server.base_url, "--no-llm-cache", "--concurrency", "4"]
        command += ["--min-pass-rate", "60%", "--scores-out", "s.json"]
        command += ["--html", str(page), "--self-contained-html"]
        env = {**os.environ, "OPENAI_API_KEY": "not-a-real-key"}
        run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr
    assert not (tmp_path / "assets").exists()  # one shareable file
    episodes = {e["task_id"]: e for e in json.loads((tmp_path / "s.json").read_text())["episodes"]}
    passed = [case for case in cases if episodes[case]["outcome"] == "passed"]
    failed = [case for case in cases if episodes[case]["outcome"] == "failed"]
    assert passed and failed

    browser.get(page.as_uri())
    assert severe_console_entries(browser) == []
    assert browser.title == "taugepa benchmark: agent llm on tau2-airline"
    verdict = browser.find_element(By.CSS_SELECTOR, ".tg-verdict")
    table = browser.find_element(By.ID, "results-table")
    assert verdict.is_displayed() and verdict.location["y"] < table.location["y"]  # above the results
    text = verdict.text
    assert f"pass rate {len(passed) / len(cases):.1%} ({len(passed)} passed, {len(failed)} failed)" in text
    # compliance beside the pass rate: the line right under it
    compliant = sum(1 for case in cases if episodes[case]["compliance"]["compliant"])
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("pass rate "))
    assert lines[at + 1].startswith(
        f"compliance {compliant / len(cases):.1%} ({compliant} of {len(cases)} scored"
    )
    assert "gate failed: pass rate" in text and "is below --min-pass-rate 60.0%" in text
    assert text.strip().endswith("FAIL (exit status 1): the gate --min-pass-rate 60.0% failed")

    browser.find_element(By.ID, "show_all_details").click()  # passed rows open too (they start closed)
    rows = {
        body.get_attribute("id").split("[")[-1].rstrip("]"): body
        for body in browser.find_elements(By.CSS_SELECTOR, "tbody.results-table-row")
        if "[" in (body.get_attribute("id") or "")
    }
    assert sorted(rows) == sorted(cases)
    for case, body in rows.items():
        episode = episodes[case]
        shown = _seconds(body.find_element(By.CSS_SELECTOR, ".col-duration").text)
        # the episode's own wall time (>= 0.1 s per model answer), not the ~1 ms its case waited
        wall = episode["duration_s"]  # pytest-html shows ms below a second, whole seconds above
        assert abs(shown - wall) <= (0.05 if wall < 1 else 0.6) and shown >= 0.2, (case, shown, wall)
        details = body.find_element(By.CSS_SELECTOR, ".extra").text
        first_line = episode["feedback"].splitlines()[0]
        assert details.count(first_line) == 1, (case, details[:500])  # the feedback once
        logs = [log for log in body.find_elements(By.CSS_SELECTOR, ".logwrapper") if log.is_displayed()]
        assert logs == [], case  # no box repeating the feedback, no empty box on passed rows
    browser.save_screenshot(str(tmp_path / "pytest-html.png"))
    assert severe_console_entries(browser) == []


def test_a_missing_browser_skips_with_the_reason_or_fails_when_required(monkeypatch):
    monkeypatch.delenv(REQUIRE_BROWSER, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-browser not found.*apt-get install"):
        find_executable("no-such-browser")
    monkeypatch.setenv(REQUIRE_BROWSER, "1")
    with pytest.raises(pytest.fail.Exception, match="TAUGEPA_REQUIRE_BROWSER=1 requires it"):
        find_executable("no-such-browser")
