"""`taugepa llm-check`: ask each side's model one question, to check endpoint, key and model.

Takes the same LLM options as the benchmark (`pytest benchmarks --help`). The agent's
request carries the airline tools, so a server that cannot do tool calling is caught here.
It bypasses the response cache: a check must reach the endpoint.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import Any

from taugepa.llm.settings import add_llm_arguments

CHECK_PROMPT = "This is a connectivity check. Reply with the single word OK."


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "llm-check", help="send one request to the agent's and the user simulator's model and report"
    )
    add_llm_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from taugepa.errors import InfrastructureError
    from taugepa.llm.client import client_for
    from taugepa.llm.config import public_url
    from taugepa.llm.settings import resolve_llm_settings
    from taugepa.llm.usage import format_cost
    from taugepa.options import args_lookup
    from taugepa.world.engine import get_world

    llm = resolve_llm_settings(args_lookup(args), agent="llm").llm
    assert llm is not None
    llm = dataclasses.replace(llm, cache=False)
    tools = get_world().tool_schemas()
    for side in ("agent", "user"):
        endpoint = llm.endpoint(side)
        model = llm.model(side)
        started = time.perf_counter()
        try:
            completion = client_for(endpoint).complete(
                side=side,
                model=model,
                messages=[{"role": "user", "content": CHECK_PROMPT}],
                tools=tools if side == "agent" else None,
                temperature=llm.temperature,
                seed=llm.seed,
            )
        except InfrastructureError as exc:
            print(f"taugepa: error: {exc}", file=sys.stderr)
            return 1
        usage, elapsed = completion.usage, time.perf_counter() - started
        print(
            f"{side}: {model} at {public_url(endpoint.base_url)} answered in {elapsed:.2f} s "
            f"({usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens, "
            f"{format_cost(usage.cost_usd)}, {usage.retries} retries)"
        )
    return 0
