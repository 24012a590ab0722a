"""The agent's own policy compliance: the audit's rules applied to what the agent does.

Two kinds of rule judge an episode:
- action rules (`taugepa.rules.catalog`, the very rules the audit applies to a task's gold):
  each write the agent makes is checked against the episode's database just before it runs.
  The engine is copy-on-write, so the check only looks at rows: nothing is replayed. The
  episode loop calls `ComplianceMonitor.before_call` / `after_call` around every tool call;
  a write the engine rejects changed nothing and is not held against the agent.
- conversation rules (`taugepa.rules.conversation`): they read the transcript. A write needs
  the user's explicit yes right before it; one tool call per message; a cancellation needs a
  reason and every write the user's own user id. They judge agents that talk to a user (the `llm` agent,
  and rescored recordings); the built-in `oracle` and `null` agents never talk to the user
  before acting, so these rules do not apply to them (`conversation_rules: false`).

Severities are the audit's: `definite` (the policy clearly forbids it; conservative),
`possible` (it depends on something the checks cannot settle), `defect` (not a policy
sentence but a broken action, such as flights that do not connect). An episode is
*compliant* when it has no definite finding.

For action rules, "the instruction" of `RuleContext` is what the user has said so far in
the conversation (for the built-in agents, whose scripted user only states the task's
instruction, exactly the instruction the audit reads), and the action sequence is the
agent's successful tool calls so far: a rule judges a write by what was known when it was
made. So the oracle, which replays the gold, gets the audit's findings for the same tasks.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from taugepa.protocol import FAILED, PASSED, Message, ToolCallRecord
from taugepa.rules.catalog import check_action
from taugepa.rules.conversation import CONVERSATION, clip, conversation_findings
from taugepa.rules.registry import DEFECT, DEFINITE, INFO, POSSIBLE, Finding, RuleContext
from taugepa.tasks.model import Action, Task
from taugepa.world.engine import Engine, write_tool_names
from taugepa.world.facts import EngineState
from taugepa.world.policy import Policy

ACTION = "action"
REPORTED_SEVERITIES = (DEFINITE, POSSIBLE, DEFECT)  # info findings are not violations


@lru_cache(maxsize=8)
def policy_for(text: str) -> Policy:
    """The parsed policy of a text (parsed once per process per text).

    A blank text states no rule to judge by: tau2's airline policy (the engine's) stands in.
    """
    if not text.strip():
        from taugepa.world.policy import load_policy

        return load_policy()
    return Policy.from_text(text)


@dataclass(frozen=True)
class Violation:
    """One finding against the agent: which rule, where in the episode, what the policy says."""

    rule: str
    kind: str  # "action" or "conversation"
    severity: str
    turn: int  # the agent's step (1-based)
    call_index: int | None  # position in the episode's tool calls (the gold index, for the oracle)
    action: str | None
    message: str
    policy: str | None
    policy_found: bool | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "kind": self.kind,
            "severity": self.severity,
            "turn": self.turn,
            "call_index": self.call_index,
            "action": self.action,
            "message": self.message,
            "policy": self.policy,
            "policy_found": self.policy_found,
        }


def _violation(finding: Finding, kind: str, turn: int, call_index: int | None) -> Violation:
    return Violation(
        rule=finding.rule,
        kind=kind,
        severity=finding.severity,
        turn=turn,
        call_index=call_index,
        action=finding.action_name,
        message=finding.message,
        policy=finding.policy,
        policy_found=finding.policy_found,
    )


class ComplianceMonitor:
    """Checks an episode's writes as they happen; `finish` adds the conversation rules.

    Cheap on the hot path: reads and failed calls cost a set lookup; a write costs one
    `check_action` over the rows it touches.
    """

    def __init__(
        self,
        task: Task,
        policy: Policy,
        engine: Engine,
        messages: list[Message],
        conversation_rules: bool,
    ):
        self.task = task
        self.policy = policy
        self.state = EngineState(engine)
        self.messages = messages  # the live transcript
        self.conversation_rules = conversation_rules
        self.writes = write_tool_names()
        self.actions: list[Action] = []  # the agent's successful tool calls so far
        self.found: list[Violation] = []
        self.writes_checked = 0
        self._pending: tuple[Action, list[Violation]] | None = None

    def before_call(self, name: str, arguments: Any, step: int, call_index: int) -> None:
        """Check a call about to run against the database as it stands (writes only)."""
        self._pending = None
        if not isinstance(arguments, dict):
            return
        action = Action(name=name, kwargs=arguments)
        if name not in self.writes:
            self._pending = (action, [])
            return
        sequence = [*self.actions, action]
        context = RuleContext(
            policy=self.policy,
            user_id=self.task.user_id or None,
            instruction=self._user_text(),
            actions=sequence,
            index=len(sequence) - 1,
        )
        findings = check_action(self.state, action, context)
        self._pending = (
            action,
            [_violation(f, ACTION, step, call_index) for f in findings if f.severity != INFO],
        )

    def after_call(self, is_error: bool) -> None:
        """Keep the pending findings if the call went through; a rejected call changed nothing."""
        if self._pending is None:
            return
        action, violations = self._pending
        self._pending = None
        if is_error:
            return
        self.actions.append(action)
        if action.name in self.writes:
            self.writes_checked += 1
            self.found.extend(violations)

    def _user_text(self) -> str:
        return "\n".join(str(m.get("content") or "") for m in self.messages if m.get("role") == "user")

    def finish(self, records: Sequence[ToolCallRecord]) -> dict[str, Any]:
        """The episode's `compliance` entry."""
        violations = list(self.found)
        if self.conversation_rules:
            found = conversation_findings(self.messages, records, self.task.user_id, self.policy)
            violations.extend(
                _violation(finding, CONVERSATION, turn, index) for finding, turn, index in found
            )
        violations.sort(key=lambda v: (v.turn, v.call_index if v.call_index is not None else -1))
        return compliance_entry(violations, self.policy, self.conversation_rules, self.writes_checked)


