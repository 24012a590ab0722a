"""Which failure causes moved between two runs (`taugepa compare`).

Per cause, how many episodes of the shared tasks had it in the baseline and in the
candidate; per episode (task and trial) whose cause changed, from what to what ("passed"
when it passed). The causes themselves are the scores files' (`failure_analysis`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from taugepa.protocol import FAILED
from taugepa.results.failure_analysis import cause_label

MAX_MOVES_LISTED = 12


def _state(entry: dict[str, Any]) -> str:
    """The cause of a failed episode, or its outcome ("passed", "invalid", ...)."""
    failure = entry.get("failure")
    if entry["outcome"] == FAILED:
        return failure["cause"] if failure else "failed (no cause recorded)"
    return entry["outcome"]


def cause_shift(
    baseline: Sequence[dict[str, Any]], candidate: Sequence[dict[str, Any]], tasks: Sequence[str]
) -> dict[str, Any]:
    """Counts by cause in both runs on `tasks`, and the episodes whose cause changed."""
    shared = set(tasks)
    base = {(e["task_id"], e["trial"]): e for e in baseline if e["task_id"] in shared}
    cand = {(e["task_id"], e["trial"]): e for e in candidate if e["task_id"] in shared}
    base_counts = Counter(_state(e) for e in base.values() if e["outcome"] == FAILED)
    cand_counts = Counter(_state(e) for e in cand.values() if e["outcome"] == FAILED)
    counts = {
        cause: {
            "baseline": base_counts.get(cause, 0),
            "candidate": cand_counts.get(cause, 0),
            "delta": cand_counts.get(cause, 0) - base_counts.get(cause, 0),
        }
        for cause in sorted(set(base_counts) | set(cand_counts))
    }
    moved = [
        {"task_id": key[0], "trial": key[1], "from": _state(base[key]), "to": _state(cand[key])}
        for key in base
        if key in cand and _state(base[key]) != _state(cand[key])
    ]
    return {"counts": counts, "moved": moved}


def cause_shift_lines(shift: dict[str, Any]) -> list[str]:
    """The terminal lines of a cause shift (none when neither run has a cause)."""
    counts = shift.get("counts") or {}
    if not counts:
        return []
    lines = ["failure causes (baseline -> candidate):"]
    width = max(len(cause_label(cause)) for cause in counts)
    for cause, count in counts.items():
        lines.append(
            f"  {cause_label(cause):<{width}}  {count['baseline']:3d} -> {count['candidate']:3d}  "
            f"({count['delta']:+d})"
        )
    moved = shift.get("moved") or []
    if moved:
        shown = [
            f"{m['task_id']}#{m['trial']} {cause_label(m['from'])} -> {cause_label(m['to'])}"
            for m in moved[:MAX_MOVES_LISTED]
        ]
        more = f"; and {len(moved) - MAX_MOVES_LISTED} more" if len(moved) > MAX_MOVES_LISTED else ""
        lines.append(f"episodes whose cause moved ({len(moved)}): " + "; ".join(shown) + more)
    return lines
