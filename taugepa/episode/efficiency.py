"""Steps to completion: how much an episode took, and medians and means over a run.

Per episode (`episode_efficiency`, stored as the episode's `efficiency`): the agent's turns
(assistant messages), the user's turns (user messages, the opening one and the closing
`###STOP###` included), tool calls in all and by name, failed tool calls, successful writes,
and the tokens of the agent's and the user's model calls (cached answers included, failed
requests not: the tokens the conversation took, whatever it cost). Wall time is the
episode's `duration_s`.

Per run (`run_efficiency`, the summary's `efficiency`): median and mean of each figure over
the scored (passed or failed) episodes, and over the passed ones only, overall and by group
(difficulty or set). Invalid tasks never ran and infrastructure errors stopped half-way, so
neither counts. Wall time differs between identical runs, so its statistics
(`run_wall_time`) go to the scores file's `timing` section, keeping the summary identical
between a serial and an `-n N` run.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from taugepa.protocol import FAILED, PASSED, Message
from taugepa.world.engine import write_tool_names

# The figures summarized per run, in display order: (name, label).
METRICS: tuple[tuple[str, str], ...] = (
    ("agent_turns", "agent turns"),
    ("user_turns", "user turns"),
    ("tool_calls", "tool calls"),
    ("tool_errors", "tool errors"),
    ("writes", "writes"),
    ("tokens_agent", "agent tokens"),
    ("tokens_user", "user tokens"),
    ("tokens_total", "tokens"),
)
WALL = ("wall_s", "wall time (s)")


def episode_efficiency(
    messages: Sequence[Message], tool_calls: Sequence[dict[str, Any]], usage: dict[str, Any], steps: int
) -> dict[str, Any]:
    """The episode's `efficiency` entry, from its transcript, tool-call records and LLM usage."""
    writes = write_tool_names()
    by_name = Counter(str(call["name"]) for call in tool_calls)
    return {
        "agent_turns": steps,
        "user_turns": sum(1 for m in messages if m.get("role") == "user"),
        "tool_calls": len(tool_calls),
        "tool_calls_by_name": dict(sorted(by_name.items())),
        "tool_errors": sum(1 for call in tool_calls if call["is_error"]),
        "writes": sum(
            1 for call in tool_calls if call["executed"] and not call["is_error"] and call["name"] in writes
        ),
        "tokens": episode_tokens(usage),
    }


def episode_tokens(usage: dict[str, Any] | None) -> dict[str, int] | None:
    """Tokens per side and in total over the episode's model calls; None without LLM calls."""
    calls = (usage or {}).get("calls")
    if calls is None:
        return None
    tokens = {"agent": 0, "user": 0}
    for call in calls:
        if not call.get("failed"):
            side = call["side"] if call["side"] in tokens else "agent"
            tokens[side] += int(call["prompt_tokens"]) + int(call["completion_tokens"])
    return {**tokens, "total": tokens["agent"] + tokens["user"]}


def figures(entry: dict[str, Any]) -> dict[str, float]:
    """The summarized figures of one scores-file entry (tokens only when the episode had LLM calls)."""
    efficiency = entry.get("efficiency") or {}
    values = {name: float(efficiency[name]) for name, _ in METRICS[:5] if name in efficiency}
    tokens = efficiency.get("tokens")
    if tokens:
        values.update(
            tokens_agent=float(tokens["agent"]),
            tokens_user=float(tokens["user"]),
            tokens_total=float(tokens["total"]),
        )
    return values


