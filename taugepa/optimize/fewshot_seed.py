"""The `fewshot` component's seed: demonstrations drawn from passed *training* episodes.

Where the episodes come from, in order: `--fewshot FILE` (the user's own demonstrations;
refused if one names a validation or test task), `--fewshot-from PATH` (a baseline scores
file, or an episodes folder such as another run's `episodes/`), else the run's own episode
store. Only passed episodes of the split's training tasks are used, never a validation or
test task's; one demonstration per kind of gold writes (the shortest episode of each), within
the budget of `taugepa.episode.fewshot`. The seed is written to the run directory
(`SEED_FEWSHOT`) the first time, and a resumed run reads it back, so a resumed search starts
from the same candidate.

`FEWSHOT_PROMPT` is the component's reflection template: GEPA's reflection may rewrite, add
or drop demonstrations, within the budget, from the training records it is shown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from taugepa.episode.fewshot import (
    MAX_DEMONSTRATION_CHARS,
    MAX_DEMONSTRATIONS,
    MAX_FEWSHOT_CHARS,
    REFLECTION_SOURCE,
    Demonstration,
    Demonstrations,
    fewshot_document,
    fit_budget,
    load_fewshot,
)
from taugepa.episode.scoring import render_action
from taugepa.errors import ConfigError
from taugepa.files import write_json_atomically
from taugepa.protocol import PASSED, STOP_MARKER
from taugepa.world.engine import write_tool_names

SEED_FEWSHOT = "seed_fewshot.json"
BEST_FEWSHOT = "best_fewshot.json"
MAX_TURN_CHARS = 240

FEWSHOT_PROMPT = f"""You maintain the worked examples an airline customer-service agent is shown after its \
policy: short conversations that show how a request is handled correctly. The current examples:
```
<curr_param>
```

Here are episodes of the agent on training tasks, with feedback:
```
<side_info>
```

Rewrite the examples so that the agent handles requests like the failed ones correctly. You may \
rewrite, add or drop examples. Rules:
- Keep each example under its heading `### Example N (from task ID)`, where ID is the task of the \
episode it was drawn from (one of the task ids shown above).
- At most {MAX_DEMONSTRATIONS} examples, each under {MAX_DEMONSTRATION_CHARS} characters, \
{MAX_FEWSHOT_CHARS} in all.
- Lines start with `Customer:`, `Agent:` or `Agent calls tool(arguments)`; show the exact tool calls \
the gold expects, and the confirmation the policy asks for before a write.
- An example never contradicts the policy and states no new rule.
- A failure marked as the simulated customer's fault or a suspect task teaches nothing: ignore it.

Give the new examples within ``` blocks."""


def _clip(text: str, limit: int = MAX_TURN_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def demonstration_from(entry: dict[str, Any]) -> Demonstration:
    """A passed episode as a short worked conversation: what was said, and the calls made."""
    lines = []
    for message in entry.get("messages") or []:
        role = message.get("role")
        content = str(message.get("content") or "").replace(STOP_MARKER, "").strip()
        if role == "user" and content:
            lines.append(f"Customer: {_clip(content)}")
        elif role == "assistant":
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                arguments = function.get("arguments")
                try:
                    kwargs = json.loads(arguments) if isinstance(arguments, str) else arguments
                except ValueError:
                    kwargs = arguments
                action = {"name": function.get("name"), "kwargs": kwargs}
                lines.append(f"Agent calls {_clip(render_action(action))}")
            if content and not message.get("tool_calls"):
                lines.append(f"Agent: {_clip(content)}")
    text = "\n".join(lines)
    if len(text) > MAX_DEMONSTRATION_CHARS:
        text = text[: MAX_DEMONSTRATION_CHARS - 1] + "…"
    return Demonstration(entry["task_id"], text)


def seed_demonstrations(
    entries: Iterable[dict[str, Any]], train_ids: Sequence[str]
) -> tuple[Demonstrations, list[str]]:
    """One demonstration per kind of gold writes from passed training episodes, shortest first."""
    train = set(train_ids)
    writes = write_tool_names()
    best: dict[tuple[str, ...], Demonstration] = {}
    notes: list[str] = []
    skipped = 0
    for entry in entries:
        if entry.get("outcome") != PASSED:
            continue
        if entry.get("task_id") not in train:
            skipped += 1
            continue
        kind = tuple(sorted(n for n in entry.get("gold_action_names") or [] if n in writes))
        demo = demonstration_from(entry)
        if (
            kind not in best
            or len(demo.text) < len(best[kind].text)
            or (len(demo.text) == len(best[kind].text) and demo.source < best[kind].source)
        ):
            best[kind] = demo
    if skipped:
        notes.append(f"{skipped} passed episodes of non-training tasks left out")
    ordered = sorted(best.values(), key=lambda demo: (len(demo.text), demo.source))
    kept, reasons = fit_budget(tuple(ordered))
    return kept, notes + reasons


def episodes_from(path: Path) -> list[dict[str, Any]]:
    """Episode entries of a scores file, or of a folder of stored episodes (one JSON each)."""
    if path.is_dir():
        entries = []
        for file in sorted(path.glob("*.json")):
            try:
                entry = json.loads(file.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(entry, dict) and "task_id" in entry:
                entries.append(entry)
        return entries
    from taugepa.results.scores import load_scores

    return load_scores(path).episodes


def check_sources(demonstrations: Demonstrations, train_ids: Sequence[str], where: str) -> None:
    """Refuse demonstrations drawn from a task that is not a training task."""
    train = set(train_ids)
    outside = [d.source for d in demonstrations if d.source not in train and d.source != REFLECTION_SOURCE]
    if outside:
        raise ConfigError(
            f"{where} has demonstrations from tasks that are not training tasks of this split "
            f"({', '.join(outside[:5])}): demonstrations may come from training tasks only"
        )


def seed_fewshot(
    run_dir: Path,
    train_ids: Sequence[str],
    *,
    given: Demonstrations | None,
    given_path: str | None,
    source: Path | None,
    say: Callable[[str], None],
) -> Demonstrations:
    """The seed demonstrations of this run (read back from the run directory when resuming)."""
    path = run_dir / SEED_FEWSHOT
    if path.exists():
        demonstrations = load_fewshot(path)
        say(f"fewshot seed: {len(demonstrations)} demonstrations from {path} (the run's own)")
        return demonstrations
    if given is not None:
        check_sources(given, train_ids, given_path or "--fewshot")
        demonstrations, origin = given, given_path or "--fewshot"
        notes: list[str] = []
    else:
        folder = source or run_dir / "episodes"
        entries = episodes_from(folder) if folder.exists() else []
        demonstrations, notes = seed_demonstrations(entries, train_ids)
        origin = f"passed training episodes of {folder}"
    check_sources(demonstrations, train_ids, origin)
    document = fewshot_document(demonstrations, origin=origin, notes=notes)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path, document)
    sources = ", ".join(d.source for d in demonstrations) or "none"
    say(f"fewshot seed: {len(demonstrations)} demonstrations ({sources}) from {origin}")
    for note in notes:
        say(f"  fewshot seed: {note}")
    return demonstrations