def compliance_entry(
    violations: Sequence[Violation], policy: Policy, conversation_rules: bool, writes_checked: int
) -> dict[str, Any]:
    counts = Counter(v.severity for v in violations)
    return {
        "policy_sha256": policy.sha256,
        "conversation_rules": conversation_rules,
        "writes_checked": writes_checked,
        "compliant": counts[DEFINITE] == 0,
        "counts": {severity: counts.get(severity, 0) for severity in REPORTED_SEVERITIES},
        "violations": [v.to_dict() for v in violations],
    }


# ---------------------------------------------------------------------------------------------
# Per run


def _scored_with_compliance(episodes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in episodes if e["outcome"] in (PASSED, FAILED) and e.get("compliance")]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _definite(entry: dict[str, Any], kind: str | None = None) -> list[dict[str, Any]]:
    return [
        v
        for v in entry["compliance"]["violations"]
        if v["severity"] == DEFINITE and (kind is None or v["kind"] == kind)
    ]


def _tally(entries: Sequence[dict[str, Any]], kind: str | None = None) -> dict[str, Any]:
    compliant = sum(1 for e in entries if not _definite(e, kind))
    return {"episodes": len(entries), "compliant": compliant, "rate": _share(compliant, len(entries))}


def run_compliance(episodes: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Per run: the share of scored episodes with no definite violation, overall and among passes.

    Also apart for action rules and conversation rules (these only over the episodes they
    applied to), by group and by the task's audit status, and the episodes per rule and
    severity. None when no episode carries compliance (an older scores file).
    """
    entries = _scored_with_compliance(episodes)
    if not entries:
        return None
    passed = [e for e in entries if e["outcome"] == PASSED]
    conversing = [e for e in entries if e["compliance"]["conversation_rules"]]
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_status: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_rule: dict[str, Counter[str]] = defaultdict(Counter)
    for entry in entries:
        by_group[entry["group"]].append(entry)
        if entry.get("audit"):
            by_status[entry["audit"]["status"]].append(entry)
        for rule, severity in {(v["rule"], v["severity"]) for v in entry["compliance"]["violations"]}:
            by_rule[rule][severity] += 1
    return {
        **_tally(entries),
        "passed": {
            **_tally(passed),
            "with_definite": [f"{e['task_id']}#{e['trial']}" for e in passed if _definite(e)],
        },
        "action_rules": {**_tally(entries, ACTION), "passed": _tally(passed, ACTION)},
        "conversation_rules": {
            **_tally(conversing, CONVERSATION),
            "passed": _tally([e for e in conversing if e["outcome"] == PASSED], CONVERSATION),
        },
        "by_group": {name: _tally(group) for name, group in sorted(by_group.items())},
        "by_audit_status": {status: _tally(group) for status, group in sorted(by_status.items())},
        "episodes_by_rule": {
            rule: {severity: counts.get(severity, 0) for severity in REPORTED_SEVERITIES}
            for rule, counts in sorted(by_rule.items())
        },
    }


def definite_violations(entry: dict[str, Any]) -> int:
    """How many definite violations an episode entry has (0 without a compliance record)."""
    return sum(1 for v in (entry.get("compliance") or {}).get("violations", []) if v["severity"] == DEFINITE)


def objective_score(entry: dict[str, Any], violation_penalty: float = 0.0) -> float | None:
    """An optional combined objective: the score minus a penalty per definite violation, at least 0.

    With `violation_penalty` 0 (the default) it is the score itself. None for episodes
    without a score (invalid task, infrastructure error), exactly like `entry["score"]`.
    """
    if violation_penalty < 0:
        raise ValueError(f"the violation penalty must be at least 0, got {violation_penalty}")
    score = entry.get("score")
    if score is None:
        return None
    return max(0.0, float(score) - violation_penalty * definite_violations(entry))


def violation_line(violation: dict[str, Any], with_policy: bool = True, limit: int = 160) -> str:
    """One violation in a line: `[definite] cancel.flown (turn 3, cancel_reservation): ... Policy: "..."`."""
    where = f"turn {violation['turn']}" + (f", {violation['action']}" if violation.get("action") else "")
    line = f"[{violation['severity']}] {violation['rule']} ({where}): {clip(violation['message'], limit)}"
    if with_policy and violation.get("policy"):
        line += f' Policy: "{clip(violation["policy"], limit)}"'
    return line


def definite_note(compliance: dict[str, Any] | None, limit: int = 5) -> str:
    """The definite violations of an episode as lines for a failure message ('' when none)."""
    found = [v for v in (compliance or {}).get("violations", []) if v["severity"] == DEFINITE]
    if not found:
        return ""
    lines = [f"Policy violations by the agent ({len(found)} definite):"]
    lines += ["- " + violation_line(v, with_policy=False) for v in found[:limit]]
    if len(found) > limit:
        lines.append(f"- and {len(found) - limit} more")
    return "\n".join(lines)


def compliance_lines(summary: dict[str, Any]) -> list[str]:
    """Terminal summary lines for a run's compliance (nothing when the run has none)."""
    block = summary.get("compliance")
    if not block:
        return []
    passed, actions, talk = block["passed"], block["action_rules"], block["conversation_rules"]
    lines = [
        "policy compliance (episodes with no definite violation; see the README):",
        f"  all rules           {_describe(block)} · among passed {_describe(passed)}",
        f"  action rules        {_describe(actions)} · among passed {_describe(actions['passed'])}",
    ]
    if talk["episodes"]:
        lines.append(f"  conversation rules  {_describe(talk)} · among passed {_describe(talk['passed'])}")
    else:
        lines.append("  conversation rules  not applied (the built-in agents do not talk to the user)")
    if passed["with_definite"]:
        shown = ", ".join(passed["with_definite"][:6]) + (" …" if len(passed["with_definite"]) > 6 else "")
        lines.append(f"  passed but broke a rule ({len(passed['with_definite'])}): {shown}")
    if block["by_audit_status"]:
        lines.append(
            "  by the task's audit status: "
            + " · ".join(f"{status} {_describe(tally)}" for status, tally in block["by_audit_status"].items())
        )
    rules = {rule: counts for rule, counts in block["episodes_by_rule"].items() if any(counts.values())}
    if rules:
        items = [f"{rule} {c[DEFINITE]}/{c[POSSIBLE]}/{c[DEFECT]}" for rule, c in rules.items()]
        lines.append("  episodes per rule (definite/possible/defect):")
        row: list[str] = []
        for item in items:
            if row and len("    " + ", ".join([*row, item])) > 108:
                lines.append("    " + ", ".join(row) + ",")
                row = []
            row.append(item)
        lines.append("    " + ", ".join(row))
    return lines


def _describe(tally: dict[str, Any]) -> str:
    if not tally["episodes"]:
        return "n/a"
    return f"{tally['rate']:.1%} ({tally['compliant']}/{tally['episodes']})"
