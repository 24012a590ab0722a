"""MkDocs hook: a page shows the README's marked set-up commands, copied at build time.

The README's fenced blocks after `<!-- main-command -->` and the like are what `.ci/run`
runs, so they are the commands that are known to work. A page writes
`<!-- readme: main-command -->` and gets that block, so the command is written once.
A marker whose block the README lacks fails the build.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.exceptions import PluginError

_PAGE_MARKER = re.compile(r"^<!-- readme: ([a-z0-9-]+) -->$", re.MULTILINE)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if not _PAGE_MARKER.search(markdown):
        return markdown
    readme = (Path(config["config_file_path"]).parent / "README.md").read_text(encoding="utf-8")
    return _PAGE_MARKER.sub(lambda match: readme_block(readme, match.group(1)), markdown)


def readme_block(readme: str, name: str) -> str:
    """The fenced block right after the line `<!-- NAME -->` (as `.ci/run` reads it)."""
    block = rf"^<!-- {re.escape(name)} -->\n(```[^\n]*\n.*?\n```)$"
    match = re.search(block, readme, re.MULTILINE | re.DOTALL)
    if match is None:
        raise PluginError(f"readme_commands: README.md has no fenced block after <!-- {name} -->")
    return match.group(1)
