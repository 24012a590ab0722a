"""GEPA's reflection model, called through the `openai` SDK (taugepa.llm), not litellm.

The prompt asks for a better airline policy, not a cleverer one: the reflection must keep
the rules that are right, must not invent policy to fit a task whose gold is itself wrong,
and must return the whole policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from taugepa.errors import ConfigError, InfrastructureError
from taugepa.llm.client import client_for, recorded_completion
from taugepa.llm.config import (
    DEFAULT_API_KEY_ENV,
    Endpoint,
    LLMConfig,
    check_base_url,
    public_url,
    resolve_base_url,
)
from taugepa.llm.usage import CallUsage
from taugepa.optimize.proposals import (
    DEFAULT_MAX_WIKI_CHARS,
    FailedProposal,
    ProposalLedger,
    proposal_problem,
)

REFLECTION_SIDE = "reflection"

REFLECTION_PROMPT = """You maintain the policy ("wiki") that an airline customer-service agent follows. \
The agent is a language model that talks to customers and calls airline tools; the policy below is its \
whole system prompt:
```
<curr_param>
```

Below are conversations the agent had under this policy. For each: the customer's request, the tool \
calls the agent made, what the correct outcome required ("Expected"), and feedback on where the agent \
went wrong (or that it passed):
```
<side_info>
```

Write an improved policy that would make the agent handle such requests correctly.
- Keep every rule of the current policy that is right; change or add rules only where the feedback \
shows the agent misunderstood or missed something.
- Prefer precise, general rules (which tool to call, with which arguments, when to ask for \
confirmation, how to compute amounts) over rules about one particular customer or reservation.
- Some examples carry a "Note on this task" saying the expected outcome itself breaks the airline's \
policy: do not change the policy to fit those.
- Keep the whole policy under {max_chars} characters: a longer one is refused.
- Return the complete new policy, in Markdown, within ``` blocks."""

# One section of the wiki (`--components sections`). Filled in per section: {outline},
# {heading}, {subject}; GEPA fills <curr_param> (the section's text below its heading) and
# <side_info> (the records of failures that concern this section).
SECTION_PROMPT = """You maintain one section of the policy ("wiki") that an airline customer-service \
agent follows. The agent is a language model that talks to customers and calls airline tools; the \
whole policy is its system prompt. The policy's sections, in order: {outline}.

This is the section headed "{heading}" ({subject}); its heading stays as it is, here is its text:
```
<curr_param>
```

Below are conversations the agent had under this policy whose outcome concerns this section. For \
each: the customer's request, the tool calls the agent made, what the correct outcome required \
("Expected"), and feedback on where the agent went wrong (or that it passed):
```
<side_info>
```

Write an improved text for this section only, so that the agent handles such requests correctly.
- Keep every rule of the section that is right; change or add rules only where the feedback shows \
the agent misunderstood or missed something that belongs in this section.
- Prefer precise, general rules over rules about one particular customer or reservation.
- Some examples carry a "Note on this task" saying the expected outcome itself breaks the airline's \
policy: do not change the section to fit those.
- Return the complete new text of the section, without its heading, in Markdown, within ``` blocks."""

# One airline tool's description (`--components ...+tools`). Filled in per tool: {tool},
# {parameters}; GEPA fills <curr_param> (the description) and <side_info>.
TOOL_PROMPT = """You maintain the description of the airline tool `{tool}` that an airline \
customer-service agent sees beside the tool's parameters ({parameters}). The agent is a language \
model that follows a written policy, talks to customers and calls airline tools. The current \
description:
```
<curr_param>
```

Below are conversations in which the agent used this tool, or should have, and did not reach the \
correct outcome (with a few that passed). For each: the customer's request, the tool calls the agent \
made, what the correct outcome required ("Expected"), and feedback:
```
<side_info>
```

Write an improved description of `{tool}`: what it does, when to call it and when not to, and how \
to fill in its arguments, so that the agent uses it correctly.
- Keep what is right in the current description; it must agree with the airline's policy.
- Some examples carry a "Note on this task" saying the expected outcome itself breaks the airline's \
policy: do not change the description to fit those.
- Return only the new description, a short paragraph of plain text, within ``` blocks."""


@dataclass(frozen=True)
class ReflectionSettings:
    model: str
    base_url: str | None = None
    api_key_env: str = DEFAULT_API_KEY_ENV
    temperature: float | None = 1.0
    seed: int | None = 0
    timeout: float = 300.0
    max_retries: int = 6
    cache: bool = True
    cache_dir: str | None = None
    prices: tuple[tuple[Any, ...], ...] = ()
    rpm: float | None = None  # the run's caps on the reflection endpoint (--rpm, --tpm)
    tpm: float | None = None

    def __post_init__(self) -> None:
        if self.base_url:  # checked here so that a bad URL is refused before the search starts
            check_base_url(self.base_url, "--reflection-base-url")

    def endpoint(self) -> Endpoint:
        config = LLMConfig(
            agent_model=self.model,
            base_url=self.base_url,
            api_key_env=self.api_key_env,
            timeout=self.timeout,
            max_retries=self.max_retries,
            cache=self.cache,
            cache_dir=self.cache_dir,
            prices=self.prices,
            rpm=self.rpm,
            tpm=self.tpm,
        )
        return config.endpoint("agent")

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "base_url": public_url(resolve_base_url(self.base_url)),
            "api_key_env": self.api_key_env,
            "temperature": self.temperature,
            "seed": self.seed,
        }


class ReflectionModel:
    """The callable GEPA gets as `reflection_lm`: prompt in, text out; usage is recorded.

    GEPA catches whatever a proposal raises and goes on to the next iteration, so a dead
    reflection endpoint would quietly spend the whole budget on proposals that never come.
    The first failure is kept in `failure`; the optimize run stops on it (a stop callback)
    and reports it as what it is: an infrastructure error, or a configuration the endpoint
    refused (an unknown model, a bad key).
    """

    def __init__(self, settings: ReflectionSettings, max_chars: int = DEFAULT_MAX_WIKI_CHARS):
        self.settings = settings
        self.client = client_for(settings.endpoint())
        self.calls: list[CallUsage] = []
        self.failure: InfrastructureError | ConfigError | None = None
        self.proposals = ProposalLedger(max_chars)  # failed proposals (empty, too long), counted

    @property
    def cost_usd(self) -> float:
        return sum(call.cost_usd or 0.0 for call in self.calls)

    @property
    def cost_known(self) -> bool:
        return all(call.cost_usd is not None for call in self.calls)

    def __call__(self, prompt: str | list[dict[str, Any]]) -> str:
        messages = prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]
        try:
            completion = recorded_completion(
                self.client,
                self.calls,
                side=REFLECTION_SIDE,
                model=self.settings.model,
                messages=messages,
                temperature=self.settings.temperature,
                seed=self.settings.seed,
                cache_if=lambda message: proposal_problem(str(message.get("content") or ""), 10**12) is None,
            )
        except (InfrastructureError, ConfigError) as exc:  # ConfigError: refused, e.g. an unknown model
            self.failure = self.failure or exc
            raise
        answer = str(completion.message.get("content") or "")
        try:
            self.proposals.check(messages, answer)
        except FailedProposal:
            if self.proposals.stop_reason:
                self.failure = self.failure or InfrastructureError(self.proposals.stop_reason)
            raise
        return answer
