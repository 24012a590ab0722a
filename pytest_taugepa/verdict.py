"""How a benchmark run's failures read in pytest's output, and its verdict block.

The verdict block (pass rate, counts, gates and why the run exits as it does) is printed after
pytest's last line, so that the end of the output is the answer; it is built by
`taugepa.results.verdict`, which `taugepa gate` shares. The failure list above it can be long:
agent failures are shortened to one line each by default (`one_line_failure`); `-v` or
`--tb=long` (and the scores file, and `--html`) give the full feedback.
"""

from __future__ import annotations

from typing import Any

import pytest

from taugepa.results.failure_analysis import USER_SIMULATOR, cause_label
from taugepa.results.gates import GateResult
from taugepa.results.verdict import RunState, counts_text, rate_text, verdict_lines

__all__ = ["GateResult", "RunState", "compact_failures", "counts_text", "one_line_failure", "rate_text"]
__all__ += ["verdict_lines"]  # the block itself lives in taugepa.results.verdict (shared with `taugepa gate`)

MAX_FAILURE_CHARS = 240
_DETAIL_PREFIXES = ("Expected writes (", "Agent's writes (", "- ")
_DB_MISMATCH = "The final database does not match the gold outcome."


def compact_failures(config: pytest.Config) -> bool:
    """Agent failures get one line unless the user asked for detail (-v, or an explicit --tb)."""
    return config.option.tbstyle == "auto" and config.get_verbosity() < 1


def one_line_failure(
    feedback: str, compliance: dict[str, Any] | None = None, failure: dict[str, Any] | None = None
) -> str:
    """The failure's cause, the feedback without the long action listings on one clipped line,
    then the rules broken."""
    kept = [
        line.strip()
        for line in feedback.splitlines()
        if line.strip() and not line.strip().startswith(_DETAIL_PREFIXES)
    ]
    if any(line.startswith("First divergence") for line in kept):
        kept = [line for line in kept if line != _DB_MISMATCH]  # the divergence says it better
    text = _clip(" ".join(kept), MAX_FAILURE_CHARS)
    if failure:
        blame = " [user simulator]" if failure.get("blame") == USER_SIMULATOR else ""
        text = f"[{cause_label(failure['cause'])}{blame}] {text}"
    broken = [
        f"{v['rule']} (turn {v['turn']}" + (f", {v['action']})" if v.get("action") else ")")
        for v in (compliance or {}).get("violations", [])
        if v["severity"] == "definite"
    ]
    if broken:
        text += " · definite policy violations: " + _clip(", ".join(broken), MAX_FAILURE_CHARS // 2)
    return text


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
