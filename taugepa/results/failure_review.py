"""An optional second opinion on failures blamed on the user simulator (`--review-model`).

The failure analysis blames the simulated customer by heuristics (a detail the instruction
does not give, an unwanted request, an early stop); a heuristic can be wrong, and a failure
wrongly set apart flatters the agent. As tau2's review does, a model reads the instruction,
the claimed deviation and the conversation, and confirms or overrules the blame. Overruled
failures go back to the agent with the cause the analysis found on the agent's side. The
request goes through taugepa's client, so it is cached like any other and its cost counted.
Off by default: without `--review-model` nothing here runs.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from taugepa.errors import ConfigError, InfrastructureError
from taugepa.llm.client import client_for, recorded_completion
from taugepa.llm.config import DEFAULT_API_KEY_ENV, LLMConfig, check_base_url, public_url, resolve_base_url
from taugepa.llm.usage import CallUsage, SideUsage
from taugepa.options import Lookup, Option
from taugepa.results.failure_analysis import AGENT, CAUSES, USER_SIMULATOR, cause_label
from taugepa.tasks.model import Task

REVIEW_SIDE = "review"
CONFIRMED, OVERRULED, UNCLEAR, FAILED_REVIEW = "confirmed", "overruled", "unclear", "review failed"
MAX_TRANSCRIPT_CHARS = 24_000  # the conversation as shown to the reviewer, clipped from the middle

REVIEW_OPTIONS: list[Option] = [
    Option(
        "--review-model",
        "review_model",
        "ask this model to confirm or overrule each failure blamed on the user simulator "
        "(off by default; cached and priced like the other models)",
    ),
    Option("--review-base-url", "review_base_url", "endpoint of the review model (default: --base-url)"),
    Option(
        "--review-api-key-env",
        "review_api_key_env",
        "environment variable holding the review model's key (default: --api-key-env)",
    ),
]

REVIEW_PROMPT = """\
You check an automatic failure analysis of a simulated customer-service conversation. A \
simulated customer was given an instruction and talked to an airline agent; the episode \
failed, and the analysis blames the simulated customer, not the agent. Decide whether the \
customer really deviated from its instruction in the way claimed, and whether that deviation, \
rather than the agent's own mistake, made the episode fail.

