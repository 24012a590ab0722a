"""One scores file from the scores files of a run's shards (`pytest --shard K/N`, `taugepa merge`).

A shard's file records, in its run header, which shard it is and the whole run's task ids in
order (`shard_header`). Merging checks that the files are the shards of one run (the same
wiki, harness, models, protocol, task set and taugepa and engine versions: every field of the
run header but the few that may differ per machine), each shard once, none missing and none
partial, and that every episode is in its own shard; it then puts the episodes back in the
run's order and recomputes the summary. The merged file is the one-process run's file: the
same run header, episodes and summary; only `timing` (and `merged_from`) tell it apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeGuard

from taugepa.errors import ConfigError
from taugepa.results.scores import Scores, build_scores, load_scores
from taugepa.tasks.shard import Shard, assign

# Fields of the run header that may differ between the shards of one run: how each machine
# ran its part (its episodes in flight, its spending cap, where it found the files), not what
# was measured. Everything else must be equal.
FREE_RUN_FIELDS = ("shard", "concurrency", "max_cost")
FREE_NESTED_FIELDS = {
    "wiki": ("path",),
    "task_sources": ("path", "spec"),
    "llm": ("timeout_s", "max_retries"),
}
# How a refusal names a differing field.
FIELD_NAMES = {
    "wiki": "wikis",
    "protocol": "protocols",
    "task_sources": "task sets",
    "taugepa_version": "taugepa versions",
    "engine": "engine versions (tau2 or its database)",
    "agent": "agents",
    "models": "models",
    "trials": "trial counts",
}


def shard_header(shard: Shard, task_ids: Sequence[str], selected: set[str]) -> dict[str, Any]:
    """The run header's `shard` section: this shard, its task count and the run's task ids in order."""
    return {"index": shard.index, "count": shard.count, "tasks": len(selected), "task_ids": list(task_ids)}


def comparable_run(run: dict[str, Any]) -> dict[str, Any]:
    """The run header without what may differ between the shards of one run."""
    kept = {key: value for key, value in run.items() if key not in FREE_RUN_FIELDS}
    for key, free in FREE_NESTED_FIELDS.items():
        value = kept.get(key)
        if isinstance(value, dict):
            kept[key] = {k: v for k, v in value.items() if k not in free}
        elif isinstance(value, list):
            kept[key] = [{k: v for k, v in item.items() if k not in free} for item in value]
    return kept


def merge_scores(paths: Sequence[str | Path]) -> dict[str, Any]:
    """The merged scores document of one run's shards; anything amiss is a ConfigError (one line)."""
    if not paths:
        raise ConfigError("taugepa merge needs the scores files of a run's shards (pytest --shard K/N)")
    shards = [_shard_scores(load_scores(path)) for path in paths]
    first, first_shard = shards[0]
    count = first_shard["count"]
    by_index: dict[int, Scores] = {}
    for scores, shard in shards:
        _check_same_run(first, scores, count, shard)
        seen = by_index.get(shard["index"])
        if seen is not None:
            raise ConfigError(
                f"{seen.path} and {scores.path} are both shard {shard['index']}/{count}: "
                "pass each shard's scores file once"
            )
        by_index[shard["index"]] = scores
    missing = [f"{index}/{count}" for index in range(1, count + 1) if index not in by_index]
    if missing:
        raise ConfigError(
            f"shard {', '.join(missing)} missing: pass the scores files of all {count} shards "
            "(a shard's job that failed must be rerun)"
        )
    task_ids = first_shard["task_ids"]
    owner = assign(task_ids, count)
    order = {task_id: position for position, task_id in enumerate(task_ids)}
    entries: dict[tuple[str, int], dict[str, Any]] = {}
    for index, scores in sorted(by_index.items()):
        for entry in scores.episodes:
            key = (entry["task_id"], entry["trial"])
            if owner.get(entry["task_id"]) != index:
                raise ConfigError(
                    f"{scores.path} (shard {index}/{count}) holds task {entry['task_id']}, which is "
                    f"not one of its tasks: was the file edited, or its run given another task set?"
                )
            if key in entries:
                raise ConfigError(f"{scores.path}: task {key[0]} trial {key[1]} appears twice")
            entries[key] = entry
    ordered = [entries[key] for key in sorted(entries, key=lambda key: (order[key[0]], key[1]))]
    run = {key: value for key, value in by_index[1].run.items() if key != "shard"}
    document = build_scores(run, ordered, _merged_timing([by_index[i] for i in sorted(by_index)]))
    document["merged_from"] = [
        {"path": scores.path, "shard": f"{index}/{count}", "episodes": len(scores.episodes)}
        for index, scores in sorted(by_index.items())
    ]
    return document


def _shard_scores(scores: Scores) -> tuple[Scores, dict[str, Any]]:
    """The file and its shard section, or the one line saying why it cannot be merged."""
    if scores.partial:
        raise ConfigError(f"{scores.path} is {scores.partial}: rerun that shard before merging")
    shard = scores.run.get("shard")
    if not _is_shard(shard):
        raise ConfigError(
            f"{scores.path} is not a shard's scores file (its run had no --shard K/N): "
            "taugepa merge joins the files of one run's shards"
        )
    return scores, shard


def _is_shard(shard: Any) -> TypeGuard[dict[str, Any]]:
    if not isinstance(shard, dict):
        return False
    index, count, task_ids = shard.get("index"), shard.get("count"), shard.get("task_ids")
    return (
        isinstance(index, int)
        and isinstance(count, int)
        and 1 <= index <= count
        and isinstance(task_ids, list)
        and all(isinstance(task_id, str) for task_id in task_ids)
    )


def _check_same_run(first: Scores, scores: Scores, count: int, shard: dict[str, Any]) -> None:
    if shard["count"] != count:
        raise ConfigError(
            f"{scores.path} is shard {shard['index']}/{shard['count']} but {first.path} is one of "
            f"{count}: merge the shards of one split"
        )
    if shard["task_ids"] != first.run["shard"]["task_ids"]:
        raise ConfigError(f"{scores.path} and {first.path} were run on different task sets")
    expected, actual = comparable_run(first.run), comparable_run(scores.run)
    for key in sorted(set(expected) | set(actual)):
        if expected.get(key) != actual.get(key):
            what = FIELD_NAMES.get(key, f"'{key}' settings")
            raise ConfigError(
                f"{scores.path} and {first.path} were made with different {what} "
                f"(run.{key} differs): merge only the shards of one run"
            )


def _merged_timing(shards: Sequence[Scores]) -> dict[str, Any]:
    """The run's span: the earliest start, the latest finish, and the longest shard's wall time."""
    timings = [scores.timing for scores in shards if scores.timing]
    starts = [t["started_at"] for t in timings if isinstance(t.get("started_at"), str)]
    finishes = [t["finished_at"] for t in timings if isinstance(t.get("finished_at"), str)]
    walls = [t["wall_s"] for t in timings if isinstance(t.get("wall_s"), int | float)]
    timing: dict[str, Any] = {}
    if starts and finishes:
        timing.update(started_at=min(starts), finished_at=max(finishes))
    if walls:
        timing["wall_s"] = max(walls)  # the shards ran side by side: the slowest one is the wait
        timing["shard_wall_s"] = walls
    return timing
