"""HTML views of an episode (transcript, expected vs taken actions) for reports.

Everything that came from a model, a user or a task file is escaped: a transcript can
contain any text, including markup.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from taugepa.llm.answer_ends import END_LABELS, MODEL_ENDS
from taugepa.results.failure_analysis import failure_line

TRANSCRIPT_CSS = """
.tg-episode{font-family:system-ui,sans-serif;font-size:13px}
.tg-msg{margin:4px 0;padding:4px 8px;border-left:3px solid #999;white-space:pre-wrap}
.tg-system{border-color:#888;color:#555}
.tg-user{border-color:#2b7bb9}
.tg-assistant{border-color:#2a9d4b}
.tg-tool{border-color:#b58900;font-family:monospace;font-size:12px}
.tg-error{color:#b00020}
.tg-role{font-weight:bold;margin-right:6px}
.tg-actions{border-collapse:collapse;margin:6px 0}
.tg-actions td,.tg-actions th{border:1px solid #ccc;padding:2px 6px;vertical-align:top;
  font-family:monospace;font-size:12px;white-space:pre-wrap}
.tg-metrics{color:#444;margin:4px 0}
.tg-violations{margin:4px 0;padding-left:18px}
.tg-violations li{margin:2px 0}
.tg-sev-definite{color:#b00020;font-weight:bold}.tg-sev-possible{color:#b26a00}.tg-sev-defect{color:#555}
.tg-policy{display:block;color:#555;font-style:italic;margin-left:8px}
"""


def render_messages(messages: list[dict[str, Any]], max_system_chars: int = 400) -> str:
    """The conversation as escaped HTML, one block per message."""
    blocks = []
    for message in messages:
        role = str(message.get("role", "?"))
        content = message.get("content")
        text = "" if content is None else str(content)
        if role == "system" and len(text) > max_system_chars:
            text = text[:max_system_chars] + f"… ({len(text)} characters of policy)"
        parts = [f'<span class="tg-role">{escape(role)}</span>{escape(text)}']
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            parts.append(
                f"<div>→ {escape(str(function.get('name')))}({escape(str(function.get('arguments')))})</div>"
            )
        if message.get("refusal"):
            parts.append(f'<div class="tg-error">refused: {escape(str(message["refusal"]))}</div>')
        finish = message.get("finish_reason")
        if finish in ("length", "content_filter"):  # the usual endings (stop, tool_calls) go unsaid
            parts.append(f'<div class="tg-error">finish_reason: {escape(str(finish))}</div>')
        css = f"tg-msg tg-{escape(role)}"
        if role == "tool" and text.startswith("Error:"):
            css += " tg-error"
        blocks.append(f'<div class="{css}">{"".join(parts)}</div>')
    return "\n".join(blocks)


def render_actions(expected: list[dict[str, Any]], taken: list[dict[str, Any]]) -> str:
    """Expected (gold) and taken actions side by side, as an escaped HTML table."""
    rows = []
    for index in range(max(len(expected), len(taken))):
        want = _action_text(expected[index]) if index < len(expected) else ""
        got = _action_text(taken[index]) if index < len(taken) else ""
        rows.append(f"<tr><td>{index + 1}</td><td>{escape(want)}</td><td>{escape(got)}</td></tr>")
    return (
        '<table class="tg-actions"><tr><th>#</th><th>expected (gold)</th><th>taken by the agent</th></tr>'
        + "".join(rows)
        + "</table>"
    )


def render_episode(entry: dict[str, Any]) -> str:
    """Feedback, actions and transcript of one scores-file episode entry, with its styles."""
    return f"<style>{TRANSCRIPT_CSS}</style>{render_episode_body(entry)}"


def render_episode_body(entry: dict[str, Any]) -> str:
    """The episode without styles, for pages that include TRANSCRIPT_CSS once."""
    taken = [
        {"name": c["name"], "kwargs": c["arguments"], "is_error": c["is_error"]}
        for c in entry.get("tool_calls", [])
        if c.get("executed", True)
    ]
    return (
        '<div class="tg-episode">'
        f"<p><b>{escape(entry['task_id'])}</b> (trial {int(entry['trial'])}): "
        f"{escape(entry['outcome'])}{_ending(entry.get('termination'))}</p>"
        f"{render_audit(entry.get('audit'))}"
        f"{render_failure(entry.get('failure'))}"
        f"{render_efficiency(entry.get('efficiency'), entry.get('duration_s'))}"
        f"{render_compliance(entry.get('compliance'))}"
        f'<pre class="tg-msg">{escape(entry.get("feedback", ""))}</pre>'
        f"{render_actions(entry.get('expected_actions', []), taken)}"
        f"{render_messages(entry.get('messages', []))}"
        "</div>"
    )


def _ending(termination: Any) -> str:
    """How the episode ended, when a model's limit ended it (context overflow, cut, filter, refusal)."""
    if termination not in MODEL_ENDS:
        return ""
    return f' <span class="tg-error">(ended by {escape(END_LABELS[termination])})</span>'


def render_failure(failure: dict[str, Any] | None) -> str:
    """The failure's cause and whom it blames (`taugepa.results.failure_analysis`)."""
    if not failure:
        return ""
    return f'<p class="tg-cause"><b>Failure {escape(failure_line(failure))}</b></p>'


def render_audit(audit: dict[str, Any] | None) -> str:
    """The task's audit in one line: status, free pass, flagged rules."""
    if not audit:
        return ""
    text = f"task audit: {audit['status']}"
    if audit.get("free_pass"):
        text += " · free pass (doing nothing passes)"
    if audit.get("flags"):
        text += " · " + ", ".join(audit["flags"])
    return f'<p class="tg-audit">{escape(text)}</p>'


def render_efficiency(efficiency: dict[str, Any] | None, duration_s: float | None = None) -> str:
    """The episode's steps in one line: turns, tool calls, tokens, wall time."""
    if not efficiency:
        return ""
    parts = [
        f"{efficiency['agent_turns']} agent turns",
        f"{efficiency['user_turns']} user turns",
        f"{efficiency['tool_calls']} tool calls "
        f"({efficiency['tool_errors']} failed, {efficiency['writes']} writes)",
    ]
    if efficiency.get("tokens"):
        parts.append(f"{efficiency['tokens']['total']:,} tokens")
    if duration_s is not None:
        parts.append(f"{duration_s:.3f} s")
    return f'<p class="tg-metrics">{escape(" · ".join(parts))}</p>'


def render_compliance(compliance: dict[str, Any] | None) -> str:
    """The agent's policy violations, each with its turn, message and policy sentence."""
    if not compliance:
        return ""
    scope = "action and conversation rules" if compliance.get("conversation_rules") else "action rules"
    violations = compliance.get("violations") or []
    if not violations:
        return f'<p class="tg-metrics">policy ({escape(scope)}): no violation</p>'
    items = []
    for v in violations:
        where = f"turn {v['turn']}" + (f", {v['action']}" if v.get("action") else "")
        quote = ""
        if v.get("policy"):
            missing = "" if v.get("policy_found") else " (not in this policy)"
            quote = f'<span class="tg-policy">“{escape(v["policy"])}”{escape(missing)}</span>'
        items.append(
            f'<li><span class="tg-sev-{escape(v["severity"])}">[{escape(v["severity"])}]</span> '
            f"<b>{escape(v['rule'])}</b> ({escape(where)}): {escape(v['message'])}{quote}</li>"
        )
    verdict = "compliant (nothing definite)" if compliance.get("compliant") else "broke the policy"
    return (
        f'<p class="tg-metrics">policy ({escape(scope)}): {escape(verdict)}</p>'
        f'<ul class="tg-violations">{"".join(items)}</ul>'
    )


def _action_text(action: dict[str, Any]) -> str:
    text = f"{action['name']}({json.dumps(action.get('kwargs'), ensure_ascii=False, default=str)})"
    if action.get("is_error"):
        text += "  [error]"
    return text
