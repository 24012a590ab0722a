"""Which candidate is the best: by default, the one that passes most without breaking the policy more.

GEPA keeps the candidate with the highest validation score of its objective. An optimizer that
rewrites the policy text can raise the pass rate by teaching the agent to skip the policy
(write without the user's yes, grant what the policy forbids), so the run keeps, for every
candidate, its validation pass rate and its compliance (the share of its scored validation
episodes with no definite violation, judged against the seed wiki's rules), and selects with
`--selection`:

- `compliance-floor` (default): the highest validation pass rate among the candidates whose
  compliance is not below the seed's (the seed always qualifies); ties go to the higher
  compliance, then to the earlier candidate;
- `pass-rate`: the highest validation pass rate, compliance ignored;
- `objective`: GEPA's own choice, the highest validation score of the objective
  (`--violation-penalty`).

The figures come from each candidate's validation (`ValidationLedger`, fed by the adapter)
and are kept in the run directory (`validation.json`), so a resumed run still has them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from taugepa.files import write_json_atomically
from taugepa.protocol import FAILED, PASSED

SELECTIONS = ("compliance-floor", "pass-rate", "objective")
DEFAULT_SELECTION = "compliance-floor"
LEDGER_FILE = "validation.json"


@dataclass(frozen=True)
class CandidateFigures:
    """A candidate's validation episodes: passed, failed, and the scored ones judged for compliance."""

    passed: int
    failed: int
    compliant: int
    judged: int

    @property
    def pass_rate(self) -> float | None:
        scored = self.passed + self.failed
        return self.passed / scored if scored else None

    @property
    def compliance(self) -> float | None:
        return self.compliant / self.judged if self.judged else None

    def describe(self) -> str:
        return f"pass rate {_percent(self.pass_rate)}, compliance {_percent(self.compliance)}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def figures_of(outputs: Sequence[dict[str, Any]]) -> CandidateFigures:
    """The figures of one validation, from the adapter's outputs (one per task)."""
    passed = failed = compliant = judged = 0
    for output in outputs:
        for outcome, ok in zip(output.get("outcomes") or [], output.get("compliant") or [], strict=False):
            passed += outcome == PASSED
            failed += outcome == FAILED
            if outcome in (PASSED, FAILED) and ok is not None:
                judged += 1
                compliant += bool(ok)
    return CandidateFigures(passed, failed, compliant, judged)


class ValidationLedger:
    """Each candidate's validation figures, kept in the run directory.

    The adapter reports every evaluation on exactly the validation set (`observe`); GEPA's
    own events carry no outputs for the seed, so the figures are keyed by the candidate's
    text, and `by_index` maps GEPA's candidate numbers to them.
    """

    def __init__(self, run_dir: Path, val_ids: Sequence[str]):
        self.path = run_dir / LEDGER_FILE
        self.val_ids = frozenset(val_ids)
        self.figures: dict[str, CandidateFigures] = {}
        self.index: dict[int, str] = {}  # GEPA's candidate number -> its key
        if self.path.is_file():  # a resumed run: GEPA does not validate its candidates again
            try:
                saved = json.loads(self.path.read_text())
                self.figures = {key: CandidateFigures(**row) for key, row in saved["figures"].items()}
                self.index = {int(i): key for i, key in saved["index"].items()}
            except (OSError, ValueError, TypeError, KeyError, AttributeError):
                self.figures, self.index = {}, {}  # damaged: those candidates show n/a

    def observe(self, task_ids: Sequence[str], candidate: dict[str, str], outputs: Sequence[Any]) -> None:
        """One evaluation by the adapter; kept when it covered exactly the validation set."""
        if set(task_ids) != self.val_ids:
            return
        self.figures[candidate_key(candidate)] = figures_of(outputs)
        self._save()

    def on_valset_evaluated(self, event: dict[str, Any]) -> None:
        self.index[int(event["candidate_idx"])] = candidate_key(event["candidate"])
        self._save()

    def by_index(self, candidates: Sequence[dict[str, str]] | None = None) -> dict[int, CandidateFigures]:
        """The figures by GEPA's candidate number (from `candidates`, GEPA's list, when given)."""
        keys = dict(enumerate(candidate_key(c) for c in candidates)) if candidates is not None else self.index
        return {i: self.figures[key] for i, key in keys.items() if key in self.figures}

    def _save(self) -> None:
        document = {
            "figures": {key: asdict(figure) for key, figure in self.figures.items()},
            "index": {str(i): key for i, key in sorted(self.index.items())},
        }
        write_json_atomically(self.path, document)


def candidate_key(candidate: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(candidate, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Selection:
    """The chosen candidate, and why (one line for the summary)."""

    best: int
    reason: str
    eligible: tuple[int, ...]  # the candidates the rule chose among


def select_best(
    selection: str, scores: Sequence[float], figures: dict[int, CandidateFigures], objective_best: int
) -> Selection:
    """The best candidate under `selection` (see the module's docstring)."""
    everyone = tuple(range(len(scores)))
    if selection == "objective":
        return Selection(objective_best, "the highest validation score (--selection objective)", everyone)

    def rate(index: int) -> float:
        figure = figures.get(index)
        value = figure.pass_rate if figure else None
        return -1.0 if value is None else value

    def compliance(index: int) -> float:
        figure = figures.get(index)
        value = figure.compliance if figure else None
        return -1.0 if value is None else value

    if selection == "pass-rate":
        best = max(everyone, key=lambda i: (rate(i), compliance(i), -i))
        return Selection(best, "the highest validation pass rate (--selection pass-rate)", everyone)
    floor = compliance(0)
    eligible = tuple(i for i in everyone if i == 0 or compliance(i) >= floor - 1e-12)
    best = max(eligible, key=lambda i: (rate(i), compliance(i), -i))
    left_out = len(everyone) - len(eligible)
    reason = (
        f"the highest validation pass rate among the {len(eligible)} candidates whose compliance is not "
        f"below the seed's ({_percent(figures[0].compliance) if 0 in figures else 'n/a'})"
    )
    if left_out:
        reason += f"; {left_out} with a lower compliance left out"
    return Selection(best, reason, eligible)


def candidate_table(
    scores: Sequence[float], figures: dict[int, CandidateFigures], selection: Selection, objective_best: int
) -> list[str]:
    """The candidates' validation figures as a small table for the terminal."""
    lines = ["candidate  validation score  pass rate  compliance"]
    for index, score in enumerate(scores):
        figure = figures.get(index)
        rate = _percent(figure.pass_rate if figure else None)
        compliance = _percent(figure.compliance if figure else None)
        notes = []
        if index == 0:
            notes.append("seed")
        if index == selection.best:
            notes.append("best")
        elif index not in selection.eligible:
            notes.append("compliance below the seed's: not eligible")
        if index == objective_best and index != selection.best:
            notes.append("GEPA's highest score")
        lines.append(f"#{index:<9} {score:16.3f}  {rate:>9}  {compliance:>10}  {', '.join(notes)}".rstrip())
    return lines
