"""The LLM options, shared by the pytest plugin and the `taugepa` command line.

One table of options (models, endpoints, key variables, sampling, retries, cache, cost,
concurrency) and one function that validates their values into settings, so both front
ends accept the same flags and give the same one-line errors. Keys are never options: an
option names the environment variable that holds one.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taugepa.errors import ConfigError
from taugepa.files import write_json_atomically
from taugepa.guards.limits import CONCURRENCY, MAX_RETRIES, RATE_CAP, REQUEST_TIMEOUT_S, SEED, check_range
from taugepa.llm.config import DEFAULT_API_KEY_ENV, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S, LLMConfig
from taugepa.llm.prices import PriceTable, price_of
from taugepa.options import (
    OFF_SWITCH,
    Lookup,
    Option,
    add_arguments,
    number_value,
    optional_number,
    resolve_path,
    switch,
)

DEFAULT_LLM_CONCURRENCY = 8

LLM_OPTIONS: list[Option] = [
    Option(
        "--agent-model", "agent_model", "the agent's model name at the endpoint (needed with --agent llm)"
    ),
    Option("--user-model", "user_model", "the user simulator's model (default: the agent's)"),
    Option("--base-url", "base_url", "OpenAI-compatible endpoint (default: $OPENAI_BASE_URL, else OpenAI)"),
    Option("--user-base-url", "user_base_url", "endpoint for the user simulator (default: --base-url)"),
    Option(
        "--api-key-env",
        "api_key_env",
        f"environment variable holding the API key (default {DEFAULT_API_KEY_ENV})",
    ),
    Option(
        "--user-api-key-env",
        "user_api_key_env",
        "environment variable holding the user simulator's key (default: --api-key-env)",
    ),
    Option(
        "--temperature", "temperature", "sampling temperature of both models (default 0; 'none': not sent)"
    ),
    Option("--seed", "seed", "sampling seed; trial t uses seed + t (default 0; 'none': not sent)"),
    Option(
        "--request-timeout",
        "request_timeout",
        f"seconds one LLM request may take in all: connect, headers and body (default {DEFAULT_TIMEOUT_S:g})",
    ),
    Option(
        "--max-retries",
        "max_retries",
        f"retries of a failed LLM request before the episode is an error (default {DEFAULT_MAX_RETRIES})",
    ),
    Option(
        "--concurrency",
        "concurrency",
        f"episodes in flight per process (default {DEFAULT_LLM_CONCURRENCY} with --agent llm, else 1)",
    ),
    Option(
        "--rpm",
        "rpm",
        "requests a minute each LLM endpoint may get in all (its limit, if you know it); with -n N each "
        "worker keeps to 1/N of it. Default: none (429 answers are paced and waited out anyway)",
    ),
    Option(
        "--tpm",
        "tpm",
        "tokens a minute each LLM endpoint may get in all (prompt plus an allowance for the answer); "
        "with -n N each worker keeps to 1/N of it",
    ),
    Option("--max-cost", "max_cost", "US dollars: start no new episode once the run has spent this much"),
    Option(
        "--prices",
        "prices",
        'JSON file of prices, {"model": {"input": USD/1M, "output": USD/1M, "cached_input": USD/1M}}',
    ),
    Option("--llm-cache", "llm_cache", "folder of the LLM response cache (default: taugepa's cache folder)"),
    Option(
        "--no-llm-cache",
        "use_llm_cache",
        "neither read nor write the LLM response cache",
        kind=OFF_SWITCH,
    ),
]


@dataclass(frozen=True)
class LLMSettings:
    """The LLM part of a run's settings."""

    llm: LLMConfig | None  # None unless the agent is an LLM
    concurrency: int
    max_cost: float | None


