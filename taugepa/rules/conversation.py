"""Conversation rules: what the policy asks of an agent's dialogue, read from its transcript.

A write needs the user's explicit yes right before it (`confirm.write`), one tool call per
message (`turn.one_tool_call`), no text beside a tool call (`turn.text_with_tool_call`), a
reason before a cancellation (`cancel.reason`) and the user's own user id before any write
(`identify.user`). They are listed with the audit's rules (`taugepa audit --list-rules`,
kind `conversation`) and judge agents that talk to a user (see `taugepa.rules.compliance`).

Words decide what a message says, so the checks are conservative: `definite` only where
the transcript leaves no doubt (a write before the agent said anything to the user, right
after a "no", several tool calls in one message); everything else is `possible`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from taugepa.protocol import STOP_MARKER, Message, ToolCallRecord
from taugepa.rules.registry import DEFINITE, POSSIBLE, Finding, Hit, Rule, register
from taugepa.world.engine import write_tool_names
from taugepa.world.policy import Policy

CONVERSATION = "conversation"

Q_CONFIRM = (
    "Before taking any actions that update the booking database (booking, modifying flights, editing "
    "baggage, changing cabin class, or updating passenger information), you must list the action details "
    "and obtain explicit user confirmation (yes) to proceed.",
    "Before taking any actions that update the booking database (booking, modifying flights, editing "
    "baggage, upgrading cabin class, or updating passenger information), you must list the action details "
    "and obtain explicit user confirmation (yes) to proceed.",
)
Q_ONE_CALL = (
    "You should only make one tool call at a time, and if you make a tool call, you should not respond to "
    "the user simultaneously.",
)
Q_RESPOND_OR_CALL = (
    "If you respond to the user, you should not make a tool call at the same time.",
    *Q_ONE_CALL,
)
Q_CANCEL_REASON = (
    "The agent must also obtain the reason for cancellation (change of plan, airline cancelled flight, or "
    "other reasons)",
    "The agent must first obtain the user id, the reservation id, and the reason for cancellation (change "
    "of plan, airline cancelled flight, or other reasons)",
)
Q_USER_ID = (
    "The user must provide their user id.",
    "The agent must first obtain the user id and the reservation id.",
)

NOTE = "Conversation rule: judges agents that talk to a user (not the built-in oracle and null agents)."
CONFIRM = register(
    Rule(
        "confirm.write",
        "A write comes right after the user's explicit yes to it",
        CONVERSATION,
        (DEFINITE, POSSIBLE),
        Q_CONFIRM,
        note=NOTE + " Definite when the agent writes before it has said anything to the user, or right "
        "after the user said no; possible when the user's last message is not a clear yes, or the same "
        "yes already confirmed an earlier write, or the write is a compensation (not named in the list).",
    )
)
ONE_CALL = register(
    Rule(
        "turn.one_tool_call",
        "One tool call per message",
        CONVERSATION,
        (DEFINITE,),
        Q_ONE_CALL,
        note=NOTE + " The episode executes every call of the message in order (as tau2 does), each "
        "judged by what it did; a replay of a tau-bench v1 recording executes only the first.",
    )
)
CALL_WITH_TEXT = register(
    Rule(
        "turn.text_with_tool_call",
        "A tool call does not come with a message to the user",
        CONVERSATION,
        (POSSIBLE,),
        Q_RESPOND_OR_CALL,
        note=NOTE + " Possible only: the text of a tool-call message never reaches the user.",
    )
)
CANCEL_REASON = register(
    Rule(
        "cancel.reason",
        "The user states a reason before a cancellation",
        CONVERSATION,
        (POSSIBLE,),
        Q_CANCEL_REASON,
        note=NOTE + " Possible only: a reason is recognised by words, which cannot be complete.",
    )
)
USER_ID = register(
    Rule(
        "identify.user",
        "The user gives their user id before the agent changes anything",
        CONVERSATION,
        (POSSIBLE,),
        Q_USER_ID,
        note=NOTE + " Possible only: the user may have typed the id differently.",
    )
)

AFFIRMATIVE = re.compile(
    r"\b(yes|yeah|yep|yup|sure|ok|okay|confirm\w*|correct|proceed|go ahead|go for it|please do|do it|"
    r"absolutely|definitely|certainly|that's right|that is right|sounds good|agreed?|of course)\b",
    re.IGNORECASE,
)
NEGATIVE_START = re.compile(r"^\W*(no|nope|not|don'?t|do not|wait|hold on|stop)\b", re.IGNORECASE)
NEGATED = re.compile(r"(\bnot|\bnever|n't)\W+(\w+\W+){0,2}$", re.IGNORECASE)
CANCEL_REASONS = re.compile(
    r"\b(because|due to|since|as i|reason\w*|chang\w* (of|in|my) plans?|plans? (have |has )?chang\w*|"
    r"changed my mind|no longer|can'?t make|cannot make|can not make|won'?t be able|unable to|not able to|"
    r"don'?t need|do not need|not going|sick|ill|illness|unwell|health|medical|hospital\w*|doctor|injur\w*|"
    r"weather|storm\w*|snow\w*|hurricane|emergenc\w*|family|work|job|business|personal|conflict\w*|"
    r"cancel+ed by|airline cancel+ed|flight (was |has been |got )?cancel+ed|delay\w*)\b",
    re.IGNORECASE,
)
COMPENSATION_WRITE = "send_certificate"


def _plain_yeses(text: str) -> list[str]:
    """Affirmative words that are not negated just before ("not sure", "don't proceed")."""
    return [
        match.group(0)
        for match in AFFIRMATIVE.finditer(text)
        if not NEGATED.search(text[max(0, match.start() - 30) : match.start()])
    ]


def is_negative(text: str) -> bool:
    """A reply that opens with a refusal ("no", "don't", "wait") and says no plain yes."""
    return bool(NEGATIVE_START.search(text)) and not _plain_yeses(text)


def is_affirmative(text: str) -> bool:
    """A clear yes: an affirmative word that is not negated ("No problem, go ahead" is a yes)."""
    return bool(_plain_yeses(text)) and not is_negative(text)


def _finding(rule: Rule, severity: str, message: str, policy: Policy, action: str | None) -> Finding:
    return rule.finding(Hit(severity, message), policy, action_name=action)


def conversation_findings(
    messages: Sequence[Message], records: Sequence[ToolCallRecord], user_id: str | None, policy: Policy
) -> list[tuple[Finding, int, int]]:
    """The conversation rules over a finished transcript: (finding, turn, call index) each.

    Records are in the order of the tool calls in the transcript (the episode loop appends
    both together), which is how each call is matched to the messages before it.
    """
    writes = write_tool_names()
    found: list[tuple[Finding, int, int]] = []
    queue = iter(enumerate(records))
    user_texts: list[str] = []
    last_user: int | None = None  # position in user_texts of the user's latest message
    confirmed_by: dict[int, int] = {}  # user message position -> turn of the write it confirmed
    for message in messages:
        role = message.get("role")
        if role == "user":
            content = str(message.get("content") or "")
            if content.strip() != STOP_MARKER:
                user_texts.append(content)
                last_user = len(user_texts) - 1
            continue
        if role != "assistant" or not message.get("tool_calls"):
            continue
        calls = message["tool_calls"]
        matched = [next(queue, None) for _ in calls]
        if any(item is None for item in matched):
            break  # a transcript without its records: nothing more to match
        first_index, first = matched[0]  # type: ignore[misc]
        if len(calls) > 1:
            names = ", ".join(str((c.get("function") or {}).get("name")) for c in calls)
            finding = _finding(
                ONE_CALL, DEFINITE, f"makes {len(calls)} tool calls in one message ({names})", policy, None
            )
            found.append((finding, first.step, first_index))
        text = message.get("content")
        if isinstance(text, str) and text.strip():
            finding = _finding(
                CALL_WITH_TEXT,
                POSSIBLE,
                f"writes to the user while calling {first.name}: {clip(text)}",
                policy,
                first.name,
            )
            found.append((finding, first.step, first_index))
        for item in matched:
            index, record = item  # type: ignore[misc]
            if not record.executed or record.is_error or record.name not in writes:
                continue
            for finding in _write_findings(record, user_texts, last_user, confirmed_by, user_id, policy):
                found.append((finding, record.step, index))
            if last_user is not None:
                confirmed_by.setdefault(last_user, record.step)
    return found


def _write_findings(
    record: ToolCallRecord,
    user_texts: list[str],
    last_user: int | None,
    confirmed_by: dict[int, int],
    user_id: str | None,
    policy: Policy,
) -> Iterable[Finding]:
    name = record.name
    compensation = name == COMPENSATION_WRITE
    if last_user is None or last_user == 0:
        severity = POSSIBLE if compensation else DEFINITE
        yield _finding(
            CONFIRM,
            severity,
            f"calls {name} before saying anything to the user: no confirmation was asked for",
            policy,
            name,
        )
    else:
        answer = user_texts[last_user]
        if is_negative(answer):
            yield _finding(
                CONFIRM, DEFINITE, f"calls {name} right after the user said: {clip(answer)}", policy, name
            )
        elif not is_affirmative(answer):
            yield _finding(
                CONFIRM,
                POSSIBLE,
                f"calls {name}, but the user's last message is not a clear yes: {clip(answer)}",
                policy,
                name,
            )
        elif last_user in confirmed_by:
            yield _finding(
                CONFIRM,
                POSSIBLE,
                f"calls {name} on the yes that already confirmed the write at turn {confirmed_by[last_user]}",
                policy,
                name,
            )
        elif compensation:
            pass  # a clear yes covers a compensation too
    said = "\n".join(user_texts)
    if name == "cancel_reservation" and not CANCEL_REASONS.search(said):
        yield _finding(
            CANCEL_REASON, POSSIBLE, "cancels a reservation, but the user never states a reason", policy, name
        )
    if user_id and user_id.lower() not in said.lower():
        yield _finding(
            USER_ID,
            POSSIBLE,
            f"calls {name}, but the user never gives their user id ({user_id})",
            policy,
            name,
        )


def clip(text: str, limit: int = 120) -> str:
    """Text on one line, at most `limit` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
