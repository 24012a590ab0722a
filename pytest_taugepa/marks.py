"""The pytest marks of a case: its group and its gold actions, never a mark pytest acts on.

Every case is marked with its task's group (the difficulty, else the set name) so that
`-m easy` selects it. A group comes from a task file, though, and a mark named `skip`,
`skipif`, `xfail` or `usefixtures` is not a label: pytest would skip every case (exit 0, no
scores file, `--min-pass-rate` bypassed), turn failures into xfails, or break collection.
So a group whose name is pytest's own mark, any mark already registered (by pytest or a
plugin), one of taugepa's gold-action marks, a word of `-m`'s grammar, or anything but a
plain identifier gets the namespaced mark `taugepa_group_<name>` instead, and the run says so.
"""

from __future__ import annotations

import re

import pytest

BUILTIN_MARKS = frozenset(
    {
        "skip",
        "skipif",
        "xfail",
        "parametrize",
        "usefixtures",
        "filterwarnings",
        "tryfirst",
        "trylast",
        "hookwrapper",
        "optionalhook",
        "timeout",
        "flaky",
        "asyncio",
        "anyio",
        "trio",
        "django_db",
        "order",
        "dependency",
        "forked",
        "xdist_group",
        "no_cover",
        "hypothesis",
    }
)
EXPRESSION_WORDS = frozenset({"and", "or", "not", "True", "False", "None"})
PREFIX = "taugepa_group_"
_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def registered_marks(config: pytest.Config) -> set[str]:
    """Names of the marks registered so far (`markers` ini lines: `name(args): help`)."""
    names = set()
    for line in config.getini("markers"):
        names.add(re.split(r"[:(]", line, maxsplit=1)[0].strip())
    return names


def group_mark_names(groups: set[str], reserved: set[str]) -> dict[str, str]:
    """The mark of each group: the group itself when safe, else `taugepa_group_<name>`."""
    unsafe = BUILTIN_MARKS | EXPRESSION_WORDS | reserved
    names = {}
    for group in sorted(groups):
        if _PLAIN.match(group) and group not in unsafe and not group.startswith(PREFIX):
            names[group] = group
        else:
            names[group] = PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", group)
    return names


def renamed_notice(names: dict[str, str]) -> str | None:
    renamed = {group: mark for group, mark in names.items() if group != mark}
    if not renamed:
        return None
    shown = ", ".join(f"{group!r} as -m {mark}" for group, mark in renamed.items())
    return (
        f"task groups that would be pytest marks with a meaning (or are not plain names) are marked "
        f"apart: select {shown}"
    )
