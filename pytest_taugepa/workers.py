"""More pytest-xdist workers than CPUs only cost start-up: run one per CPU, same episodes in flight.

Each xdist worker is a whole pytest process. Its start-up (pytest and its plugins, the
collection, taugepa's tasks, the openai SDK) costs about half a second of CPU, and with more
workers than CPUs those start-ups queue behind each other: measured on 2 CPUs
(`scripts/bench_command.py`), pytest-xdist by itself makes 300 empty tests 3.5 times slower
with `-n 10` than with `-n 2`. Running more processes than CPUs never runs more Python at
once, and an LLM episode mostly waits on its model, which one process does on threads for
many episodes at a time (`--concurrency`). So a benchmark asked for more workers than CPUs
runs one worker per CPU and gives each the episodes in flight of the workers it replaces:
`-n 10 --concurrency 8` on 2 CPUs becomes 2 workers with 40 episodes in flight each, the
same 80 requests at a time. A built-in agent (oracle, null) only needs the CPU: one worker
per CPU is the fastest there is. `--keep-workers` runs exactly the `-n` asked for.

Verdicts never depend on the number of workers or on the episodes in flight.
"""

from __future__ import annotations

import math
import os
from typing import Any

import pytest

from taugepa.guards.limits import CONCURRENCY

CONCURRENCY_INPUT = "taugepa_concurrency"  # xdist workerinput key: episodes in flight per worker


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, where the system has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def fold_workers(config: pytest.Config, settings: Any, cpus: int | None = None) -> tuple[Any, str | None]:
    """On the xdist controller: fewer workers, as many episodes in flight; (settings, what was done).

    Call before the session starts (pytest_configure): xdist spawns its workers from
    `config.option.tx` at session start. The workers parse the command line again, so they
    learn their episodes in flight from the controller (`worker_settings`).
    """
    tx = list(getattr(config.option, "tx", None) or [])
    asked = len(tx)
    cpus = cpus or available_cpus()
    if hasattr(config, "workerinput") or asked <= cpus or any(spec != "popen" for spec in tx):
        return settings, None  # a worker, few enough workers, or workers on other hosts
    if config.getoption("taugepa_keep_workers") or config.getini("taugepa_keep_workers"):
        return settings, None
    harness = settings.harness
    in_flight = asked * harness.concurrency
    if harness.llm is None:
        workers, concurrency = cpus, harness.concurrency
        why = f"the {harness.agent} agent needs only the CPU"
    else:
        workers = max(cpus, math.ceil(in_flight / CONCURRENCY[0]))
        concurrency = max(harness.concurrency, in_flight // workers)  # never more than asked in all
        why = f"{concurrency} episodes in flight each, {workers * concurrency} in all"
    if workers >= asked:
        return settings, None
    config.option.tx = ["popen"] * workers
    config.option.numprocesses = workers
    note = (
        f"-n {asked} on {cpus} CPUs: running {workers} worker processes ({why}); more processes than "
        f"CPUs would only add start-up. --keep-workers runs {asked}"
    )
    return settings.with_concurrency(concurrency), note


def worker_settings(config: pytest.Config, settings: Any) -> Any:
    """On an xdist worker: the episodes in flight the controller chose (see `fold_workers`)."""
    concurrency = getattr(config, "workerinput", {}).get(CONCURRENCY_INPUT)
    if concurrency is None or concurrency == settings.harness.concurrency:
        return settings
    return settings.with_concurrency(int(concurrency))
