"""The LLM options, shared by the pytest plugin and the `taugepa` command line.

One table of options (models, endpoints, key variables, sampling, retries, cache, cost,
concurrency) and one function that validates their values into settings, so both front
ends accept the same flags and give the same one-line errors. Keys are never options: an
option names the environment variable that holds one.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taugepa.errors import ConfigError
from taugepa.guards.limits import CONCURRENCY, MAX_RETRIES, REQUEST_TIMEOUT_S, SEED, check_range
from taugepa.llm.config import DEFAULT_API_KEY_ENV, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S, LLMConfig
from taugepa.llm.prices import PriceTable

DEFAULT_LLM_CONCURRENCY = 8

# (flag, name, help); the plugin's ini names are `taugepa_<name>`
LLM_OPTIONS: list[tuple[str, str, str]] = [
    ("--agent-model", "agent_model", "the agent's model name at the endpoint (needed with --agent llm)"),
    ("--user-model", "user_model", "the user simulator's model (default: the agent's)"),
    ("--base-url", "base_url", "OpenAI-compatible endpoint (default: $OPENAI_BASE_URL, else OpenAI)"),
    ("--user-base-url", "user_base_url", "endpoint for the user simulator (default: --base-url)"),
    (
        "--api-key-env",
        "api_key_env",
        f"environment variable holding the API key (default {DEFAULT_API_KEY_ENV})",
    ),
    (
        "--user-api-key-env",
        "user_api_key_env",
        "environment variable holding the user simulator's key (default: --api-key-env)",
    ),
    ("--temperature", "temperature", "sampling temperature of both models (default 0; 'none': not sent)"),
    ("--seed", "seed", "sampling seed; trial t uses seed + t (default 0; 'none': not sent)"),
    (
        "--request-timeout",
        "request_timeout",
        f"seconds one LLM request may take in all: connect, headers and body (default {DEFAULT_TIMEOUT_S:g})",
    ),
    (
        "--max-retries",
        "max_retries",
        f"retries of a failed LLM request before the episode is an error (default {DEFAULT_MAX_RETRIES})",
    ),
    (
        "--concurrency",
        "concurrency",
        f"episodes in flight per process (default {DEFAULT_LLM_CONCURRENCY} with --agent llm, else 1)",
    ),
    ("--max-cost", "max_cost", "US dollars: start no new episode once the run has spent this much"),
    ("--prices", "prices", 'JSON file of prices, {"model": {"input": USD/1M, "output": USD/1M}}'),
    ("--llm-cache", "llm_cache", "folder of the LLM response cache (default: taugepa's cache folder)"),
]
NO_CACHE_FLAG = ("--no-llm-cache", "no_llm_cache", "neither read nor write the LLM response cache")

# lookup(name) -> (value or None, folder that a relative path in the value is relative to)
Lookup = Callable[[str], tuple[Any, Path | None]]


@dataclass(frozen=True)
class LLMSettings:
    """The LLM part of a run's settings."""

    llm: LLMConfig | None  # None unless the agent is an LLM
    concurrency: int
    max_cost: float | None


