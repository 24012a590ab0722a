"""The scores file: one JSON document per run, readable by people, CI and GEPA.

Layout (documented in the README; `version` changes when a field changes meaning):

    {"format": "taugepa-scores", "version": 1,
     "run": {...how the run was made: wiki, agent, models, trials, engine, task files...},
     "summary": {...counts and pass rates overall, per group and per gold action...},
     "episodes": [{...one per task and trial, in task order...}],
     "timing": {...wall-clock facts, the only part that differs between identical runs...}}

Episode entries also carry `duration_s`, their only timing field; the statistics of episode
wall time (`timing.episode_wall_s`) therefore live in `timing` too.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taugepa.episode.efficiency import run_efficiency, run_wall_time
from taugepa.errors import ConfigError
from taugepa.guards.limits import MAX_SCORES_FILE_BYTES
from taugepa.guards.safe_json import read_json_file
from taugepa.guards.validation import shown
from taugepa.llm.answer_ends import MODEL_ENDS
from taugepa.llm.usage import run_usage
from taugepa.protocol import ERROR, FAILED, INVALID, OUTCOMES, PASSED
from taugepa.results.clipping import clip_texts
from taugepa.results.failure_analysis import analyze_failure, failure_summary
from taugepa.results.passk import pass_k_summary
from taugepa.rules.compliance import run_compliance
from taugepa.tasks.model import Task

if TYPE_CHECKING:
    from taugepa.episode.settings import HarnessSettings

SCORES_FORMAT = "taugepa-scores"
SCORES_VERSION = 1


def episode_entry(task: Task, result: dict[str, Any], audit: dict[str, Any] | None = None) -> dict[str, Any]:
    """An episode result as stored in the scores file: the result plus the task's labels.

    `audit` is the task's audit in brief (status, free pass, flags; see `taugepa.rules.audit`).
    A failed episode also gets its `failure` cause (`taugepa.results.failure_analysis`).
    Texts longer than 64 KiB are clipped (`taugepa.results.clipping`).
    """
    outcome = result["outcome"]
    labels: dict[str, Any] = {"audit": audit} if audit is not None else {}
    failure = analyze_failure(task, result, audit)
    if failure is not None:
        labels["failure"] = failure.to_dict()
    entry = {
        "task_id": task.id,
        "trial": result["trial"],
        "set": task.set_name,
        "difficulty": task.difficulty,
        "group": task.group,
        "gold_action_names": task.action_names,
        "outcome": outcome,
        "score": None if outcome in (INVALID, ERROR) else result["reward"],
        **labels,
        **{k: v for k, v in result.items() if k not in ("task_id", "trial", "outcome")},
    }
    return clip_texts(entry)  # a 10 MB tool argument must not be stored four times over


def pass_rate(passed: int, failed: int) -> float | None:
    """passed / (passed + failed): invalid tasks and infrastructure errors never count."""
    return passed / (passed + failed) if passed + failed else None


def _tally(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for entry in entries:
        counts[entry["outcome"]] += 1
    return {**counts, "pass_rate": pass_rate(counts[PASSED], counts[FAILED])}


def summarize(episodes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counts and pass rates overall, per group (difficulty or set) and per gold action; pass^k."""
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_action: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in episodes:
        by_group[entry["group"]].append(entry)
        for name in entry["gold_action_names"]:
            by_action[name].append(entry)
    overall = _tally(episodes)
    audit = _audit_tally(episodes)
    efficiency = run_efficiency(episodes)
    compliance = run_compliance(episodes)
    failures = failure_summary(episodes)
    ends = model_ends(episodes)
    return {
        "episodes": len(episodes),
        "tasks": len({e["task_id"] for e in episodes}),
        "counts": {k: overall[k] for k in OUTCOMES},
        "pass_rate": overall["pass_rate"],
        "by_group": {name: _tally(group) for name, group in sorted(by_group.items())},
        "by_action": {name: _tally(group) for name, group in sorted(by_action.items())},
        "invalid_tasks": sorted({e["task_id"] for e in episodes if e["outcome"] == INVALID}),
        "error_episodes": [f"{e['task_id']}#{e['trial']}" for e in episodes if e["outcome"] == ERROR],
        "pass_k": pass_k_summary(episodes),
        "usage": run_usage(episodes),
        **({"audit": audit} if audit else {}),
        **({"efficiency": efficiency} if efficiency else {}),
        **({"compliance": compliance} if compliance else {}),
        **({"failures": failures} if failures else {}),
        **({"ended": ends} if ends else {}),
    }


