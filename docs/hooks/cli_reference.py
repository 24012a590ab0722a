"""MkDocs hook: the CLI reference page is rendered from the parsers at build time.

The options live in code (`taugepa.cli.build_parser()` and the pytest plugin); writing them a
second time in a page would drift. So the page holds a marker, and this hook puts in its
place the `--help` of every `taugepa` subcommand and the plugin's group of `pytest --help`
with its ini lines. Nothing here names an option: a new one shows up by itself. When a part
cannot be rendered the hook raises, so `mkdocs build` fails instead of shipping a gap.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points

from mkdocs.exceptions import PluginError

MARKER = "<!-- cli-reference -->"
HELP_WIDTH = "100"  # columns of the rendered help: the same page on every machine
DISTRIBUTION = "taugepa"
_PYTEST_GROUP_TITLE = re.compile(r"^(taugepa[^\n]*):$", re.MULTILINE)
# "[pytest] ini-options in ..." before pytest 9, "[pytest] configuration options in ..." since
_INI_SECTION = re.compile(r"^\[pytest\] [^\n]*$", re.MULTILINE)
_INI_PREFIX = "taugepa_"


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render_reference())


def render_reference() -> str:
    parser = _taugepa_parser()
    parts = [_section("taugepa", None, _help_text(parser))]
    for name, summary, subparser in subcommands(parser):
        parts.append(_section(f"taugepa {name}", summary, _help_text(subparser)))
    options, ini_lines = pytest_plugin_help()
    parts.append(
        "## pytest options\n\n"
        "The options taugepa's pytest plugin adds to `pytest --help` (every project of the venv "
        "has them; `pytest benchmarks --help` shows the same):\n\n" + _fenced(options)
    )
    parts.append(
        "### ini options\n\n"
        "The same options under their ini names, for `pytest.ini` or `[tool.pytest.ini_options]` "
        "(paths relative to the ini file; the command line wins):\n\n" + _fenced(ini_lines)
    )
    return "\n\n".join(parts) + "\n"


def subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line summary, parser) of every subcommand, in the order `taugepa --help` lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            # argparse %-formats help: "95%%" is how a help string says "95%"
            summaries = {c.dest: (c.help or "").replace("%%", "%") for c in action._choices_actions}
            for name, subparser in action.choices.items():
                yield name, summaries.get(name, ""), subparser


def pytest_plugin_help() -> tuple[str, str]:
    """The plugin's option group and its ini lines, cut out of `pytest --help`.

    pytest runs in a subprocess from an empty folder with only taugepa's plugin loaded (no
    project's ini file, no other plugin's options, no user's PYTEST_ADDOPTS).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PYTEST_"))}
    env.update(COLUMNS=HELP_WIDTH, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", NO_COLOR="1")
    command = [sys.executable, "-m", "pytest", "-p", _plugin_module(), "-p", "no:cacheprovider", "--help"]
    with tempfile.TemporaryDirectory() as empty:
        run = subprocess.run(command, cwd=empty, env=env, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        detail = run.stderr.strip()[-2000:]
        raise PluginError(f"cli_reference: `pytest --help` failed ({run.returncode}): {detail}")
    return option_group(run.stdout), ini_lines(run.stdout)


def option_group(help_text: str) -> str:
    """The group whose title starts with "taugepa", from its title to the blank line that ends it."""
    match = _PYTEST_GROUP_TITLE.search(help_text)
    if match is None:
        raise PluginError("cli_reference: `pytest --help` has no option group titled 'taugepa ...:'")
    block = help_text[match.start() :].split("\n\n", 1)[0]
    if "\n  -" not in block:
        raise PluginError(f"cli_reference: the pytest group {match.group(1)!r} lists no option")
    return block


def ini_lines(help_text: str) -> str:
    """The `taugepa_*` entries of pytest's ini section, each with its wrapped help lines."""
    heading = _INI_SECTION.search(help_text)
    if heading is None:
        raise PluginError("cli_reference: `pytest --help` has no '[pytest] ...' section of ini options")
    section = help_text[heading.end() :].lstrip("\n").split("\n\n", 1)[0].splitlines()
    kept: list[str] = []
    keeping = False
    for line in section:
        if re.match(r"^  \S", line):  # an entry starts; wrapped help is indented further
            keeping = line.strip().startswith(_INI_PREFIX)
        if keeping:
            kept.append(line)
    if not kept:
        raise PluginError(f"cli_reference: `pytest --help` lists no {_INI_PREFIX}* ini option")
    return "\n".join(kept)


def _plugin_module() -> str:
    """The module taugepa registers as its pytest plugin (its `pytest11` entry point)."""
    for entry in entry_points(group="pytest11"):
        if entry.dist is not None and entry.dist.name == DISTRIBUTION:
            return entry.value
    raise PluginError(f"cli_reference: {DISTRIBUTION} has no pytest11 entry point: pip install -e . first")


def _taugepa_parser() -> argparse.ArgumentParser:
    try:
        from taugepa.cli import build_parser
    except ImportError as exc:
        raise PluginError(f"cli_reference: cannot import taugepa.cli ({exc}): pip install -e .") from exc
    return build_parser()


def _help_text(parser: argparse.ArgumentParser) -> str:
    with _columns(HELP_WIDTH):
        return parser.format_help().rstrip()


@contextmanager
def _columns(width: str) -> Iterator[None]:
    """argparse wraps help at $COLUMNS (through shutil.get_terminal_size)."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = width
    try:
        yield
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def _section(title: str, summary: str | None, help_text: str) -> str:
    lead = f"{summary[0].upper()}{summary[1:]}.\n\n" if summary else ""
    return f"## {title}\n\n{lead}{_fenced(help_text)}"


def _fenced(text: str) -> str:
    return f"```text\n{text}\n```"
