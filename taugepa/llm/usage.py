"""LLM usage and cost: per call, per episode (agent and user apart) and per run.

Tokens and cost count what this run paid for: completions that came from the network.
Completions served from taugepa's response cache are counted as `cache_hits` and cost
nothing. Prompt tokens the provider served from its own prompt cache are `cached_tokens`
(part of `prompt_tokens`, priced at the cached-input price), reasoning tokens are
`reasoning_tokens` (part of `completion_tokens`). A model without a price (see
`taugepa.llm.prices`) reports tokens only: its cost is None. Rate limits show as
`rate_limited` (429 answers that were waited out) and `rate_wait_s` (seconds requests spent
waiting for the endpoint, `taugepa.llm.rate_limits`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from taugepa.protocol import PASSED

SIDES = ("agent", "user")


@dataclass
class CallUsage:
    """One completion: its tokens, whether it came from the cache, how many retries it took.

    A request that failed after all its retries is recorded too (`failed`, no tokens).
    """

    side: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached: bool
    retries: int
    cost_usd: float | None
    failed: bool = False
    cached_tokens: int = 0  # of prompt_tokens, served from the provider's prompt cache
    reasoning_tokens: int = 0  # of completion_tokens
    rate_limited: int = 0  # rate-limit answers waited out
    rate_wait_s: float = 0.0  # seconds waiting for the endpoint (pacing, pauses after 429s)
    in_flight_limit: int | None = None  # the endpoint's in-flight limit when sent, while rate limited

    def to_dict(self) -> dict[str, Any]:
        """As a scores file keeps it: the fields added since version 1 only when they are set."""
        data = asdict(self)
        data["rate_wait_s"] = round(data["rate_wait_s"], 3)
        for name in _OPTIONAL_CALL_FIELDS:
            if not data[name]:
                del data[name]
        return data


_OPTIONAL_CALL_FIELDS = (
    "cached_tokens",
    "reasoning_tokens",
    "rate_limited",
    "rate_wait_s",
    "in_flight_limit",
)
_COUNTS = (
    "requests",
    "cache_hits",
    "retries",
    "failures",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "rate_limited",
)


@dataclass
class SideUsage:
    """Totals for one side (agent, user or reflection) of an episode or a run."""

    model: str | None = None
    requests: int = 0  # completions that came from the network
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0  # requests that still failed after all retries
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    rate_limited: int = 0
    rate_wait_s: float = 0.0
    in_flight_limit: int | None = None  # the lowest in-flight limit a rate limit imposed

    def add_call(self, call: CallUsage) -> None:
        self.model = self.model or call.model
        self.retries += call.retries
        self.rate_limited += call.rate_limited
        self.rate_wait_s += call.rate_wait_s
        self.in_flight_limit = _lowest(self.in_flight_limit, call.in_flight_limit)
        if call.failed:
            self.failures += 1
            return
        if call.cached:
            self.cache_hits += 1
            self.cost_usd = _add_cost(self.cost_usd, call.cost_usd)  # 0, or None without a price
            return
        self.requests += 1
        self.prompt_tokens += call.prompt_tokens
        self.completion_tokens += call.completion_tokens
        self.cached_tokens += call.cached_tokens
        self.reasoning_tokens += call.reasoning_tokens
        self.cost_usd = _add_cost(self.cost_usd, call.cost_usd)

    def add(self, other: dict[str, Any]) -> None:
        self.model = self.model or other.get("model")
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + int(other.get(name) or 0))
        self.rate_wait_s += float(other.get("rate_wait_s") or 0.0)
        self.in_flight_limit = _lowest(self.in_flight_limit, other.get("in_flight_limit"))
        self.cost_usd = _add_cost(self.cost_usd, other.get("cost_usd"))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["cost_usd"] is not None:
            data["cost_usd"] = round(data["cost_usd"], 8)
        data["rate_wait_s"] = round(data["rate_wait_s"], 3)
        if data["in_flight_limit"] is None:
            del data["in_flight_limit"]
        return data

    def cached_share(self) -> float | None:
        """The share of prompt tokens the provider served from its prompt cache."""
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else None


def token_details(usage: dict[str, Any], prompt_tokens: int, completion_tokens: int) -> tuple[int, int]:
    """(cached, reasoning) tokens of a completion's `usage`, from its `prompt_tokens_details` and
    `completion_tokens_details` as OpenAI reports them (0 when absent or malformed)."""

    def detail(section: str, name: str, most: int) -> int:
        details = usage.get(section)
        value = details.get(name) if isinstance(details, dict) else None
        return min(most, value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0

    return (
        detail("prompt_tokens_details", "cached_tokens", prompt_tokens),
        detail("completion_tokens_details", "reasoning_tokens", completion_tokens),
    )


def _lowest(current: int | None, other: Any) -> int | None:
    if not isinstance(other, int):
        return current
    return other if current is None else min(current, other)


def _add_cost(total: float | None, cost: float | None) -> float | None:
    return None if total is None or cost is None else total + cost


@dataclass
class UsageMeter:
    """Collects the calls of one episode (shared by its agent and user simulator)."""

    calls: list[CallUsage] = field(default_factory=list)

    def record(self, call: CallUsage) -> None:
        self.calls.append(call)

    def to_dict(self) -> dict[str, Any]:
        """The episode's `usage` entry: totals per side, the total cost and every call."""
        sides = {side: SideUsage() for side in SIDES}
        for call in self.calls:
            sides.setdefault(call.side, SideUsage()).add_call(call)
        return {
            **{side: usage.to_dict() for side, usage in sides.items()},
            "cost_usd": total_cost(sides.values()),
            "calls": [call.to_dict() for call in self.calls],
        }