def model_ends(episodes: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many episodes a model's limit ended, by termination (see `taugepa.llm.answer_ends`)."""
    ends = Counter(e.get("termination") for e in episodes if e.get("termination") in MODEL_ENDS)
    return {end: ends[end] for end in MODEL_ENDS if ends[end]}


def _audit_tally(episodes: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Outcomes per audit status and for free passes, when the episodes carry audits."""
    by_status: dict[str, list[dict[str, Any]]] = defaultdict(list)
    free_passes = []
    for entry in episodes:
        audit = entry.get("audit")
        if audit:
            by_status[audit["status"]].append(entry)
            if audit["free_pass"]:
                free_passes.append(entry)
    if not by_status:
        return None
    return {
        "by_status": {status: _tally(group) for status, group in sorted(by_status.items())},
        "free_pass": _tally(free_passes),
    }


def timing_since(started: float, finished: float | None = None) -> dict[str, Any]:
    """A run's `timing` section: when it started and finished, and its wall time."""
    finished = time.time() if finished is None else finished
    return {
        "started_at": datetime.fromtimestamp(started, tz=UTC).isoformat(timespec="seconds"),
        "finished_at": datetime.fromtimestamp(finished, tz=UTC).isoformat(timespec="seconds"),
        "wall_s": round(finished - started, 3),
    }


def build_scores(
    run: dict[str, Any],
    episodes: Sequence[dict[str, Any]],
    timing: dict[str, Any] | None = None,
    summary: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The scores document; `summary` is `summarize(episodes)` when the caller has it already."""
    wall = run_wall_time(episodes)
    timing = {**(timing or {}), **({"episode_wall_s": wall} if wall else {})}
    return {
        "format": SCORES_FORMAT,
        "version": SCORES_VERSION,
        "run": run,
        "summary": summary if summary is not None else summarize(episodes),
        "episodes": list(episodes),
        "timing": timing,
    }


def encode_episode(entry: dict[str, Any]) -> str:
    """An episode entry's text as the scores file holds it (indented at its depth).

    Encoding an indented 4 MB scores file at the end of a run takes a few hundred
    milliseconds (indented JSON is encoded in Python, not C), so the pytest plugin encodes
    each entry as it arrives (on the xdist worker that ran it) and `scores_text` splices them.
    """
    return json.dumps(entry, ensure_ascii=False, indent=1).replace("\n", "\n  ")


def scores_text(scores: dict[str, Any], encoded_episodes: Sequence[str] | None = None) -> str:
    """The scores file's text, byte for byte what `write_json_atomically(path, scores)` writes.

    `encoded_episodes` are `encode_episode(entry)` of `scores["episodes"]`, in order.
    """
    episodes = scores["episodes"]
    if encoded_episodes is None or not episodes:
        return json.dumps(scores, ensure_ascii=False, indent=1) + "\n"
    if len(encoded_episodes) != len(episodes):
        raise ValueError(f"{len(encoded_episodes)} encoded episodes for {len(episodes)} entries")
    head = json.dumps({**scores, "episodes": None}, ensure_ascii=False, indent=1)
    slot = '\n "episodes": null'  # a raw newline: only the top level's own key can match
    if head.count(slot) != 1:
        raise ValueError("the scores document has no top-level episodes list")
    listing = "[\n  " + ",\n  ".join(encoded_episodes) + "\n ]"
    return head.replace(slot, '\n "episodes": ' + listing) + "\n"


@dataclass
class Scores:
    """A loaded scores file."""

    path: str
    run: dict[str, Any]
    summary: dict[str, Any]
    episodes: list[dict[str, Any]]
    partial: str | None = None  # why the run is incomplete (Ctrl-C, --max-cost), in one line
    timing: dict[str, Any] = field(default_factory=dict)  # wall-clock facts (what `taugepa merge` spans)
    interrupted: dict[str, Any] | None = None  # the file's `interrupted` section (Ctrl-C)
    stopped: dict[str, Any] | None = None  # the file's `stopped` section (--max-cost)

    def task_scores(self) -> dict[str, float]:
        """Mean score over trials per task, for tasks with at least one scored episode."""
        per_task: dict[str, list[float]] = defaultdict(list)
        for entry in self.episodes:
            if entry["score"] is not None:
                per_task[entry["task_id"]].append(entry["score"])
        return {task: sum(values) / len(values) for task, values in per_task.items()}

    def episodes_by_task(self) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for entry in self.episodes:
            grouped[entry["task_id"]].append(entry)
        return dict(grouped)


def load_scores(path: str | Path) -> Scores:
    """Read and check a scores file; anything else is a ConfigError with one clear line.

    The file is read within taugepa's limits (`taugepa.guards.safe_json`) and checked against its
    typed shape (`taugepa.results.scores_schema`), so a damaged or hand-edited file is refused
    before any run, gate, comparison or report relies on it.
    """
    from taugepa.results.scores_schema import check_scores

    path = Path(path)
    document = read_json_file(path, what="scores file", max_bytes=MAX_SCORES_FILE_BYTES)
    if not isinstance(document, dict) or document.get("format") != SCORES_FORMAT:
        raise ConfigError(
            f'{path} is not a taugepa scores file (no "format": "{SCORES_FORMAT}"): '
            "pass a file written by pytest --scores-out or taugepa"
        )
    if document.get("version") != SCORES_VERSION:
        raise ConfigError(
            f"{path} is a version {shown(document.get('version'))} scores file; this taugepa reads "
            f"version {SCORES_VERSION}: rerun the benchmark to write a new one"
        )
    if not isinstance(document.get("run"), dict):  # without it nothing says what was run, or how
        raise ConfigError(
            f'{path}: the scores file has no "run" header (the agent, models, wiki and tasks of its run): '
            "was it edited by hand? Rerun the benchmark to write a new one"
        )
    check_scores(document, str(path))
    return Scores(
        path=str(path),
        run=document.get("run", {}),
        summary=document.get("summary", {}),
        episodes=list(document["episodes"]),
        partial=partial_note(document),
        timing=document["timing"] if isinstance(document.get("timing"), dict) else {},
        interrupted=document["interrupted"] if isinstance(document.get("interrupted"), dict) else None,
        stopped=document["stopped"] if isinstance(document.get("stopped"), dict) else None,
    )


def partial_note(document: dict[str, Any]) -> str | None:
    """One line saying why a scores file holds only part of its run (None when it is whole)."""
    interrupted, stopped = document.get("interrupted"), document.get("stopped")
    if isinstance(interrupted, dict):
        return (
            f"interrupted (Ctrl-C) after {interrupted.get('episodes_done')} of "
            f"{interrupted.get('episodes_planned') or '?'} episodes: partial, not the run's result"
        )
    if isinstance(stopped, dict):
        not_run = stopped.get("episodes_not_started")
        return f"stopped early ({stopped.get('reason')}): {not_run} episodes not run"
    return None


def to_evaluation_batch(scores: Scores, task_ids: Sequence[str] | None = None) -> Any:
    """The scores as a `gepa.EvaluationBatch`: one output, score and trajectory per task.

    The score of a task is its mean over trials. Invalid tasks cannot be scored and
    infrastructure errors must not become fake zeros, so asking for either raises.
    """
    from gepa import EvaluationBatch

    grouped = scores.episodes_by_task()
    task_ids = list(task_ids) if task_ids is not None else list(grouped)
    outputs, values, trajectories = [], [], []
    for task_id in task_ids:
        entries = grouped.get(task_id)
        if not entries:
            raise ConfigError(f"{scores.path} has no episode for task {task_id}")
        bad = [e for e in entries if e["score"] is None]
        if bad:
            raise ConfigError(
                f"{scores.path}: task {task_id} has {len(bad)} unscored episode(s) "
                f"({bad[0]['outcome']}): rerun them before using these scores"
            )
        values.append(sum(e["score"] for e in entries) / len(entries))
        outputs.append({"task_id": task_id, "outcomes": [e["outcome"] for e in entries]})
        trajectories.append(entries)
    return EvaluationBatch(outputs=outputs, scores=values, trajectories=trajectories)


def run_header(
    settings: HarnessSettings,
    *,
    wiki_path: str,
    wiki_text: str,
    task_sources: Sequence[Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The `run` section of a run made with `settings`: the one header pytest and taugepa write."""
    described = settings.describe()
    return run_info(
        wiki_path=wiki_path,
        wiki_text=wiki_text,
        agent=described.pop("agent"),
        trials=described.pop("trials"),
        max_steps=described.pop("max_steps"),
        think_tool=described.pop("think_tool"),
        task_sources=task_sources,
        models=described.pop("models"),
        extra={**described, **(extra or {})},
    )


def run_info(
    *,
    wiki_path: str,
    wiki_text: str,
    agent: str,
    trials: int,
    max_steps: int | None,
    think_tool: bool,
    task_sources: Sequence[Any],
    models: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The `run` section's layout: everything needed to reproduce or compare the run.

    `run_header` fills it from harness settings; `taugepa rescore` (recorded runs, no
    harness of ours) fills it directly.
    """
    import hashlib
    from dataclasses import asdict

    from taugepa import __version__
    from taugepa.world.engine import engine_info

    return {
        "taugepa_version": __version__,
        "engine": engine_info(),
        "wiki": {
            "path": wiki_path,
            "sha256": hashlib.sha256(wiki_text.encode()).hexdigest(),
            "chars": len(wiki_text),
        },
        "agent": agent,
        "models": models or {"agent": None, "user": None},
        "trials": trials,
        "max_steps": max_steps,
        "think_tool": think_tool,
        "task_sources": [asdict(source) for source in task_sources],
        **(extra or {}),
    }