def resolve_llm_settings(lookup: Lookup, agent: str, *, models_optional: bool = False) -> LLMSettings:
    """Validate the LLM options into settings; any problem is a ConfigError with one line.

    The `llm` agent needs models; another agent gets them only when `models_optional` (a
    user's agent, which may call a model) and --agent-model is given.
    """

    def value(name: str) -> Any:
        return lookup(name)[0]

    concurrency = number_value(value("concurrency"), "--concurrency", int, minimum=1, limit=CONCURRENCY)
    max_cost = number_value(value("max_cost"), "--max-cost", float, minimum=0.0, exclusive=True)
    timeout = number_value(
        value("request_timeout"),
        "--request-timeout",
        float,
        minimum=0.0,
        exclusive=True,
        limit=REQUEST_TIMEOUT_S,
    )
    retries = number_value(value("max_retries"), "--max-retries", int, minimum=0, limit=MAX_RETRIES)
    rpm = number_value(value("rpm"), "--rpm", float, minimum=0.0, exclusive=True, limit=RATE_CAP)
    tpm = number_value(value("tpm"), "--tpm", float, minimum=0.0, exclusive=True, limit=RATE_CAP)
    temperature = optional_number(value("temperature"), "--temperature", float, default=0.0)
    seed = optional_number(value("seed"), "--seed", int, default=0)
    if seed is not None:
        check_range("--seed", seed, -SEED[0] - 1, SEED)
    if temperature is not None and not 0 <= temperature <= 2:
        raise ConfigError(f"--temperature must be between 0 and 2, got {temperature:g}")
    if agent != "llm" and not (models_optional and value("agent_model")):
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

        prices = load_prices(resolve_path(prices_value, base))
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
        cache=switch(value("use_llm_cache"), default=True),
        cache_dir=str(resolve_path(cache_value, base)) if cache_value else None,
        prices=tuple(price.as_tuple(name) for name, price in prices.items()),
        rpm=rpm,
        tpm=tpm,
    )
    if max_cost is not None:
        table = PriceTable(prices)
        for model in sorted({agent_model, llm.user_model or agent_model}):
            if table.price(model) is None:
                raise ConfigError(
                    f"--max-cost needs the price of model {model!r}, which taugepa does not know: "
                    'give it with --prices FILE ({"model": {"input": USD per 1M, "output": USD per 1M}})'
                )
    return LLMSettings(llm=llm, concurrency=concurrency or DEFAULT_LLM_CONCURRENCY, max_cost=max_cost)


def add_llm_arguments(parser: argparse.ArgumentParser, exclude: tuple[str, ...] = ()) -> None:
    """The LLM options on an argparse parser (for `taugepa` subcommands), but those in `exclude`."""
    add_arguments(
        parser.add_argument_group("LLM"), [option for option in LLM_OPTIONS if option.name not in exclude]
    )


def llm_arguments(llm: LLMConfig | None, folder: Path) -> list[str]:
    """The command line that means these LLM settings (prices go in a file in `folder`)."""
    if llm is None:
        return []
    arguments = [
        "--agent-model",
        str(llm.agent_model),
        "--user-model",
        str(llm.user_model or llm.agent_model),
        "--base-url",
        llm.agent_base_url,
        "--user-base-url",
        llm.user_base_url_resolved,
        "--api-key-env",
        llm.api_key_env,
        "--user-api-key-env",
        llm.user_api_key_env or llm.api_key_env,
        "--temperature",
        "none" if llm.temperature is None else repr(llm.temperature),
        "--seed",
        "none" if llm.seed is None else str(llm.seed),
        "--request-timeout",
        repr(llm.timeout),
        "--max-retries",
        str(llm.max_retries),
    ]
    for flag, cap in (("--rpm", llm.rpm), ("--tpm", llm.tpm)):
        if cap is not None:
            arguments += [flag, repr(cap)]
    if not llm.cache:
        arguments.append("--no-llm-cache")
    elif llm.cache_dir:
        arguments += ["--llm-cache", llm.cache_dir]
    if llm.prices:
        prices = folder / "prices.json"
        write_json_atomically(prices, dict(price_document(entry) for entry in llm.prices))
        arguments += ["--prices", str(prices)]
    return arguments


def price_document(entry: tuple[Any, ...]) -> tuple[str, dict[str, float]]:
    """A price as a price file's entry: (model, {"input", "output"[, "cached_input"]})."""
    model, price = price_of(entry)
    document = {"input": price.input, "output": price.output}
    if price.cached_input is not None:
        document["cached_input"] = price.cached_input
    return model, document
