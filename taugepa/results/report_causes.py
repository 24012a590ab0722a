"""The report's failure causes: a run's failed episodes grouped by cause, two examples each.

The causes come from the scores file (`failure` of each failed episode, see
`taugepa.results.failure_analysis`); this module only groups and renders them, as an HTML
section of `taugepa report` and as the lines the command prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from taugepa.protocol import FAILED
from taugepa.results.failure_analysis import CAUSES, USER_SIMULATOR, cause_label

EXAMPLES_PER_CAUSE = 2


@dataclass
class CauseGroup:
    cause: str
    blame: str
    episodes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def examples(self) -> list[dict[str, Any]]:
        return self.episodes[:EXAMPLES_PER_CAUSE]


def cause_groups(episodes: Sequence[dict[str, Any]]) -> list[CauseGroup]:
    """Failed episodes by cause, the largest group first (then in the taxonomy's order)."""
    groups: dict[str, CauseGroup] = {}
    for entry in episodes:
        failure = entry.get("failure")
        if entry.get("outcome") != FAILED or not failure:
            continue
        group = groups.setdefault(failure["cause"], CauseGroup(failure["cause"], failure["blame"]))
        group.episodes.append(entry)
    order = list(CAUSES)
    return sorted(
        groups.values(),
        key=lambda g: (-len(g.episodes), order.index(g.cause) if g.cause in order else len(order)),
    )


def _case(entry: dict[str, Any]) -> str:
    return f"{entry['task_id']}#{entry['trial']}"


def cause_lines(label: str, episodes: Sequence[dict[str, Any]]) -> list[str]:
    """The causes of one run as text: one line per cause, then its examples."""
    groups = cause_groups(episodes)
    if not groups:
        return []
    lines = [f"failure causes of {label}:"]
    for group in groups:
        blame = "user simulator" if group.blame == USER_SIMULATOR else group.blame
        lines.append(f"  {cause_label(group.cause)} ({blame}): {len(group.episodes)}")
        for entry in group.examples:
            lines.append(f"    - {_case(entry)}: {entry['failure'].get('detail', '')}")
    return lines


def causes_section(episodes: Sequence[dict[str, Any]], table_id: str) -> str:
    """An HTML table of the causes with two example cases each (their transcripts are in the
    run's task table, `table_id`)."""
    groups = cause_groups(episodes)
    if not groups:
        return '<p class="tg-muted">no failed episode carries a cause</p>'
    rows = []
    for group in groups:
        examples = "".join(
            f'<li><span class="tg-id" data-table="{escape(table_id)}">{escape(_case(entry))}</span>: '
            f"{escape(entry['failure'].get('detail', ''))}</li>"
            for entry in group.examples
        )
        blame = "user simulator" if group.blame == USER_SIMULATOR else group.blame
        rows.append(
            f'<tr data-cause="{escape(group.cause)}"><td>{escape(cause_label(group.cause))}</td>'
            f'<td>{escape(blame)}</td><td class="tg-num">{len(group.episodes)}</td>'
            f"<td><ul>{examples}</ul></td></tr>"
        )
    return (
        '<table class="tg tg-causes"><thead><tr><th>cause</th><th>blame</th><th>episodes</th>'
        f"<th>examples</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
