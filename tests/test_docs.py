"""The docs site builds with warnings as errors, and what it generates follows the code.

The site is built once per test process with `mkdocs build --strict`, as CI builds it. The CLI
reference is checked against the parsers as they are now (`taugepa.cli.build_parser()`, and
the options the pytest plugin adds, found by running `pytest --help` with and without it),
so a broken generator fails here rather than shipping a page that lags the code.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import yaml

from taugepa.cli import build_parser
from taugepa.commands import COMMANDS

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)]
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    return out


def page_text(site: Path, page: str) -> str:
    return html.unescape((site / page / "index.html").read_text(encoding="utf-8"))


def section(text: str, anchor: str) -> str:
    """The HTML from the heading with this id to the next heading of level 2."""
    match = re.search(rf'<h2 id="{re.escape(anchor)}">', text)
    assert match, f"no section #{anchor} in the page"
    following = text.find("<h2 ", match.end())
    return text[match.end() : following if following >= 0 else len(text)]


def taugepa_subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_page_is_in_the_nav_and_every_nav_entry_is_a_page():
    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]

    def files(entry) -> list[str]:
        if isinstance(entry, str):
            return [entry]
        values = entry.values() if isinstance(entry, dict) else entry
        return [name for value in values for name in files(value)]

    pages = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    listed = files(nav)
    assert len(listed) == len(set(listed)), "a page is listed twice in the nav"
    assert set(listed) == pages


def test_the_cli_reference_has_every_subcommand_with_every_flag(site):
    text = page_text(site, "cli-reference")
    commands = taugepa_subcommands()
    assert set(commands) == {name.replace("_", "-") for name in COMMANDS}
    assert "%%" not in text  # argparse's escaped percent sign, unexpanded
    for name, parser in commands.items():
        body = section(text, f"taugepa-{name}")
        assert f"usage: taugepa {name}" in body
        flags = [flag for action in parser._actions for flag in action.option_strings]
        assert flags, name
        missing = [flag for flag in flags if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", body)]
        assert not missing, f"taugepa {name}: {missing} not on the page"


def _pytest_help(*plugin: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PYTEST_"))}
    env.update(PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", COLUMNS="100")
    command = [sys.executable, "-m", "pytest", *plugin, "-p", "no:cacheprovider", "--help"]
    run = subprocess.run(command, cwd=DOCS, env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def test_the_cli_reference_has_every_pytest_option_and_ini_name_of_the_plugin(site):
    (plugin,) = [e.value for e in entry_points(group="pytest11") if e.dist and e.dist.name == "taugepa"]
    with_plugin, without = _pytest_help("-p", plugin), _pytest_help()

    def flags(text: str) -> set[str]:
        return set(re.findall(r"^  (--[\w-]+)", text, re.MULTILINE))

    def ini_names(text: str) -> set[str]:
        return set(re.findall(r"^  ([a-z][a-z0-9_]*) \(", text, re.MULTILINE))

    plugin_flags = flags(with_plugin) - flags(without)
    plugin_ini = ini_names(with_plugin) - ini_names(without)
    assert plugin_flags and plugin_ini
    body = re.sub(r"<code[^>]*>", "\n", section(page_text(site, "cli-reference"), "pytest-options"))
    assert sorted(flag for flag in plugin_flags if not re.search(rf"^  {flag}\b", body, re.MULTILINE)) == []
    assert sorted(name for name in plugin_ini if not re.search(rf"^  {name} \(", body, re.MULTILINE)) == []


def test_getting_started_shows_the_readme_commands_ci_runs(site):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    text = page_text(site, "getting-started")
    for marker in ("main-command", "test-command", "pip-command"):
        command = re.search(rf"^<!-- {marker} -->\n```\w*\n(.+)\n```$", readme, re.MULTILINE).group(1)
        assert command in text


def test_every_image_of_the_site_resolves(site):
    pages = list(site.rglob("*.html"))
    images = 0
    for page in pages:
        for src in re.findall(r'<img[^>]* src="([^"]+)"', page.read_text(encoding="utf-8")):
            assert (page.parent / src).resolve().is_file(), f"{page.relative_to(site)}: {src}"
            images += 1
    assert images >= 2  # the screenshots in docs/screenshots