def _stats(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": round(statistics.median(values), 6), "mean": round(statistics.fmean(values), 6)}


def _block(
    entries: Sequence[dict[str, Any]], extract: Callable[[dict[str, Any]], dict[str, float]]
) -> dict[str, Any]:
    values: dict[str, list[float]] = defaultdict(list)
    for entry in entries:
        for name, value in extract(entry).items():
            values[name].append(value)
    return {"episodes": len(entries), **{name: _stats(values[name]) for name in sorted(values)}}


def _scored(episodes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in episodes if e["outcome"] in (PASSED, FAILED) and "efficiency" in e]


def _overall_passed_by_group(
    episodes: Sequence[dict[str, Any]], extract: Callable[[dict[str, Any]], dict[str, float]]
) -> dict[str, Any] | None:
    scored = _scored(episodes)
    if not scored:
        return None
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in scored:
        groups[entry["group"]].append(entry)

    def both(entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return {
            "all": _block(entries, extract),
            "passed": _block([e for e in entries if e["outcome"] == PASSED], extract),
        }

    return {**both(scored), "by_group": {name: both(group) for name, group in sorted(groups.items())}}


def run_efficiency(episodes: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The summary's `efficiency`: median and mean per figure, all scored and passed, by group.

    Also the mean number of calls per episode for each tool. None when no scored episode
    carries efficiency figures (an older scores file).
    """
    block = _overall_passed_by_group(episodes, figures)
    if block is None:
        return None
    scored = _scored(episodes)
    calls: Counter[str] = Counter()
    for entry in scored:
        calls.update(entry["efficiency"].get("tool_calls_by_name") or {})
    block["tool_calls_per_episode"] = {
        name: round(count / len(scored), 6) for name, count in sorted(calls.items())
    }
    return block


def run_wall_time(episodes: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Median and mean episode wall time (s), all scored and passed, by group: for `timing`."""
    return _overall_passed_by_group(episodes, lambda e: {"wall_s": float(e.get("duration_s") or 0.0)})


# ---------------------------------------------------------------------------------------------
# Terminal


def format_figure(value: float, name: str = "") -> str:
    """A figure for people: wall time in seconds to the millisecond, counts to 3 digits."""
    if name == WALL[0]:
        return f"{value:.3f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _cell(stats: dict[str, float] | None, name: str = "") -> str:
    return (
        "-" if not stats else f"{format_figure(stats['median'], name)} / {format_figure(stats['mean'], name)}"
    )


def efficiency_lines(summary: dict[str, Any], timing: dict[str, Any] | None = None) -> list[str]:
    """Terminal lines: median / mean of each figure over all scored and passed episodes, by group."""
    block = summary.get("efficiency")
    if not block:
        return []
    wall = (timing or {}).get("episode_wall_s")
    rows = [
        (label, _cell(block["all"].get(name)), _cell(block["passed"].get(name))) for name, label in METRICS
    ]
    rows = [row for row in rows if row[1] != "-"]
    if wall:
        rows.append(
            (WALL[1], _cell(wall["all"].get(WALL[0]), WALL[0]), _cell(wall["passed"].get(WALL[0]), WALL[0]))
        )
    head = (
        "efficiency per episode, median / mean",
        f"all scored ({block['all']['episodes']})",
        f"passed ({block['passed']['episodes']})",
    )
    width = max(len(label) for label, _, _ in rows) + 2
    first = max(len(head[1]), *(len(row[1]) for row in rows))
    second = max(len(head[2]), *(len(row[2]) for row in rows))
    lines = [f"{head[0]}:", f"  {'':<{width}}{head[1]:>{first}}   {head[2]:>{second}}"]
    lines += [f"  {label:<{width}}{every:>{first}}   {passed:>{second}}" for label, every, passed in rows]
    if len(block["by_group"]) > 1:
        lines.append("  by group (agent turns · tool calls, median / mean; all scored | passed):")
        group_width = max(len(name) for name in block["by_group"])
        for name, tallies in block["by_group"].items():
            every, passed = tallies["all"], tallies["passed"]
            both = [
                f"{_cell(part.get('agent_turns'))} · {_cell(part.get('tool_calls'))}"
                for part in (every, passed)
            ]
            lines.append(f"    {name:<{group_width}}  {both[0]} | {both[1]}")
    return lines
