"""Text that can always be stored: no lone surrogates, no NUL characters.

Text reaches taugepa from task files, wikis, recorded runs and models. JSON lets any of
them carry a lone surrogate (`"\\ud800"`), which Python decodes happily but can never encode
as UTF-8: the first writer to meet one (the scores file, a cache, a report) would fail after
every episode has run and been paid for. NUL characters are refused by XML (JUnit reports)
and cut C strings short. So such characters are replaced by U+FFFD once, where the text
enters (see `taugepa.guards.safe_json`, which every loader and the LLM client read through), and
every writer can rely on clean text.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
_UNSAFE = re.compile("[\ud800-\udfff\x00]")


def safe_text(text: str) -> str:
    """`text` with lone surrogates and NUL characters replaced by U+FFFD (usually `text` itself)."""
    if text.isascii():
        return text.replace("\x00", REPLACEMENT) if "\x00" in text else text
    return _UNSAFE.sub(REPLACEMENT, text)


def is_safe_text(text: str) -> bool:
    if text.isascii():
        return "\x00" not in text
    return _UNSAFE.search(text) is None


class TooDeep(ValueError):
    """A value nests deeper than the `max_depth` given to `safe_data`."""


def safe_data(value: Any, max_depth: int | None = None, strings_known_safe: bool = False) -> Any:
    """A JSON-like value (dicts, lists, strings, numbers) with every string and key made safe.

    Works in place on lists and dicts where it can and returns the value; iterative, so a
    deeply nested value cannot exhaust the stack. With `max_depth` it raises TooDeep past
    that depth; `strings_known_safe` (the text it came from had nothing unsafe) only checks it.
    """
    if isinstance(value, str):
        return value if strings_known_safe else safe_text(value)
    if not isinstance(value, dict | list):
        return value
    sanitize = not strings_known_safe
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if max_depth is not None and depth > max_depth:
            raise TooDeep(max_depth)
        if isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    if sanitize and not is_safe_text(item):
                        node[index] = safe_text(item)
                elif isinstance(item, dict | list):
                    stack.append((item, depth + 1))
            continue
        if sanitize:
            for key in [k for k in node if isinstance(k, str) and not is_safe_text(k)]:
                node[safe_text(key)] = node.pop(key)
        for key, item in node.items():
            if isinstance(item, str):
                if sanitize and not is_safe_text(item):
                    node[key] = safe_text(item)
            elif isinstance(item, dict | list):
                stack.append((item, depth + 1))
    return value