def total_cost(sides: Iterable[SideUsage]) -> float | None:
    total: float | None = 0.0
    for usage in sides:
        total = _add_cost(total, usage.cost_usd)
    return None if total is None else round(total, 8)


def episode_cost(usage: dict[str, Any] | None) -> float:
    """Dollars an episode spent (0 for episodes without LLM calls or without a price)."""
    return float((usage or {}).get("cost_usd") or 0.0)


def run_usage(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Per-run totals from scores-file episode entries: per side, the total cost, the cost per
    passed episode, the share of prompt tokens served from the providers' prompt caches, and
    the rate limits met."""
    sides = {side: SideUsage() for side in SIDES}
    passed = 0
    for entry in entries:
        passed += entry.get("outcome") == PASSED
        usage = entry.get("usage") or {}
        for side in SIDES:
            if usage.get(side):
                sides[side].add(usage[side])
    return usage_totals(sides, passed)


def usage_totals(sides: dict[str, SideUsage], passed: int) -> dict[str, Any]:
    """A run's usage section from its sides' totals and its passed episodes."""
    totals = {side: usage.to_dict() for side, usage in sides.items()}
    cost = total_cost(sides.values())
    prompt = sum(usage.prompt_tokens for usage in sides.values())
    cached = sum(usage.cached_tokens for usage in sides.values())
    return {
        **totals,
        "cost_usd": cost,
        "passed": passed,
        "cost_per_pass_usd": round(cost / passed, 8) if cost is not None and passed else None,
        "cached_share": round(cached / prompt, 4) if prompt else None,
        "rate_limited": sum(usage.rate_limited for usage in sides.values()),
        "rate_wait_s": round(sum(usage.rate_wait_s for usage in sides.values()), 3),
    }


def usage_lines(usage: dict[str, Any] | None, sides: Iterable[str] = SIDES) -> list[str]:
    """Terminal summary lines for a run's usage (nothing when no LLM was called)."""
    if not usage:
        return []
    sides = [side for side in sides if (usage.get(side) or {}).get("model")]
    if not sides:
        return []
    width = max(5, *(len(side) for side in sides))
    lines = []
    for side in sides:
        tally = usage[side]
        failures = f", {tally['failures']} failed after retries" if tally.get("failures") else ""
        prompt = tally["prompt_tokens"]
        cached = tally.get("cached_tokens") or 0
        cached_text = f" ({cached:,} from the provider's cache, {cached / prompt:.0%})" if cached else ""
        reasoning = tally.get("reasoning_tokens") or 0
        reasoning_text = f" ({reasoning:,} reasoning)" if reasoning else ""
        completion = tally["completion_tokens"]
        lines.append(
            f"  {side:<{width}}  {tally['model']}: {tally['requests']} requests, "
            f"{tally['cache_hits']} cached, "
            f"{tally['retries']} retries{failures}, {prompt:,} prompt{cached_text} + "
            f"{completion:,} completion tokens{reasoning_text}, {format_cost(tally['cost_usd'])}"
        )
        if tally.get("rate_limited") or (tally.get("rate_wait_s") or 0) >= 0.5:
            lines.append(
                f"  {'':<{width}}  rate limits: {tally.get('rate_limited') or 0} answers 429 waited out, "
                f"{tally.get('rate_wait_s') or 0:.1f} s waiting for the endpoint (all requests together)"
            )
    total = f"  {'total':<{width}}  {format_cost(usage.get('cost_usd'))}"
    if usage.get("cost_per_pass_usd") is not None:
        total += f", {format_cost(usage['cost_per_pass_usd'])} per passed episode ({usage['passed']} passed)"
    if usage.get("cached_share"):
        total += f"; {usage['cached_share']:.0%} of prompt tokens from the providers' prompt caches"
    return ["LLM usage (tokens and cost of this run's requests; cached answers are free):", *lines, total]


def format_cost(cost: float | None) -> str:
    return "cost unknown (no price for this model)" if cost is None else f"${cost:.4f}"