Answer with one JSON object and nothing else:
{"verdict": "confirm" or "overrule", "reason": "one sentence"}"""


@dataclass(frozen=True)
class ReviewSettings:
    """Which model reviews, and where (None fields fall back to the agent's endpoint and key)."""

    model: str
    base_url: str | None = None
    api_key_env: str | None = None

    def __post_init__(self) -> None:
        if self.base_url:
            check_base_url(self.base_url, "--review-base-url")

    def describe(self, llm: LLMConfig | None) -> dict[str, Any]:
        """As recorded in the scores file's run header: the URL without credentials, the key's name."""
        base = self.base_url or (llm.base_url if llm else None)
        key_env = self.api_key_env or (llm.api_key_env if llm else DEFAULT_API_KEY_ENV)
        return {"model": self.model, "base_url": public_url(resolve_base_url(base)), "api_key_env": key_env}


def resolve_review(lookup: Lookup) -> ReviewSettings | None:
    """The review settings from the options, or None when `--review-model` is not given."""
    model = lookup("review_model")[0]
    if not model:
        for name in ("review_base_url", "review_api_key_env"):
            if lookup(name)[0]:
                flag = "--" + name.replace("_", "-")
                raise ConfigError(f"{flag} needs --review-model: name the model that reviews")
        return None
    return ReviewSettings(
        model=str(model),
        base_url=lookup("review_base_url")[0] or None,
        api_key_env=lookup("review_api_key_env")[0] or None,
    )


class FailureReviewer:
    """Reviews one failed episode's simulator blame at a time; thread-safe (the client is)."""

    def __init__(self, settings: ReviewSettings, llm: LLMConfig | None):
        self.settings = settings
        base = (llm or LLMConfig()).endpoint("agent")
        endpoint = dataclasses.replace(
            base,
            base_url=resolve_base_url(settings.base_url or (llm.base_url if llm else None)),
            api_key_env=settings.api_key_env or base.api_key_env,
        )
        self.client = client_for(endpoint)

    def review(self, task: Task, entry: dict[str, Any]) -> None:
        """Confirm or overrule `entry`'s simulator blame in place; other entries are left alone."""
        failure = entry.get("failure")
        if not failure or failure.get("blame") != USER_SIMULATOR:
            return
        calls: list[CallUsage] = []
        try:
            completion = recorded_completion(
                self.client,
                calls,
                side=REVIEW_SIDE,
                model=self.settings.model,
                messages=review_messages(task, entry),
                temperature=0.0,
                seed=0,
            )
        except (InfrastructureError, ConfigError) as exc:
            # The review's own failure is not the agent's: the heuristic blame stands, and says so.
            failure["review"] = {"verdict": FAILED_REVIEW, "reason": str(exc), **_usage(calls)}
            return
        verdict, reason = parse_verdict(str(completion.message.get("content") or ""))
        review = {"verdict": verdict, "reason": reason, "model": self.settings.model, **_usage(calls)}
        failure["review"] = review
        if verdict == OVERRULED:
            review["overruled_cause"] = failure["cause"]
            agent_cause = failure.get("agent_cause")
            known = agent_cause in CAUSES and CAUSES[agent_cause].blame == AGENT
            failure["cause"] = agent_cause if known else "unexplained"
            failure["blame"] = AGENT


def review_messages(task: Task, entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The reviewer's request: the instruction, the claimed deviation, the conversation."""
    failure = entry["failure"]
    user = (
        f"## Instruction given to the simulated customer\n{task.instruction}\n\n"
        f"## What the analysis claims\n{cause_label(failure['cause'])}: {failure.get('detail', '')}\n\n"
        f"## The conversation\n{_transcript(entry.get('messages') or [])}"
    )
    return [{"role": "system", "content": REVIEW_PROMPT}, {"role": "user", "content": user}]


def parse_verdict(text: str) -> tuple[str, str]:
    """(confirmed | overruled | unclear, reason) from the reviewer's answer; unclear keeps the blame."""
    match = re.search(r"\{.*\}", text, re.S)
    try:
        answer = json.loads(match.group(0)) if match else None
    except json.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict):
        return UNCLEAR, f"the review model's answer was not the JSON asked for: {text[:200]!r}"
    verdict = str(answer.get("verdict", "")).strip().lower()
    reason = str(answer.get("reason", ""))[:500]
    if verdict.startswith("confirm"):
        return CONFIRMED, reason
    if verdict.startswith("overrule"):
        return OVERRULED, reason
    return UNCLEAR, f"unknown verdict {verdict[:40]!r}: {reason}"


def _transcript(messages: list[dict[str, Any]]) -> str:
    lines = []
    for message in messages:
        role = message.get("role")
        if role == "system":
            continue
        text = str(message.get("content") or "")
        functions = [call.get("function") or {} for call in message.get("tool_calls") or []]
        shown = "; ".join(f"calls {f.get('name', '?')}({f.get('arguments', '')})" for f in functions)
        lines.append(f"{role}: {text}{(' ' + shown) if shown else ''}".strip())
    transcript = "\n".join(lines)
    if len(transcript) > MAX_TRANSCRIPT_CHARS:
        half = MAX_TRANSCRIPT_CHARS // 2
        transcript = transcript[:half] + "\n[… clipped …]\n" + transcript[-half:]
    return transcript


def _usage(calls: list[CallUsage]) -> dict[str, Any]:
    """The review's own usage (requests, cache hits, tokens, cost), kept with its verdict."""
    usage = SideUsage()
    for call in calls:
        usage.add_call(call)
    return {"usage": usage.to_dict()}
