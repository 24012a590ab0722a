"""Make the screenshots in docs/screenshots/ (run by hand; needs Chromium, as the browser test does).

    python scripts/make_screenshots.py [--out docs/screenshots]

A gated benchmark run that fails its gate, against the scripted server (offline, no key):
`scripted-wiki-agent` with tau2's policy on the first 20 tau2 tasks and `--min-pass-rate 60%`.

- `terminal-failing-gate.png`: the end of that run's terminal output (colours included),
  rendered as a terminal-like HTML page and shot by headless Chromium;
- `pytest-html.png`: the top of its pytest-html page (`--self-contained-html`), verdict first,
  with the first failed row open.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_models import USER_MODEL
from taugepa.testing.scripted_optimizer import EXTRA_MODELS, WIKI_AGENT_MODEL
from taugepa.testing.scripted_server import ScriptedServer

REPO = Path(__file__).resolve().parent.parent
TERMINAL_LINES = 34
COLUMNS = 130
ANSI = re.compile(r"\x1b\[([0-9;]*)m")
COLOURS = {"31": "#ff6b6b", "32": "#6bd66b", "33": "#e0c060", "36": "#5fd7d7", "34": "#7aa2f7"}


def gated_run(folder: Path) -> str:
    """Run the failing gated benchmark in `folder`; return its coloured terminal output."""
    cases = [f"benchmarks/test_airline.py::test_task[tau2-{i}]" for i in range(20)]
    tasks = load_tasks(["tau2-airline"]).tasks
    with ScriptedServer(tasks, latency=0.05, extra_models=EXTRA_MODELS) as server:
        command = [sys.executable, "-m", "pytest", *cases, "-p", "no:cacheprovider", "--color=yes"]
        command += ["--tasks", "tau2-airline", "--agent-model", WIKI_AGENT_MODEL, "--user-model", USER_MODEL]
        command += ["--base-url", server.base_url, "--no-llm-cache", "--min-pass-rate", "60%"]
        command += ["--scores-out", str(folder / "taugepa-scores.json")]
        command += ["--html", str(folder / "pytest-html.html"), "--self-contained-html"]
        env = {**os.environ, "OPENAI_API_KEY": "scripted-server-takes-any-key", "COLUMNS": str(COLUMNS)}
        env.pop("CI", None)  # pytest would not shorten the summary lines to the terminal's width
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 1:
        raise SystemExit(f"expected the gate to fail (exit 1), got {done.returncode}:\n{done.stdout[-3000:]}")
    return done.stdout


def terminal_page(text: str, title: str) -> str:
    """Terminal output (with ANSI colours) as a dark, monospaced HTML page."""
    out, open_spans = [], 0
    position = 0
    for match in ANSI.finditer(text):
        out.append(html.escape(text[position : match.start()]))
        position = match.end()
        codes = [code for code in match.group(1).split(";") if code]
        if not codes or "0" in codes:
            out.append("</span>" * open_spans)
            open_spans = 0
        styles = [f"color:{COLOURS[code]}" for code in codes if code in COLOURS]
        styles += ["font-weight:bold" for code in codes if code == "1"]
        if styles:
            out.append(f'<span style="{";".join(styles)}">')
            open_spans += 1
    out.append(html.escape(text[position:]) + "</span>" * open_spans)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
        "body{margin:0;background:#1e1e1e}"
        "pre{margin:0;padding:14px 16px;color:#d4d4d4;font:13px/1.35 'DejaVu Sans Mono',monospace;"
        f"white-space:pre-wrap;word-break:break-all;width:{COLUMNS + 2}ch}}</style></head><body><pre>"
        + "".join(out)
        + "</pre></body></html>"
    )


def browser():
    from selenium import webdriver

    os.environ["SE_OFFLINE"] = "true"  # never download a driver
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService("/usr/bin/chromedriver"))


def shrink(path: Path) -> None:
    """A palette PNG: a third of the size, the text as sharp (screenshots have few colours)."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="taugepa-shots-") as folder:
        work = Path(folder)
        output = gated_run(work)
        tail = "\n".join(output.rstrip("\n").splitlines()[-TERMINAL_LINES:])
        page = work / "terminal.html"
        page.write_text(terminal_page(tail, "end of a failing gated run"))
        driver = browser()
        try:
            driver.get(page.as_uri())
            width, height = driver.execute_script(
                "var pre = document.querySelector('pre'); return [pre.scrollWidth, pre.scrollHeight];"
            )
            driver.set_window_size(width + 40, height + 140)  # the window's frame is not all viewport
            driver.save_screenshot(str(out / "terminal-failing-gate.png"))
            driver.set_window_size(1280, 1100)
            driver.get((work / "pytest-html.html").as_uri())
            driver.execute_script(
                "var failed = document.querySelector('tbody.failed .col-result');"
                "if (failed && failed.classList.contains('collapsed')) failed.click();"
            )
            driver.save_screenshot(str(out / "pytest-html.png"))
        finally:
            driver.quit()
    for name in ("terminal-failing-gate.png", "pytest-html.png"):
        shrink(out / name)
        print(f"{out / name} ({(out / name).stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
