"""What LLM tokens cost: a price table for common OpenAI models, which the user can override.

Prices are US dollars per million tokens (input, output, cached input), as OpenAI lists them
for standard (non-batch) use. Input tokens the provider served from its prompt cache
(`usage.prompt_tokens_details.cached_tokens`) cost the cached-input price; reasoning tokens
are part of the completion tokens and cost the output price, as OpenAI bills them. They
change: check them, and pass your own with `--prices FILE` (a JSON object
`{"model": {"input": 2.5, "output": 10.0, "cached_input": 1.25}}`; without `cached_input`
cached tokens cost the input price), which wins over this table.
A dated model name (`gpt-4o-2024-08-06`) takes the price of its longest listed prefix.
Models with no price report tokens only (cost `null`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_PRICE_USD = 100_000.0  # per million tokens: far above any listed price


@dataclass(frozen=True)
class Price:
    """US dollars per million input (prompt), output (completion) and cached input tokens."""

    input: float
    output: float
    cached_input: float | None = None  # None: cached tokens cost the input price (no cache discount)

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float:
        cached = min(max(0, cached_tokens), prompt_tokens)
        cached_price = self.input if self.cached_input is None else self.cached_input
        paid = (prompt_tokens - cached) * self.input + cached * cached_price + completion_tokens * self.output
        return paid / 1_000_000

    def as_tuple(self, model: str) -> tuple[Any, ...]:
        """(model, input, output[, cached input]) as LLM settings keep prices."""
        base = (model, self.input, self.output)
        return base if self.cached_input is None else (*base, self.cached_input)


# Standard-tier list prices, USD per 1M tokens (input, output, cached input); last checked 2025.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-5": Price(1.25, 10.00, 0.125),
    "gpt-5-mini": Price(0.25, 2.00, 0.025),
    "gpt-5-nano": Price(0.05, 0.40, 0.005),
    "gpt-4.1": Price(2.00, 8.00, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "gpt-4o": Price(2.50, 10.00, 1.25),
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-4": Price(30.00, 60.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "o1": Price(15.00, 60.00, 7.50),
    "o1-mini": Price(1.10, 4.40, 0.55),
    "o3": Price(2.00, 8.00, 0.50),
    "o3-mini": Price(1.10, 4.40, 0.55),
    "o4-mini": Price(1.10, 4.40, 0.275),
}


def price_of(entry: tuple[Any, ...]) -> tuple[str, Price]:
    """A price as LLM settings keep it, (model, input, output[, cached input]), as a Price."""
    model, rest = entry[0], entry[1:]
    return model, Price(rest[0], rest[1], rest[2] if len(rest) > 2 else None)


class PriceTable:
    """Looks up the price of a model: overrides first, then the defaults, by longest prefix."""

    def __init__(self, overrides: Mapping[str, Price] | None = None, use_defaults: bool = True):
        self.prices = {**(DEFAULT_PRICES if use_defaults else {}), **(overrides or {})}

    def price(self, model: str | None) -> Price | None:
        if not model:
            return None
        if model in self.prices:
            return self.prices[model]
        name = model.rsplit("/", 1)[-1]  # "openai/gpt-4o" as LiteLLM proxies name it
        candidates = [known for known in self.prices if name == known or name.startswith(known + "-")]
        return self.prices[max(candidates, key=len)] if candidates else None

    def cost(
        self, model: str | None, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0
    ) -> float | None:
        """The cost in US dollars, or None when the model has no price."""
        price = self.price(model)
        return None if price is None else price.cost(prompt_tokens, completion_tokens, cached_tokens)
