"""What LLM tokens cost: a price table for common OpenAI models, which the user can override.

Prices are US dollars per million tokens (input, output), as OpenAI lists them for standard
(non-batch, uncached) use. They change: check them, and pass your own with `--prices FILE`
(a JSON object `{"model": {"input": 2.5, "output": 10.0}}`), which wins over this table.
A dated model name (`gpt-4o-2024-08-06`) takes the price of its longest listed prefix.
Models with no price report tokens only (cost `null`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MAX_PRICE_USD = 100_000.0  # per million tokens: far above any listed price


@dataclass(frozen=True)
class Price:
    """US dollars per million input (prompt) and output (completion) tokens."""

    input: float
    output: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


# Standard-tier list prices, USD per 1M tokens (input, output); last checked 2025.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-5": Price(1.25, 10.00),
    "gpt-5-mini": Price(0.25, 2.00),
    "gpt-5-nano": Price(0.05, 0.40),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-4": Price(30.00, 60.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "o1": Price(15.00, 60.00),
    "o1-mini": Price(1.10, 4.40),
    "o3": Price(2.00, 8.00),
    "o3-mini": Price(1.10, 4.40),
    "o4-mini": Price(1.10, 4.40),
}


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

    def cost(self, model: str | None, prompt_tokens: int, completion_tokens: int) -> float | None:
        """The cost in US dollars, or None when the model has no price."""
        price = self.price(model)
        return None if price is None else price.cost(prompt_tokens, completion_tokens)
