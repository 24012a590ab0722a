"""Whose fault a failed episode was, and what went wrong: one cause per failure, deterministic.

A failed episode gets exactly one cause from `CAUSES`, decided from the transcript, the
gold and the task's audit by the first rule that applies, in this order:

1. `task_suspect` (blame: task): the audit says the task's gold clearly breaks the policy
   (status `violates`) or has a defect finding.
2. The user simulator deviated (blame: user simulator); these look only at what the
   customer side said (the `user` messages of the transcript):
   - `user_invented_detail`: it stated a user id, reservation id, dollar amount or name
     ("my name is ...", "I am ...") that is in neither the task's instruction, nor the
     agent's earlier messages to it, nor the gold actions;
   - `user_unwanted_action`: it asked for a kind of action (cancel, book, baggage, cabin
     change, flight change, compensation) that the instruction never mentions and the agent
     had not brought up, and the agent's wrong or extra write is of that kind;
   - `user_ended_early`: it ended the conversation while a gold write was still missing,
     right after the agent asked it a question (other than "anything else?"), or without
     ever stating the missing write's kind of request although its instruction does.
3. The agent (blame: agent): `model_limit` (the agent model's request no longer fit its
   context, or its answer was cut, filtered or refused: `taugepa.llm.answer_ends`),
   `tool_error_loop` (3 or more tool calls in a row returned an error), `step_limit` (the
   step limit, or the user simulator's turn limit, ended it),
   `transfer` (it transferred the user, which the gold does not do), `policy_rule_broken`
   (a definite policy violation on the write where it departed from the gold),
   `gave_up_in_text` (it wrote nothing more and told the user it could not help),
   `writes_wrong_order`, `wrong_write_arguments` (naming the fields), `missing_write`,
   `extra_write`, `output_not_said` (the database matches, a required output was not said),
   and `unexplained` when none applies.

The write comparison is the scoring's own (`taugepa.episode.scoring.find_divergence`).
The simulator rules are heuristics, documented as such: they blame the simulator only on
evidence in its own words, and the agent's own mistake in the same episode stays in `detail`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from taugepa.episode.scoring import Divergence, find_divergence, render_action
from taugepa.llm.answer_ends import END_LABELS, MODEL_ENDS
from taugepa.protocol import FAILED, PASSED, STOP_MARKER
from taugepa.tasks.model import Task
from taugepa.world.engine import TRANSFER_TOOL, write_tool_names

AGENT, USER_SIMULATOR, TASK = "agent", "user_simulator", "task"
BLAMES = (AGENT, USER_SIMULATOR, TASK)


@dataclass(frozen=True)
class Cause:
    name: str
    blame: str
    label: str  # a few words, for tables and the one-line feedback


CAUSES: dict[str, Cause] = {
    cause.name: cause
    for cause in (
        Cause("task_suspect", TASK, "task suspect (the audit flags its gold)"),
        Cause("user_invented_detail", USER_SIMULATOR, "user simulator invented a detail"),
        Cause("user_unwanted_action", USER_SIMULATOR, "user simulator asked for an unwanted action"),
        Cause("user_ended_early", USER_SIMULATOR, "user simulator ended early"),
        Cause("model_limit", AGENT, "the agent model's limit (context overflow, cut, filtered, refused)"),
        Cause("tool_error_loop", AGENT, "tool-error loop"),
        Cause("step_limit", AGENT, "step limit"),
        Cause("transfer", AGENT, "transferred instead of acting"),
        Cause("policy_rule_broken", AGENT, "policy rule broken"),
        Cause("gave_up_in_text", AGENT, "agent gave up in text"),
        Cause("writes_wrong_order", AGENT, "writes in the wrong order"),
        Cause("wrong_write_arguments", AGENT, "wrong write arguments"),
        Cause("missing_write", AGENT, "missing write"),
        Cause("extra_write", AGENT, "extra write"),
        Cause("output_not_said", AGENT, "required output not said"),
        Cause("unexplained", AGENT, "unexplained"),
    )
}
SIMULATOR_CAUSES = tuple(name for name, cause in CAUSES.items() if cause.blame == USER_SIMULATOR)

TOOL_ERROR_LOOP = 3  # errors in a row
MAX_DETAIL = 320
SUSPECT_STATUSES = ("violates",)
USER_TURN_LIMIT = "the simulated user reached its limit"

_USER_ID = re.compile(r"\b[a-z]+_[a-z]+_\d{3,5}\b")
_CODE = re.compile(r"\b[A-Z0-9]{6}\b")  # reservation ids; flight numbers (HAT123) are left out
_FLIGHT = re.compile(r"^HAT\d{3}$")
_AMOUNT = re.compile(r"\$\s?(\d[\d,]*(?:\.\d+)?)")
_NAME = re.compile(r"\b(?:[Mm]y name is|I am|I'm|[Tt]his is|[Nn]ame is)\s+([A-Z][a-z]+(?: [A-Z][a-z]+)+)")
_QUESTION_CLOSERS = re.compile(r"anything else|something else|further assist|help you with", re.I)
_GIVE_UP = re.compile(r"\b(sorry|unable|cannot|can't|can not|not able|not possible|unfortunately)\b", re.I)

# Kinds of request a customer can make, by the words that name them, and the writes that do them.
ACTION_KINDS: dict[str, tuple[re.Pattern[str], frozenset[str]]] = {
    "cancel": (re.compile(r"\bcancel", re.I), frozenset({"cancel_reservation"})),
    "book": (re.compile(r"\bbook\b|\bbooking\b|\bnew reservation", re.I), frozenset({"book_reservation"})),
    "baggage": (
        re.compile(r"\bbag(s|gage|gages)?\b|\bluggage", re.I),
        frozenset({"update_reservation_baggages"}),
    ),
    "cabin": (
        re.compile(r"\bupgrade|\bdowngrade|\bcabin\b|\bbusiness class|\bfirst class", re.I),
        frozenset({"update_reservation_flights"}),
    ),
    "flight change": (
        re.compile(r"\bchange (?:my |the )?flights?\b|\breschedul|\bdifferent flight", re.I),
        frozenset({"update_reservation_flights"}),
    ),
    "compensation": (
        re.compile(r"\bcompensat|\bcertificate|\bvoucher", re.I),
        frozenset({"send_certificate"}),
    ),
}


@dataclass(frozen=True)
class Failure:
    """The cause of one failed episode (what the scores file's `failure` holds)."""

    cause: str
    detail: str
    agent_cause: str | None = None  # for a failure blamed on the simulator: the agent's side of it

    @property
    def blame(self) -> str:
        return CAUSES[self.cause].blame

    def to_dict(self) -> dict[str, Any]:
        agent_side = {"agent_cause": self.agent_cause} if self.agent_cause else {}
        return {"cause": self.cause, "blame": self.blame, "detail": self.detail, **agent_side}


def cause_label(cause: str) -> str:
    known = CAUSES.get(cause)
    return known.label if known else cause


def failure_line(failure: dict[str, Any] | None) -> str:
    """`cause: missing write (detail)`: how the one-line feedback and reports name a failure."""
    if not failure:
        return ""
    blame = " [blamed on the user simulator]" if failure.get("blame") == USER_SIMULATOR else ""
    line = f"cause: {cause_label(failure['cause'])}{blame} ({failure.get('detail', '')})"
    review = failure.get("review")
    if review:  # --review-model's second opinion on a simulator blame
        line += f" [review model: {review['verdict']}: {review.get('reason', '')}]"
    return line


# ---- the analysis ---------------------------------------------------------------------------


def analyze_failure(
    task: Task, result: dict[str, Any], audit: dict[str, Any] | None = None
) -> Failure | None:
    """The cause of a failed episode (None for any other outcome)."""
    if result.get("outcome") != FAILED:
        return None
    divergence = find_divergence(list(result.get("expected_writes") or []), _taken_writes(result))
    agent_side = _agent_cause(task, result, divergence)
    suspect = _task_suspect(audit)
    if suspect:
        return Failure("task_suspect", _clip(f"{suspect}; the agent's side: {agent_side.detail}", MAX_DETAIL))
    simulator = _simulator_cause(task, result, divergence)
    if simulator is not None:
        detail = f"{simulator.detail}; the agent's side: {agent_side.detail}"
        return Failure(simulator.cause, _clip(detail, MAX_DETAIL), agent_cause=agent_side.cause)
    return Failure(agent_side.cause, _clip(agent_side.detail, MAX_DETAIL))


def _taken_writes(result: dict[str, Any]) -> list[dict[str, Any]]:
    writes = write_tool_names()
    return [
        {"name": c["name"], "kwargs": c["arguments"]}
        for c in result.get("tool_calls") or []
        if c.get("executed", True) and not c.get("is_error") and c["name"] in writes
    ]


def _task_suspect(audit: dict[str, Any] | None) -> str | None:
    if not audit:
        return None
    defects = [flag for flag in audit.get("flags") or [] if flag.endswith(":defect")]
    if audit.get("status") in SUSPECT_STATUSES or defects:
        flags = ", ".join(audit.get("flags") or []) or "no flags"
        return f"the audit marks the task {audit.get('status')} ({flags})"
    return None


# ---- the user simulator ----------------------------------------------------------------------


def _simulator_cause(task: Task, result: dict[str, Any], divergence: Divergence | None) -> Failure | None:
    messages = result.get("messages") or []
    known = _known_text(task)
    agent_said = ""
    for message in messages:
        role, text = message.get("role"), str(message.get("content") or "")
        if role == "assistant" and not message.get("tool_calls"):
            agent_said += "\n" + text
        elif role == "user":
            invented = _invented(text, known + agent_said)
            if invented:
                return Failure(
                    "user_invented_detail", f"the user said {invented}, which the instruction does not give"
                )
            unwanted = _unwanted(text, task.instruction, agent_said, divergence)
            if unwanted:
                return Failure(
                    "user_unwanted_action",
                    f"the user asked to {unwanted}, which the instruction never mentions",
                )
    return _ended_early(task, result, divergence)


def _known_text(task: Task) -> str:
    """What the customer may legitimately say: the instruction, its user id and the gold's values."""
    gold = json.dumps([action.to_dict() for action in task.actions], ensure_ascii=False)
    return "\n".join([task.instruction, task.user_id, gold, *task.outputs])


def _invented(text: str, known: str) -> str | None:
    for user_id in _USER_ID.findall(text):
        if user_id not in known:
            return f"user id {user_id}"
    for code in _CODE.findall(text):
        is_id = any(c.isdigit() for c in code) and any(c.isalpha() for c in code)
        if is_id and not _FLIGHT.match(code) and code not in known:
            return f"reservation {code}"
    for amount in _AMOUNT.findall(text):
        value = amount.replace(",", "")
        if not _amount_known(value, known):
            return f"amount ${amount}"
    for name in _NAME.findall(text):
        if name not in known:
            return f"name {name!r}"
    return None


def _amount_known(value: str, known: str) -> bool:
    number = float(value)
    figures = {float(m.replace(",", "")) for m in re.findall(r"\d[\d,]*(?:\.\d+)?", known)}
    return number in figures


def _kinds(text: str) -> set[str]:
    return {kind for kind, (pattern, _) in ACTION_KINDS.items() if pattern.search(text)}


def _unwanted(text: str, instruction: str, agent_said: str, divergence: Divergence | None) -> str | None:
    if divergence is None or divergence.taken is None:
        return None  # the agent made no wrong or extra write the request could explain
    asked = _kinds(text) - _kinds(instruction) - _kinds(agent_said)
    for kind in sorted(asked):
        if divergence.taken["name"] in ACTION_KINDS[kind][1]:
            return f"{kind} ({render_action(divergence.taken)} followed)"
    return None


def _ended_early(task: Task, result: dict[str, Any], divergence: Divergence | None) -> Failure | None:
    if result.get("termination") != "user_stop" or divergence is None or divergence.kind != "missing":
        return None
    messages = result.get("messages") or []
    missing = divergence.expected["name"] if divergence.expected else "?"
    last_user: dict[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    if USER_TURN_LIMIT in str(last_user.get("content") or ""):
        return None  # its turn limit: a step limit, not a choice
    agent_texts = [
        str(m.get("content") or "")
        for m in messages
        if m.get("role") == "assistant" and not m.get("tool_calls")
    ]
    if agent_texts and "?" in agent_texts[-1] and not _QUESTION_CLOSERS.search(agent_texts[-1]):
        return Failure(
            "user_ended_early",
            f"the user stopped while the agent was waiting for its answer ({_clip(agent_texts[-1], 100)!r}), "
            f"before {missing} was made",
        )
    said = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "user")
    for kind, (pattern, tools) in ACTION_KINDS.items():
        if missing in tools and pattern.search(task.instruction) and not pattern.search(said):
            return Failure(
                "user_ended_early",
                f"the user stopped without ever asking for the {kind} its instruction wants ({missing})",
            )
    return None


# ---- the agent -------------------------------------------------------------------------------


def _agent_cause(task: Task, result: dict[str, Any], divergence: Divergence | None) -> Failure:
    calls = result.get("tool_calls") or []
    termination = result.get("termination")
    if termination in MODEL_ENDS:
        return Failure(
            "model_limit", f"the agent model's {END_LABELS[termination]} ended it; {_write_text(divergence)}"
        )
    loop = _longest_error_run(calls)
    if loop >= TOOL_ERROR_LOOP:
        names = ", ".join(dict.fromkeys(c["name"] for c in calls if c.get("is_error")))
        return Failure("tool_error_loop", f"{loop} tool calls in a row returned an error ({names})")
    if termination == "max_steps":
        return Failure("step_limit", f"the step limit ended the episode; {_write_text(divergence)}")
    if termination == "too_many_errors":  # tau2's protocol: its limit of tool errors
        return Failure("tool_error_loop", f"too many tool errors ended it; {_write_text(divergence)}")
    messages = result.get("messages") or []
    last_user: dict[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    if termination == "user_stop" and USER_TURN_LIMIT in str(last_user.get("content") or ""):
        return Failure("step_limit", f"the user simulator's turn limit ended it; {_write_text(divergence)}")
    transferred = any(c.get("name") == TRANSFER_TOOL and not c.get("is_error") for c in calls)
    if (termination == "transfer" or transferred) and TRANSFER_TOOL not in {a.name for a in task.actions}:
        return Failure("transfer", f"the agent transferred the user; {_write_text(divergence)}")
    broken = _broken_rule(result, divergence)
    if broken:
        return Failure("policy_rule_broken", broken)
    if divergence is not None:
        return _write_cause(result, divergence)
    missing = result.get("outputs_missing")
    if missing:
        return Failure("output_not_said", "never said " + ", ".join(json.dumps(o) for o in missing))
    feedback = (result.get("feedback") or "").strip()
    return Failure("unexplained", _clip(feedback.splitlines()[0], 200) if feedback else "no detail")


def _longest_error_run(calls: Sequence[dict[str, Any]]) -> int:
    longest = run = 0
    for call in calls:
        run = run + 1 if call.get("is_error") else 0
        longest = max(longest, run)
    return longest


def _broken_rule(result: dict[str, Any], divergence: Divergence | None) -> str | None:
    """A definite violation on the write where the agent departed from the gold (or on any write
    when the writes match but the database does not)."""
    violations = [
        v for v in (result.get("compliance") or {}).get("violations") or [] if v.get("severity") == "definite"
    ]
    if divergence is not None and divergence.taken is not None:
        violations = [v for v in violations if v.get("action") == divergence.taken["name"]]
    elif divergence is not None:
        return None
    if not violations:
        return None
    rules = ", ".join(dict.fromkeys(v["rule"] for v in violations))
    return f"{rules}; {_write_text(divergence)}"


def _write_cause(result: dict[str, Any], divergence: Divergence) -> Failure:
    text = _write_text(divergence)
    if divergence.kind == "different_write":
        expected = Counter(w["name"] for w in result.get("expected_writes") or [])
        if expected == Counter(w["name"] for w in _taken_writes(result)):
            return Failure("writes_wrong_order", text)
    if divergence.kind == "wrong_arguments":
        return Failure("wrong_write_arguments", text)
    if divergence.kind == "missing":
        last = _last_agent_text(result)
        if last and _GIVE_UP.search(last):
            return Failure("gave_up_in_text", f"{text}; it told the user: {_clip(last, 120)!r}")
        return Failure("missing_write", text)
    if divergence.kind == "extra":
        return Failure("extra_write", text)
    expected_names = {w["name"] for w in result.get("expected_writes") or []}
    taken = divergence.taken["name"] if divergence.taken else None
    return Failure("extra_write" if taken not in expected_names else "missing_write", text)


def _write_text(divergence: Divergence | None) -> str:
    if divergence is None:
        return "its writes match the gold's"
    number = divergence.number
    if divergence.kind == "wrong_arguments" and divergence.expected is not None:
        return f"write {number} {divergence.expected['name']}: wrong {', '.join(divergence.fields)}"
    if divergence.kind == "missing" and divergence.expected is not None:
        return f"write {number} never made: {render_action(divergence.expected)}"
    if divergence.kind == "extra" and divergence.taken is not None:
        return f"extra write {number}: {render_action(divergence.taken)}"
    want = divergence.expected["name"] if divergence.expected else "?"
    got = divergence.taken["name"] if divergence.taken else "?"
    return f"write {number}: expected {want}, the agent called {got}"


def _last_agent_text(result: dict[str, Any]) -> str:
    for message in reversed(result.get("messages") or []):
        if message.get("role") == "assistant" and message.get("content") and not message.get("tool_calls"):
            return str(message["content"]).replace(STOP_MARKER, "").strip()
    return ""


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- a run's causes --------------------------------------------------------------------------


def failure_summary(episodes: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """Counts by cause and by blame, and the pass rate with the simulator's failures set apart.

    `pass_rate_without_simulator` is passed / (passed + failed - failures blamed on the user
    simulator): what the agent scores when the simulator's mistakes are not held against it.
    None when no failed episode carries a cause (older scores files).
    """
    episodes = list(episodes)
    failures = [e["failure"] for e in episodes if e.get("outcome") == FAILED and e.get("failure")]
    if not failures:
        return None
    by_cause = Counter(f["cause"] for f in failures)
    by_blame = Counter(f["blame"] for f in failures)
    passed = sum(1 for e in episodes if e.get("outcome") == PASSED)
    failed = sum(1 for e in episodes if e.get("outcome") == FAILED)
    apart = by_blame.get(USER_SIMULATOR, 0)
    counted = passed + failed - apart
    reviews = Counter(f["review"]["verdict"] for f in failures if f.get("review"))
    review_usage = _review_usage([f["review"] for f in failures if f.get("review")])
    return {
        "by_cause": dict(by_cause.most_common()),
        "by_blame": {blame: by_blame.get(blame, 0) for blame in BLAMES},
        "simulator_blamed": apart,
        "pass_rate_without_simulator": passed / counted if counted else None,
        **({"reviews": dict(sorted(reviews.items())), "review_usage": review_usage} if reviews else {}),
    }


def _review_usage(reviews: list[dict[str, Any]]) -> dict[str, Any]:
    """The review model's requests, cache hits and cost over the run (None cost: a model has no price)."""
    usages = [r.get("usage") or {} for r in reviews]
    costs = [u.get("cost_usd") for u in usages if u.get("requests")]
    return {
        "requests": sum(int(u.get("requests") or 0) for u in usages),
        "cache_hits": sum(int(u.get("cache_hits") or 0) for u in usages),
        "cost_usd": None if any(c is None for c in costs) else round(sum(c or 0.0 for c in costs), 8),
    }


def causes_line(summary: dict[str, Any]) -> str | None:
    """One line of failure causes for the verdict block (None without causes)."""
    failures = summary.get("failures")
    if not failures:
        return None
    parts = [f"{cause_label(cause)} {count}" for cause, count in failures["by_cause"].items()]
    line = "failure causes: " + " · ".join(parts)
    apart = failures["simulator_blamed"]
    if apart:
        rate = failures["pass_rate_without_simulator"]
        shown = "n/a" if rate is None else f"{rate:.1%}"
        line += f" ({apart} blamed on the user simulator; pass rate without them {shown})"
    reviews = failures.get("reviews")
    if reviews:
        line += "; review model: " + ", ".join(f"{count} {verdict}" for verdict, count in reviews.items())
    return line
