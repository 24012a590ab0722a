"""Few-shot demonstrations: short worked conversations the agent sees after its wiki.

A harness input like the tool descriptions (`--fewshot FILE`, `HarnessSettings.fewshot`),
and a component GEPA can evolve (`--components wiki+fewshot`). The file is JSON:

    {"format": "taugepa-fewshot", "version": 1,
     "demonstrations": [{"source": "gen-017", "text": "Customer: ...\\nAgent: ..."}, ...]}

`source` is the task a demonstration was drawn from (the optimizer takes them from passed
*training* episodes only, and checks this against its split); `text` is the conversation,
free text. As a GEPA component the demonstrations are one text (`render_block`): each under
a `### Example N (from task ID)` heading, which `parse_block` reads back.

The budget (`MAX_DEMONSTRATIONS`, `MAX_DEMONSTRATION_CHARS`, `MAX_FEWSHOT_CHARS`) keeps the
system prompt short: a file over it is refused with one line; a reflection's proposal over
it is trimmed (`fit_budget`), and the reasons are recorded with the best candidate's file.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taugepa.errors import ConfigError
from taugepa.guards.safe_json import read_json_file

FEWSHOT_FORMAT = "taugepa-fewshot"
FEWSHOT_VERSION = 1
MAX_DEMONSTRATIONS = 6
MAX_DEMONSTRATION_CHARS = 1500
MAX_FEWSHOT_CHARS = 6000
MAX_FEWSHOT_FILE_BYTES = 1_000_000
NO_DEMONSTRATIONS = "(no worked examples yet)"  # the component's text when it has none
REFLECTION_SOURCE = "reflection"  # a demonstration GEPA's reflection wrote without naming a task

_HEADING = re.compile(r"^### Example \d+(?: \(from task ([^)\n]+)\))?[ \t]*$", re.M)


@dataclass(frozen=True)
class Demonstration:
    source: str  # the task it was drawn from
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "text": self.text}


Demonstrations = tuple[Demonstration, ...]


def render_block(demonstrations: Demonstrations) -> str:
    """The demonstrations as one text (the component GEPA evolves, and the prompt's block)."""
    return "\n\n".join(
        f"### Example {number} (from task {demo.source})\n{demo.text.strip()}"
        for number, demo in enumerate(demonstrations, start=1)
    )


def parse_block(text: str) -> Demonstrations:
    """The demonstrations of a block (`render_block`'s inverse; text before any heading is one)."""
    found: list[Demonstration] = []
    matches = list(_HEADING.finditer(text))
    lead = text[: matches[0].start()] if matches else text
    if lead.strip():
        found.append(Demonstration(REFLECTION_SOURCE, lead.strip()))
    for position, match in enumerate(matches):
        end = matches[position + 1].start() if position + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip()
        if body:
            found.append(Demonstration((match.group(1) or REFLECTION_SOURCE).strip(), body))
    return tuple(found)


def budget_problems(demonstrations: Demonstrations) -> list[str]:
    """What is over the budget (empty when the demonstrations fit)."""
    problems = []
    if len(demonstrations) > MAX_DEMONSTRATIONS:
        problems.append(f"{len(demonstrations)} demonstrations, at most {MAX_DEMONSTRATIONS}")
    for number, demo in enumerate(demonstrations, start=1):
        if len(demo.text) > MAX_DEMONSTRATION_CHARS:
            problems.append(
                f"demonstration {number} has {len(demo.text):,} characters, "
                f"at most {MAX_DEMONSTRATION_CHARS:,}"
            )
    total = sum(len(demo.text) for demo in demonstrations)
    if total > MAX_FEWSHOT_CHARS:
        problems.append(f"{total:,} characters in all, at most {MAX_FEWSHOT_CHARS:,}")
    return problems


def fit_budget(demonstrations: Demonstrations) -> tuple[Demonstrations, list[str]]:
    """The demonstrations within the budget, and why any were cut or dropped (in order)."""
    kept: list[Demonstration] = []
    reasons: list[str] = []
    total = 0
    for number, demo in enumerate(demonstrations, start=1):
        text = demo.text
        if len(text) > MAX_DEMONSTRATION_CHARS:
            text = text[: MAX_DEMONSTRATION_CHARS - 1] + "…"
            reasons.append(
                f"demonstration {number} ({demo.source}) cut to {MAX_DEMONSTRATION_CHARS:,} characters"
            )
        if len(kept) >= MAX_DEMONSTRATIONS:
            reasons.append(f"demonstration {number} ({demo.source}) dropped: at most {MAX_DEMONSTRATIONS}")
            continue
        if total + len(text) > MAX_FEWSHOT_CHARS:
            reasons.append(
                f"demonstration {number} ({demo.source}) dropped: "
                f"over {MAX_FEWSHOT_CHARS:,} characters in all"
            )
            continue
        kept.append(Demonstration(demo.source, text))
        total += len(text)
    return tuple(kept), reasons


def fewshot_document(demonstrations: Demonstrations, **extra: Any) -> dict[str, Any]:
    return {
        "format": FEWSHOT_FORMAT,
        "version": FEWSHOT_VERSION,
        "demonstrations": [demo.to_dict() for demo in demonstrations],
        **extra,
    }


def load_fewshot(path: Path) -> Demonstrations:
    """Read a demonstrations file; anything malformed or over the budget is one ConfigError line."""
    document = read_json_file(path, what="fewshot file", max_bytes=MAX_FEWSHOT_FILE_BYTES)
    advice = f"write {{'format': '{FEWSHOT_FORMAT}', 'demonstrations': [{{'source', 'text'}}, ...]}}"
    if not isinstance(document, dict) or document.get("format") != FEWSHOT_FORMAT:
        raise ConfigError(f'{path} is not a taugepa fewshot file (no "format": "{FEWSHOT_FORMAT}"): {advice}')
    items = document.get("demonstrations")
    if not isinstance(items, list):
        raise ConfigError(f"{path}: 'demonstrations' must be a list: {advice}")
    demonstrations = []
    for number, item in enumerate(items, start=1):
        fields = item if isinstance(item, dict) else {}
        if not (isinstance(fields.get("text"), str) and isinstance(fields.get("source"), str)):
            raise ConfigError(f"{path}: demonstration {number} needs a string 'source' and 'text': {advice}")
        if not item["text"].strip():
            raise ConfigError(f"{path}: demonstration {number} has no text")
        demonstrations.append(Demonstration(item["source"], item["text"]))
    problems = budget_problems(tuple(demonstrations))
    if problems:
        raise ConfigError(f"{path} is over the fewshot budget ({'; '.join(problems)}): shorten it")
    return tuple(demonstrations)


def fewshot_sha256(demonstrations: Demonstrations) -> str:
    payload = json.dumps([demo.to_dict() for demo in demonstrations], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def describe_fewshot(demonstrations: Demonstrations, path: str) -> dict[str, Any]:
    """What a scores file's run header records of the demonstrations."""
    return {
        "path": path,
        "count": len(demonstrations),
        "sources": [demo.source for demo in demonstrations],
        "chars": sum(len(demo.text) for demo in demonstrations),
        "sha256": fewshot_sha256(demonstrations),
    }
