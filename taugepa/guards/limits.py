"""Every limit taugepa puts on its inputs, in one place, each with the reason a user is told.

Files are read only up to a size (a path to `/dev/zero` must not fill the memory), JSON only
to a nesting depth and with numbers of sane size (a 200,000-deep list or a 5,000-digit
integer must be one clear line, not a crash), and numeric options only up to what a machine
can hold (`--trials 100000000` would build a hundred million test cases before printing
anything).
"""

from __future__ import annotations

import math
from typing import Any

from taugepa.errors import ConfigError

MiB = 1024 * 1024

# --- files (bytes) -------------------------------------------------------------------------
MAX_TASK_FILE_BYTES = 64 * MiB
MAX_SCORES_FILE_BYTES = 1024 * MiB
MAX_RESULTS_FILE_BYTES = 1024 * MiB  # recorded runs for `rescore`
MAX_AUDIT_FILE_BYTES = 256 * MiB
MAX_PRICE_FILE_BYTES = 1 * MiB
MAX_WIKI_BYTES = 1 * MiB  # about 250,000 tokens: more than any model's context window

# --- JSON ----------------------------------------------------------------------------------
MAX_JSON_DEPTH = 100  # the deepest file taugepa writes nests about 10 levels
MAX_INT_DIGITS = 20  # any 64-bit integer
# --- what a model sends --------------------------------------------------------------------
MAX_RESPONSE_BYTES = 16 * MiB  # one chat completion body
MAX_TOOL_ARGUMENT_CHARS = 64 * 1024  # the airline tools take a few short fields
MAX_TOOL_ARGUMENT_DEPTH = 32
MAX_TOOL_NAME_CHARS = 128
MAX_TRACEBACK_CHARS = 8_000  # the tail of a crashed agent's traceback kept as its episode's feedback

# --- numeric options: (maximum, why) -------------------------------------------------------
TRIALS = (1000, "each trial of each task is a test case held in memory; pass^k needs a handful")
CASES = (1_000_000, "every case (task x trial) is held in memory before the first one runs")
MAX_STEPS = (1000, "each step is a model call; tau-bench stops at 30")
CONCURRENCY = (256, "each episode in flight is a thread with its own copy of the database")
MAX_RETRIES = (50, "with backoff capped at 30 s, 50 retries already wait about 25 minutes")
REQUEST_TIMEOUT_S = (3600.0, "an hour for one answer; a server slower than that is down")
GENERATE_N = (10_000, "the generator holds every task and its audit in memory; use several seeds")
BUDGET = (1_000_000, "episodes GEPA may run; a million is far beyond any affordable run")
MINIBATCH = (1000, "training tasks per GEPA iteration")
WIKI_CHARS = (
    MAX_WIKI_BYTES // 4,
    "a wiki of that many characters is at most 1 MiB, which pytest --wiki takes",
)
MERGES = (1000, "each merge is scored on validation tasks; GEPA's default is 5")
SET_SIZE = (100_000, "tasks in a split")
WORKERS = (256, "pytest processes on one machine")
RATE_CAP = (1e9, "a billion a minute is far beyond any provider's limit")
EXAMPLES = (1000, "examples printed per rule")
SEED = (2**63 - 1, "OpenAI-compatible servers take a 64-bit seed")


def check_range(flag: str, value: Any, minimum: float, limit: tuple[float, str]) -> None:
    """Raise a one-line ConfigError when `value` is below `minimum` or above the limit's maximum."""
    maximum, why = limit
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{flag} expects a finite number, got {value}")
    if value < minimum:
        raise ConfigError(f"{flag} must be at least {_number(minimum)}, got {value}")
    if value > maximum:
        raise ConfigError(f"{flag} must be at most {_number(maximum)} ({why}), got {value}")


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def human_bytes(size: int) -> str:
    return f"{size / MiB:g} MiB" if size >= MiB else f"{size:,} bytes"