def resolve_llm_settings(lookup: Lookup, agent: str, use_cache: bool = True) -> LLMSettings:
    """Validate the LLM options into settings; any problem is a ConfigError with one line."""

    def value(name: str) -> Any:
        return lookup(name)[0]

    concurrency = _number(value("concurrency"), "--concurrency", int, minimum=1, limit=CONCURRENCY)
    max_cost = _number(value("max_cost"), "--max-cost", float, minimum=0.0, exclusive=True)
    timeout = _number(
        value("request_timeout"),
        "--request-timeout",
        float,
        minimum=0.0,
        exclusive=True,
        limit=REQUEST_TIMEOUT_S,
    )
    retries = _number(value("max_retries"), "--max-retries", int, minimum=0, limit=MAX_RETRIES)
    temperature = _optional_number(value("temperature"), "--temperature", float, default=0.0)
    seed = _optional_number(value("seed"), "--seed", int, default=0)
    if seed is not None:
        check_range("--seed", seed, -SEED[0] - 1, SEED)
    if temperature is not None and not 0 <= temperature <= 2:
        raise ConfigError(f"--temperature must be between 0 and 2, got {temperature:g}")
    if agent != "llm":
        return LLMSettings(llm=None, concurrency=concurrency or 1, max_cost=max_cost)
    agent_model = value("agent_model")
    if not agent_model:
        raise ConfigError(
            "--agent llm needs a model: pass --agent-model NAME (and --base-url URL for a server "
            "other than OpenAI), or run --agent oracle / --agent null"
        )
    prices_value, base = lookup("prices")
    prices = {}
    if prices_value:
        from taugepa.llm.price_file import load_prices  # pydantic: only for a run with a price file

        prices = load_prices(_path(prices_value, base))
    cache_value, base = lookup("llm_cache")
    llm = LLMConfig(
        agent_model=agent_model,
        user_model=value("user_model") or agent_model,
        base_url=value("base_url"),
        user_base_url=value("user_base_url"),
        api_key_env=value("api_key_env") or DEFAULT_API_KEY_ENV,
        user_api_key_env=value("user_api_key_env"),
        temperature=temperature,
        seed=seed,
        timeout=timeout if timeout is not None else DEFAULT_TIMEOUT_S,
        max_retries=retries if retries is not None else DEFAULT_MAX_RETRIES,
        cache=use_cache,
        cache_dir=str(_path(cache_value, base)) if cache_value else None,
        prices=tuple((name, price.input, price.output) for name, price in prices.items()),
    )
    if max_cost is not None:
        table = PriceTable(prices)
        for model in sorted({llm.agent_model, llm.user_model}):
            if table.price(model) is None:
                raise ConfigError(
                    f"--max-cost needs the price of model {model!r}, which taugepa does not know: "
                    'give it with --prices FILE ({"model": {"input": USD per 1M, "output": USD per 1M}})'
                )
    return LLMSettings(llm=llm, concurrency=concurrency or DEFAULT_LLM_CONCURRENCY, max_cost=max_cost)


def add_llm_arguments(parser: argparse.ArgumentParser, exclude: tuple[str, ...] = ()) -> None:
    """The LLM options on an argparse parser (for `taugepa` subcommands), but those in `exclude`."""
    group = parser.add_argument_group("LLM")
    for flag, name, help_text in LLM_OPTIONS:
        if name not in exclude:
            group.add_argument(flag, dest=name, default=None, help=help_text)
    flag, name, help_text = NO_CACHE_FLAG
    group.add_argument(flag, dest=name, action="store_true", help=help_text)


def llm_settings_from_args(args: argparse.Namespace, agent: str = "llm") -> LLMSettings:
    return resolve_llm_settings(lambda name: (getattr(args, name, None), None), agent, not args.no_llm_cache)


def _path(value: str, base: Path | None) -> Path:
    path = Path(value).expanduser()
    return path if base is None or path.is_absolute() else base / path


def _number(
    value: Any,
    flag: str,
    kind: type,
    *,
    minimum: float,
    exclusive: bool = False,
    limit: tuple[float, str] | None = None,
) -> Any:
    if value is None or value == "":
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):  # a 5,000-digit number is a ValueError too
        noun = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{flag} expects {noun}, got {str(value)[:40]!r}") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ConfigError(f"{flag} expects a finite number, got {value!r}")
    if number < minimum or (exclusive and number == minimum):
        bound = f"more than {minimum:g}" if exclusive else f"at least {minimum:g}"
        raise ConfigError(f"{flag} must be {bound}, got {value}")
    if limit is not None:
        check_range(flag, number, minimum, limit)
    return number


def _optional_number(value: Any, flag: str, kind: type, *, default: Any) -> Any:
    """A number, or None for 'none' (the parameter is then not sent)."""
    if value is None or value == "":
        return default
    if str(value).strip().lower() == "none":
        return None
    return _number(value, flag, kind, minimum=-math.inf)
