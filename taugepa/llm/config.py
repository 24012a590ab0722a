"""Where the agent's and the user simulator's models are: endpoints, key variable names, limits.

Keys are named by environment variable, never held: `read_api_key` reads one only when a
client is built, and `public_url` strips anything secret from a URL before it is printed or
stored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from taugepa.errors import ConfigError

DEFAULT_BASE_URL = "https://api.openai.com/v1"

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"

DEFAULT_TIMEOUT_S = 120.0

DEFAULT_MAX_RETRIES = 5

DEFAULT_RETRY_DELAY_S = 1.0


class LLMConfigError(ConfigError):
    """The endpoint refused the request for a reason retrying cannot fix: stop the session."""


@dataclass(frozen=True)
class LLMConfig:
    """How to reach the agent's and the user simulator's models (key *names*, never values)."""

    agent_model: str | None = None
    user_model: str | None = None
    base_url: str | None = None  # None: $OPENAI_BASE_URL, else OpenAI's
    user_base_url: str | None = None  # None: the agent's
    api_key_env: str = DEFAULT_API_KEY_ENV
    user_api_key_env: str | None = None  # None: the agent's
    temperature: float | None = 0.0  # None: not sent (for models that accept only their default)
    seed: int | None = 0  # trial t of a task uses seed + t
    timeout: float = DEFAULT_TIMEOUT_S
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_delay: float = DEFAULT_RETRY_DELAY_S  # first backoff pause; doubles per retry
    cache: bool = True
    cache_dir: str | None = None  # None: taugepa's cache folder
    # (model, input, output[, cached input]) USD per 1M tokens
    prices: tuple[tuple[Any, ...], ...] = ()
    rpm: float | None = None  # requests a minute per endpoint, for the whole run (--rpm)
    tpm: float | None = None  # tokens a minute per endpoint, for the whole run (--tpm)
    max_user_turns: int = 30

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ConfigError(f"the request timeout must be a positive number of seconds, got {self.timeout}")
        if self.max_retries < 0:
            raise ConfigError(f"max retries must be 0 or more, got {self.max_retries}")
        if self.retry_delay < 0:
            raise ConfigError(f"the retry delay must be 0 or more seconds, got {self.retry_delay}")
        if self.temperature is not None and not 0 <= self.temperature <= 2:
            raise ConfigError(f"temperature must be between 0 and 2, got {self.temperature}")
        if self.max_user_turns < 1:
            raise ConfigError(
                f"the simulated user's turn limit must be at least 1, got {self.max_user_turns}"
            )
        for value, source in ((self.base_url, "--base-url"), (self.user_base_url, "--user-base-url")):
            if value:
                check_base_url(value, source)

    def trial_seed(self, trial: int) -> int | None:
        """Trials of one task differ only by the seed their models sample with."""
        return None if self.seed is None else self.seed + trial

    @property
    def agent_base_url(self) -> str:
        return resolve_base_url(self.base_url)

    @property
    def user_base_url_resolved(self) -> str:
        return resolve_base_url(self.user_base_url or self.base_url)

    def endpoint(self, side: str) -> Endpoint:
        """Where the agent's (`side="agent"`) or the user simulator's requests go."""
        if side == "agent":
            url, key_env = self.agent_base_url, self.api_key_env
        else:
            url, key_env = self.user_base_url_resolved, self.user_api_key_env or self.api_key_env
        return Endpoint(
            base_url=url,
            api_key_env=key_env,
            timeout=self.timeout,
            max_retries=self.max_retries,
            retry_delay=self.retry_delay,
            cache_dir=(self.cache_dir or "") if self.cache else None,
            prices=self.prices,
            rpm=self.rpm,
            tpm=self.tpm,
        )

    def model(self, side: str) -> str:
        model = self.agent_model if side == "agent" else self.user_model
        if not model:
            flag = "--agent-model" if side == "agent" else "--user-model"
            raise ConfigError(f"no {side} model given: pass {flag} NAME")
        return model

    def describe(self) -> dict[str, Any]:
        """The settings as recorded in a scores file: URLs without credentials, key variable names."""
        return {
            "agent_model": self.agent_model,
            "user_model": self.user_model,
            "base_url": public_url(self.agent_base_url),
            "user_base_url": public_url(self.user_base_url_resolved),
            "api_key_env": self.api_key_env,
            "user_api_key_env": self.user_api_key_env or self.api_key_env,
            "temperature": self.temperature,
            "seed": self.seed,
            "timeout_s": self.timeout,
            "max_retries": self.max_retries,
            "cache": self.cache,
            "max_user_turns": self.max_user_turns,
        }


def resolve_base_url(value: str | None) -> str:
    if not value and os.environ.get("OPENAI_BASE_URL"):
        check_base_url(os.environ["OPENAI_BASE_URL"], "$OPENAI_BASE_URL")
    return (value or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


def check_base_url(url: str, source: str) -> None:
    """Refuse an endpoint URL that is not http(s) or that carries credentials.

    `http://user:KEY@host/v1` would make the SDK send the key as Basic auth with every
    request, and servers echo that header back in errors (base64 of `user:KEY`, which no
    scrubbing of the literal key catches). The key belongs in the environment variable.
    The message shows the URL without its credentials.
    """
    parts = urlsplit(url)
    shown = public_url(url)
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"{source} must not contain credentials (user:password@ in {shown}): they would be sent "
            "with every request and can be echoed back by the server; put the key in the environment "
            "variable named by --api-key-env (default OPENAI_API_KEY) instead"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # Without a scheme the value may be anything pasted by mistake (a key, say): not echoed.
        what = f"{source} {shown!r}" if parts.scheme else source
        raise ConfigError(f"{what} is not an http(s) URL: give one such as http://localhost:8000/v1")


def public_url(url: str) -> str:
    """A URL safe to print or store: no user:password, query or fragment (they can hold keys)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass(frozen=True)
class Endpoint:
    """One OpenAI-compatible server as a client sees it; clients are shared per endpoint."""

    base_url: str
    api_key_env: str
    timeout: float
    max_retries: int
    retry_delay: float
    cache_dir: str | None  # None: no cache; "": the default folder
    prices: tuple[tuple[Any, ...], ...] = ()
    rpm: float | None = None  # the run's caps on this endpoint (taugepa.llm.rate_limits)
    tpm: float | None = None


def read_api_key(env_name: str) -> str:
    """The key in `$env_name`; a missing one is a ConfigError naming the variable."""
    value = os.environ.get(env_name, "").strip()
    if not value:
        raise LLMConfigError(
            f"no API key: set the environment variable {env_name} "
            "(any non-empty value for a local server that needs no key)"
        )
    return value
