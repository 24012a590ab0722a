"""Human summaries of a task audit: terminal lines and a Markdown file.

Counts per status, per group (difficulty) and per rule and severity, a few examples per
rule, and the rules themselves with the policy sentences they come from.
"""

from __future__ import annotations

from typing import Any

from taugepa.rules.audit import STATUSES, AuditReport
from taugepa.rules.catalog import rules_table
from taugepa.rules.registry import RULES, SEVERITIES, policy_sentences
from taugepa.world.policy import Policy

STATUS_LABELS = {
    "clean": "clean",
    "doubtful": "doubtful (possible/defect)",
    "violates": "violates (definite)",
    "invalid": "invalid (gold fails)",
}


def _fmt_table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for number, row in enumerate(cells):
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=False)]
        lines.append("  " + "  ".join(parts))
        if number == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return lines


def _group_rows(summary: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for name, counts in summary["by_group"].items():
        rows.append([name, counts["tasks"], *(counts[s] for s in STATUSES), counts["free_pass"]])
    return rows


def _rule_rows(summary: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for rule, entry in summary["by_rule"].items():
        tasks = entry["tasks"]
        rows.append([rule, *(tasks.get(s, 0) or "." for s in SEVERITIES)])
    return rows


def terminal_lines(report: AuditReport, examples: int = 1, where: str | None = None) -> list[str]:
    """The audit summary for a terminal."""
    summary = report.summary(examples=max(examples, 1))
    policy = report.policy
    status = summary["status"]
    lines = [
        f"taugepa audit: {summary['tasks']} tasks against {policy.get('label', policy.get('path'))} "
        f"(sha256 {str(policy.get('sha256', ''))[:12]}), rules v{report.rules_version}",
        "status: "
        + " · ".join(f"{status[s]} {STATUS_LABELS[s]}" for s in STATUSES)
        + f" · {summary['free_pass']} free passes (an agent that does nothing passes)",
        "by group:",
        *_fmt_table(["group", "tasks", *STATUSES, "free-pass"], _group_rows(summary)),
        "tasks with a finding, by rule and severity:",
        *_fmt_table(["rule", *SEVERITIES], _rule_rows(summary)),
    ]
    if examples:
        lines.append("examples:")
        for rule, entry in summary["by_rule"].items():
            for example in entry["examples"][:examples]:
                lines.append(f"  {rule} [{example['severity']}] {example['task_id']}: {example['message']}")
    if where:
        lines.append(f"audit file: {where}")
    return lines


def markdown(report: AuditReport, policy: Policy | None = None, examples: int = 3) -> str:
    """The audit summary as Markdown, with the rule list and the policy sentences."""
    summary = report.summary(examples=examples)
    info = report.policy
    status = summary["status"]
    sources = ", ".join(f"{source['spec']}: {source['count']}" for source in report.task_sources)
    out = [
        "# taugepa task audit",
        "",
        f"- tasks: **{summary['tasks']}**" + (f" ({sources})" if sources else ""),
        f"- policy: `{info.get('path')}` ({info.get('label')}, sha256 `{str(info.get('sha256', ''))[:12]}`)",
        f"- rules version {report.rules_version}; engine {report.engine.get('fingerprint', '?')}",
        "",
        "| status | tasks |",
        "| --- | ---: |",
        *(f"| {STATUS_LABELS[s]} | {status[s]} |" for s in STATUSES),
        f"| free passes (an agent that does nothing passes) | {summary['free_pass']} |",
        "",
        "## By group",
        "",
        "| group | tasks | " + " | ".join(STATUSES) + " | free pass |",
        "| --- | ---: | " + " | ".join("---:" for _ in STATUSES) + " | ---: |",
        *("| " + " | ".join(str(c) for c in row) + " |" for row in _group_rows(summary)),
        "",
        "## By rule (tasks with a finding of each severity)",
        "",
        "| rule | " + " | ".join(SEVERITIES) + " |",
        "| --- | " + " | ".join("---:" for _ in SEVERITIES) + " |",
        *(
            "| `" + row[0] + "` | " + " | ".join(str(c) for c in row[1:]) + " |"
            for row in _rule_rows(summary)
        ),
        "",
        "## Examples",
        "",
    ]
    for rule, entry in summary["by_rule"].items():
        out.append(f"### `{rule}`")
        out.append("")
        for example in entry["examples"]:
            out.append(f"- **{example['task_id']}** [{example['severity']}]: {_md(example['message'])}")
        out.append("")
    out.extend(rules_markdown(policy))
    return "\n".join(out).rstrip() + "\n"


def rules_markdown(policy: Policy | None = None) -> list[str]:
    """The rule list: id, severities, what it checks, and its policy sentences."""
    out = ["## Rules", ""]
    for rule in rules_table():
        out.append(
            f"- **`{rule['id']}`** ({rule['kind']}; {', '.join(rule['severities'])}): {_md(rule['title'])}"
        )
        if policy is not None:
            shown = policy_sentences(RULES[rule["id"]], policy)
        else:
            shown = [(text, True) for text in rule["policy"]]
        for text, found in shown:
            out.append(f"  > {_md(' '.join(text.split()))}")
            if not found:
                out.append("  (this sentence is not in the policy audited against)")
        if rule["note"]:
            out.append(f"  {_md(rule['note'])}")
    return [*out, ""]


def rules_lines(policy: Policy | None = None) -> list[str]:
    """The rule list for a terminal."""
    lines = []
    for rule in rules_table():
        lines.append(f"{rule['id']}  [{rule['kind']}; {', '.join(rule['severities'])}]  {rule['title']}")
        if policy is not None:
            shown = policy_sentences(RULES[rule["id"]], policy)
        else:
            shown = [(text, True) for text in rule["policy"]]
        for text, found in shown:
            lines.append(f'    "{" ".join(text.split())}"' + ("" if found else "  (NOT in this policy)"))
    return lines


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
