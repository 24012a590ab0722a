"""The benchmark's LLM options (models, endpoints, keys, sampling, retries, cache, cost, concurrency).

Like the other options they can be set in the ini file as `taugepa_<name>`; the command
line wins. Keys are never options: an option names the environment variable holding one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from taugepa.errors import ConfigError
from taugepa.llm import DEFAULT_API_KEY_ENV, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S, LLMConfig
from taugepa.pricing import PriceTable, load_prices

DEFAULT_LLM_CONCURRENCY = 8

# (flag, ini name, help)
LLM_OPTIONS: list[tuple[str, str, str]] = [
    (
        "--agent-model",
        "taugepa_agent_model",
        "the agent's model name at the endpoint (needed with --agent llm)",
    ),
    ("--user-model", "taugepa_user_model", "the user simulator's model (default: the agent's)"),
    ("--base-url", "taugepa_base_url", "OpenAI-compatible endpoint (default: $OPENAI_BASE_URL, else OpenAI)"),
    ("--user-base-url", "taugepa_user_base_url", "endpoint for the user simulator (default: --base-url)"),
    (
        "--api-key-env",
        "taugepa_api_key_env",
        f"environment variable holding the API key (default {DEFAULT_API_KEY_ENV})",
    ),
    (
        "--user-api-key-env",
        "taugepa_user_api_key_env",
        "environment variable holding the user simulator's key (default: --api-key-env)",
    ),
    (
        "--temperature",
        "taugepa_temperature",
        "sampling temperature of both models (default 0; 'none': not sent)",
    ),
    ("--seed", "taugepa_seed", "sampling seed; trial t uses seed + t (default 0; 'none': not sent)"),
    (
        "--request-timeout",
        "taugepa_request_timeout",
        f"seconds to wait for one LLM answer (default {DEFAULT_TIMEOUT_S:g})",
    ),
    (
        "--max-retries",
        "taugepa_max_retries",
        f"retries of a failed LLM request before the episode is an error (default {DEFAULT_MAX_RETRIES})",
    ),
    (
        "--concurrency",
        "taugepa_concurrency",
        f"episodes in flight per process (default {DEFAULT_LLM_CONCURRENCY} with --agent llm, else 1)",
    ),
    ("--max-cost", "taugepa_max_cost", "US dollars: start no new episode once the run has spent this much"),
    ("--prices", "taugepa_prices", 'JSON file of prices, {"model": {"input": USD/1M, "output": USD/1M}}'),
    (
        "--llm-cache",
        "taugepa_llm_cache",
        "folder of the LLM response cache (default: taugepa's cache folder)",
    ),
]


def add_llm_options(group: Any, parser: pytest.Parser) -> None:
    for flag, ini, help_text in LLM_OPTIONS:
        group.addoption(flag, dest=ini, default=None, help=help_text)
        parser.addini(ini, help_text, type="string", default=None)
    group.addoption(
        "--no-llm-cache",
        dest="taugepa_no_llm_cache",
        action="store_true",
        default=None,
        help="neither read nor write the LLM response cache",
    )
    parser.addini(
        "taugepa_use_llm_cache", "use the LLM response cache (default true)", type="bool", default=True
    )


@dataclass(frozen=True)
class LLMSettings:
    """The LLM part of a benchmark session's settings."""

    llm: LLMConfig | None  # None unless the agent is an LLM
    concurrency: int
    max_cost: float | None


def resolve_llm_settings(
    get: Callable[[str], tuple[Any, Path | None]], config: pytest.Config, agent: str
) -> LLMSettings:
    """Validate the LLM options; `get(ini)` returns (value, folder of relative paths)."""
    value = lambda ini: get(ini)[0]  # noqa: E731
    concurrency = _number(value("taugepa_concurrency"), "--concurrency", int, minimum=1)
    max_cost = _number(value("taugepa_max_cost"), "--max-cost", float, minimum=0.0, exclusive=True)
    timeout = _number(
        value("taugepa_request_timeout"), "--request-timeout", float, minimum=0.0, exclusive=True
    )
    retries = _number(value("taugepa_max_retries"), "--max-retries", int, minimum=0)
    temperature = _optional_number(value("taugepa_temperature"), "--temperature", float, default=0.0)
    seed = _optional_number(value("taugepa_seed"), "--seed", int, default=0)
    if temperature is not None and not 0 <= temperature <= 2:
        raise ConfigError(f"--temperature must be between 0 and 2, got {temperature:g}")
    if agent != "llm":
        return LLMSettings(llm=None, concurrency=concurrency or 1, max_cost=max_cost)
    agent_model = value("taugepa_agent_model")
    if not agent_model:
        raise ConfigError(
            "--agent llm needs a model: pass --agent-model NAME (and --base-url URL for a server "
            "other than OpenAI), or run --agent oracle / --agent null"
        )
    prices_value, base = get("taugepa_prices")
    prices = load_prices(_path(prices_value, base)) if prices_value else {}
    cache_value, base = get("taugepa_llm_cache")
    no_cache = config.getoption("taugepa_no_llm_cache")
    use_cache = not no_cache if no_cache is not None else bool(config.getini("taugepa_use_llm_cache"))
    llm = LLMConfig(
        agent_model=agent_model,
        user_model=value("taugepa_user_model") or agent_model,
        base_url=value("taugepa_base_url"),
        user_base_url=value("taugepa_user_base_url"),
        api_key_env=value("taugepa_api_key_env") or DEFAULT_API_KEY_ENV,
        user_api_key_env=value("taugepa_user_api_key_env"),
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
        for model in {llm.agent_model, llm.user_model}:
            if table.price(model) is None:
                raise ConfigError(
                    f"--max-cost needs the price of model {model!r}, which taugepa does not know: "
                    'give it with --prices FILE ({"model": {"input": USD per 1M, "output": USD per 1M}})'
                )
    return LLMSettings(llm=llm, concurrency=concurrency or DEFAULT_LLM_CONCURRENCY, max_cost=max_cost)


def _path(value: str, base: Path | None) -> Path:
    path = Path(value).expanduser()
    return path if base is None or path.is_absolute() else base / path


def _number(value: Any, flag: str, kind: type, *, minimum: float, exclusive: bool = False) -> Any:
    if value is None or value == "":
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        noun = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{flag} expects {noun}, got {value!r}") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ConfigError(f"{flag} expects a finite number, got {value!r}")
    if number < minimum or (exclusive and number == minimum):
        bound = f"more than {minimum:g}" if exclusive else f"at least {minimum:g}"
        raise ConfigError(f"{flag} must be {bound}, got {value}")
    return number


def _optional_number(value: Any, flag: str, kind: type, *, default: Any) -> Any:
    """A number, or None for 'none' (the parameter is then not sent)."""
    if value is None or value == "":
        return default
    if str(value).strip().lower() == "none":
        return None
    return _number(value, flag, kind, minimum=-math.inf)
