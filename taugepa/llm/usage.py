"""LLM usage and cost: per call, per episode (agent and user apart) and per run.

Tokens and cost count what this run paid for: completions that came from the network.
Completions served from the response cache are counted as `cache_hits` and cost nothing.
A model without a price (see `taugepa.llm.prices`) reports tokens only: its cost is None.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

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


@dataclass
class SideUsage:
    """Totals for one side (agent or user) of an episode or a run."""

    model: str | None = None
    requests: int = 0  # completions that came from the network
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0  # requests that still failed after all retries
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0

    def add_call(self, call: CallUsage) -> None:
        self.model = self.model or call.model
        self.retries += call.retries
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
        self.cost_usd = _add_cost(self.cost_usd, call.cost_usd)

    def add(self, other: dict[str, Any]) -> None:
        self.model = self.model or other.get("model")
        for name in ("requests", "cache_hits", "retries", "failures", "prompt_tokens", "completion_tokens"):
            setattr(self, name, getattr(self, name) + int(other.get(name) or 0))
        self.cost_usd = _add_cost(self.cost_usd, other.get("cost_usd"))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["cost_usd"] is not None:
            data["cost_usd"] = round(data["cost_usd"], 8)
        return data


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
            "calls": [asdict(call) for call in self.calls],
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
    """Per-run totals from scores-file episode entries: per side, and the total cost."""
    sides = {side: SideUsage() for side in SIDES}
    for entry in entries:
        usage = entry.get("usage") or {}
        for side in SIDES:
            if usage.get(side):
                sides[side].add(usage[side])
    totals = {side: usage.to_dict() for side, usage in sides.items()}
    return {**totals, "cost_usd": total_cost(sides.values())}


def usage_lines(usage: dict[str, Any] | None) -> list[str]:
    """Terminal summary lines for a run's usage (nothing when no LLM was called)."""
    if not usage or not any((usage.get(side) or {}).get("model") for side in SIDES):
        return []
    lines = []
    for side in SIDES:
        tally = usage.get(side) or {}
        if not tally.get("model"):
            continue
        failures = f", {tally['failures']} failed after retries" if tally.get("failures") else ""
        lines.append(
            f"  {side:<5}  {tally['model']}: {tally['requests']} requests, {tally['cache_hits']} cached, "
            f"{tally['retries']} retries{failures}, {tally['prompt_tokens']:,} prompt + "
            f"{tally['completion_tokens']:,} completion tokens, {format_cost(tally['cost_usd'])}"
        )
    return ["LLM usage (tokens and cost of this run's requests; cached answers are free):", *lines] + [
        f"  total  {format_cost(usage.get('cost_usd'))}"
    ]


def format_cost(cost: float | None) -> str:
    return "cost unknown (no price for this model)" if cost is None else f"${cost:.4f}"
